"""Merchants' payouts through the providers: Alipay transfers in public-key-certificate mode and Stripe Connect
transfers, through the real SDKs, against loopback servers that answer as Alipay's gateway and Stripe's API do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers import free_port
from tests.payments.alipay_cert_server import AlipayTransferGateway, ThrowawayCA, make_ca, private_pem, rsa_key
from tests.payments.stripe_connect_server import StripeConnectApi
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.gateways import PayoutGateway, PayoutRefused, ProviderUnavailable
from vetrina.payments.models import AccountKind, Payout, PayoutAccount, PayoutState
from vetrina.payments.payout_gateways import payout_gateway, payout_method
from vetrina.runtime import build_context
from vetrina.settings import Settings

APP_ID = "2021000000000001"
PAYEE, PAYEE_NAME = "shop-owner@example.com", "张三"
STRIPE_KEY = "sk_test_" + "p" * 24
CONNECTED = "acct_1PayoutsTest000"


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return make_ca(APP_ID)


@pytest.fixture
def alipay(ca: ThrowawayCA) -> Iterator[AlipayTransferGateway]:
    gateway = AlipayTransferGateway(ca, APP_ID, payees={PAYEE: PAYEE_NAME}, balance_fen=1_000_000)
    yield gateway
    gateway.close()


@pytest.fixture
def stripe_api() -> Iterator[StripeConnectApi]:
    api = StripeConnectApi(
        STRIPE_KEY, connected_accounts={CONNECTED}, balance={"eur": 500_000, "cny": 500_000, "huf": 500_000}
    )
    yield api
    api.close()


@pytest.fixture
def settings(settings: Settings, ca: ThrowawayCA, alipay: AlipayTransferGateway, stripe_api: StripeConnectApi):
    """Both providers configured for payouts; certificates given both ways the settings take them (text, file)."""
    keys = settings.data_dir.parent / "alipay"
    keys.mkdir()
    (keys / "appCertPublicKey.crt").write_text(ca.app_cert_pem)
    (keys / "alipayRootCert.crt").write_text(ca.root_chain_pem)
    return settings.model_copy(
        update={
            "funding_providers": ["alipay", "stripe"],
            "alipay_app_id": APP_ID,
            "alipay_private_key": ca.app_key_pem,
            "alipay_public_key": ca.alipay_public_key_pem,
            "alipay_gateway": alipay.url,
            "alipay_app_cert": str(keys / "appCertPublicKey.crt"),
            "alipay_cert": ca.alipay_cert_pem,
            "alipay_root_cert": str(keys / "alipayRootCert.crt"),
            "stripe_secret_key": STRIPE_KEY,
            "stripe_webhook_secret": "whsec_test",
            "stripe_api_base": stripe_api.url,
        }
    )


def payout_row(ctx: Context, merchant_id: int, amount: Money, method: str, destination: str) -> Payout:
    """A requested payout as the payout service leaves it: released sales held in the ledger for it."""
    with ctx.db.session(write=True) as session:
        payable = ledger.account(session, AccountKind.merchant_payable, merchant_id, amount.currency)
        outside = ledger.platform_account(session, AccountKind.funding, amount.currency)
        ledger.transfer(session, outside, payable, amount, "release", f"sale-for-payout-test-{merchant_id}")
        payouts = ledger.platform_account(session, AccountKind.payouts, amount.currency)
        held = ledger.hold(session, payable, payouts, amount, "payout", f"payout-test-{merchant_id}")
        payout = Payout(
            merchant_id=merchant_id,
            amount=amount.amount,
            currency=amount.currency,
            method=method,
            destination=destination,
            state=PayoutState.requested.value,
            pending_transfer_id=held.id,
            created_at=clock.now(),
        )
        session.add(payout)
        session.flush()
        session.expunge(payout)
    return payout


def account_row(merchant_id: int, alipay_identity: str | None = None, stripe_account: str | None = None):
    name = PAYEE_NAME if alipay_identity else None
    return PayoutAccount(
        merchant_id=merchant_id,
        alipay_identity=alipay_identity,
        alipay_name=name,
        stripe_account=stripe_account,
        bank_details="",
        updated_at=clock.now(),
    )


@contextmanager
def site_with(settings: Settings, **changes: object) -> Iterator[Context]:
    """Another process of the same site with some settings changed (over the same, migrated database)."""
    site = build_context(settings.model_copy(update=changes), migrate=False)
    try:
        yield site
    finally:
        site.close()


def alipay_payouts(ctx: Context) -> PayoutGateway:
    return payout_gateway(ctx, "alipay")


# Alipay


def test_an_alipay_payout_is_a_signed_certificate_mode_transfer_paid_once_however_often_it_is_asked(
    ctx, make_account, alipay
):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(1230, "CNY"), "alipay", PAYEE)
    gateway = alipay_payouts(ctx)

    order_id = gateway.pay_out(payout, PAYEE, PAYEE_NAME)

    assert order_id == alipay.transfers[f"payout-{payout.id}"]["order_id"]
    assert alipay.received == {PAYEE: 1230} and alipay.rejected == []
    sent = alipay.requests[0]
    assert sent["method"] == "alipay.fund.trans.uni.transfer" and sent["app_id"] == APP_ID
    assert json.loads(sent["biz_content"]) == {
        "out_biz_no": f"payout-{payout.id}",
        "trans_amount": "12.30",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "payee_info": {"identity": PAYEE, "identity_type": "ALIPAY_LOGON_ID", "name": PAYEE_NAME},
        "order_title": f"Vetrina payout {payout.id}",
    }
    # Asked again (its first answer lost, say): the same order, and the money went once.
    assert gateway.pay_out(payout, PAYEE, PAYEE_NAME) == order_id
    assert alipay.received == {PAYEE: 1230}


def test_alipays_refusal_is_payout_refused_with_its_reason_and_nothing_leaves(ctx, make_account, alipay):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(5000, "CNY"), "alipay", PAYEE)
    gateway = alipay_payouts(ctx)

    with pytest.raises(PayoutRefused, match="支付宝账号和姓名不匹配") as wrong_name:
        gateway.pay_out(payout, PAYEE, "李四")
    assert "PAYEE_USER_INFO_ERROR" in wrong_name.value.detail
    with pytest.raises(PayoutRefused, match="收款账号不存在"):
        gateway.pay_out(payout, "nobody@example.com", PAYEE_NAME)
    alipay.balance_fen = 4999
    with pytest.raises(PayoutRefused, match="付款方余额不足"):
        gateway.pay_out(payout, PAYEE, PAYEE_NAME)
    assert alipay.received == {} and alipay.rejected == [] and len(alipay.requests) == 3


def test_an_alipay_payout_in_another_currency_is_refused_without_asking_alipay(ctx, make_account, alipay):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(5000, "EUR"), "alipay", PAYEE)
    with pytest.raises(PayoutRefused, match="CNY"):
        alipay_payouts(ctx).pay_out(payout, PAYEE, PAYEE_NAME)
    assert alipay.requests == []


def test_a_forged_alipay_answer_is_believed_neither_as_paid_nor_as_refused(ctx, make_account, alipay):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(2000, "CNY"), "alipay", PAYEE)
    gateway = alipay_payouts(ctx)
    alipay.answer_key = rsa_key()  # answers signed by someone other than Alipay

    with pytest.raises(ProviderUnavailable, match="signature"):
        gateway.pay_out(payout, "nobody@example.com", PAYEE_NAME)  # a refusal, forged
    with pytest.raises(ProviderUnavailable, match="signature"):
        gateway.pay_out(payout, PAYEE, PAYEE_NAME)  # a success, forged: the outcome is unknown to us

    # The transfer did happen behind the forged answer; asked again with Alipay's own signature, it is found.
    alipay.answer_key = alipay.ca.alipay_key
    assert gateway.pay_out(payout, PAYEE, PAYEE_NAME) == alipay.transfers[f"payout-{payout.id}"]["order_id"]
    assert alipay.received == {PAYEE: 2000}


def test_an_alipay_transfer_of_unknown_outcome_waits_and_asking_again_pays_once(ctx, make_account, alipay):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(3000, "CNY"), "alipay", PAYEE)
    gateway = alipay_payouts(ctx)

    alipay.busy = True  # Alipay's SYSTEM_ERROR: it cannot say whether it transferred
    with pytest.raises(ProviderUnavailable, match="SYSTEM_ERROR"):
        gateway.pay_out(payout, PAYEE, PAYEE_NAME)
    alipay.busy, alipay.outage = False, True  # a 502 page from in front of the gateway
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        gateway.pay_out(payout, PAYEE, PAYEE_NAME)
    alipay.outage = False
    order_id = gateway.pay_out(payout, PAYEE, PAYEE_NAME)
    assert gateway.pay_out(payout, PAYEE, PAYEE_NAME) == order_id
    assert alipay.received == {PAYEE: 3000}


def test_an_unreachable_alipay_is_provider_unavailable(settings, ctx, make_account):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(3000, "CNY"), "alipay", PAYEE)
    with site_with(settings, alipay_gateway=f"http://127.0.0.1:{free_port()}/gateway.do") as nowhere:
        gateway = alipay_payouts(nowhere)
        with pytest.raises(ProviderUnavailable, match="could not be reached"):
            gateway.pay_out(payout, PAYEE, PAYEE_NAME)


def test_alipay_rejects_a_request_not_signed_by_the_key_of_the_apps_certificate(settings, ctx, make_account, alipay):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(3000, "CNY"), "alipay", PAYEE)
    with site_with(settings, alipay_private_key=private_pem(rsa_key())) as other_key:
        gateway = alipay_payouts(other_key)
        # Alipay's unsigned rejection proves nothing either way: the payout waits for the operator's fix.
        with pytest.raises(ProviderUnavailable, match="without a signature"):
            gateway.pay_out(payout, PAYEE, PAYEE_NAME)
    assert alipay.rejected == ["isv.invalid-signature"] and alipay.received == {}


def test_unreadable_or_missing_alipay_certificates_leave_payouts_waiting(settings, tmp_path):
    with (
        site_with(settings, alipay_cert=str(tmp_path / "absent.crt")) as missing,
        pytest.raises(ProviderUnavailable, match="VETRINA_ALIPAY_CERT"),
    ):
        payout_gateway(missing, "alipay")
    with site_with(settings, alipay_root_cert="") as key_pair_only:
        with pytest.raises(ProviderUnavailable, match="not configured"):
            payout_gateway(key_pair_only, "alipay")
        with pytest.raises(LookupError):
            payout_gateway(key_pair_only, "manual")


# Which way a payout leaves


CERTIFICATES = ("alipay_app_cert", "alipay_cert", "alipay_root_cert")


# (funding providers, settings left empty, the merchant's Alipay login, its Stripe account, currency) -> method
CHOICES = [
    (["alipay", "stripe"], (), PAYEE, CONNECTED, None, "alipay"),
    (["alipay", "stripe"], (), PAYEE, CONNECTED, "CNY", "alipay"),
    (["alipay", "stripe"], (), PAYEE, CONNECTED, "EUR", "stripe"),  # Alipay transfers yuan only
    (["alipay", "stripe"], (), PAYEE, None, "EUR", "manual"),
    (["alipay", "stripe"], (), None, CONNECTED, None, "stripe"),
    (["alipay", "stripe"], (), None, None, None, "manual"),
    (["alipay", "stripe"], ("alipay_cert",), PAYEE, CONNECTED, None, "stripe"),  # a key pair only
    (["alipay", "stripe"], CERTIFICATES, PAYEE, None, None, "manual"),
    (["stripe"], (), PAYEE, CONNECTED, None, "stripe"),  # Alipay not a configured provider
    (["alipay"], (), None, CONNECTED, None, "manual"),  # Stripe not configured
    (["alipay"], (), PAYEE, CONNECTED, None, "alipay"),
    (["sandbox"], (), PAYEE, CONNECTED, None, "manual"),
    ([], (), PAYEE, CONNECTED, None, "manual"),
]


def test_a_payout_leaves_through_a_provider_only_when_it_is_set_up_for_payouts_and_the_merchant_has_an_account_there(
    settings,
):
    for providers, cleared, identity, connected, currency, expected in CHOICES:
        case = f"{providers} without {cleared}, Alipay {identity}, Stripe {connected}, {currency}"
        with site_with(settings, funding_providers=providers, **dict.fromkeys(cleared, "")) as site:
            assert payout_method(site, account_row(7, identity, connected), currency) == expected, case
            assert payout_method(site, None, currency) == "manual", case


# Stripe


def test_a_stripe_payout_is_a_connect_transfer_made_once_per_payout(ctx, make_account, stripe_api):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(4250, "EUR"), "stripe", CONNECTED)
    gateway = payout_gateway(ctx, payout_method(ctx, account_row(merchant.user.id, None, CONNECTED), "EUR"))

    transfer_id = gateway.pay_out(payout, CONNECTED, None)

    assert transfer_id.startswith("tr_") and stripe_api.received == {CONNECTED: 4250}
    headers, form = stripe_api.requests[0]
    assert headers["idempotency-key"] == f"payout-{payout.id}" and headers["stripe-version"]
    assert form["amount"] == "4250" and form["currency"] == "eur" and form["destination"] == CONNECTED
    assert form["metadata[vetrina_payout_id]"] == str(payout.id)
    assert form["metadata[vetrina_merchant_id]"] == str(merchant.user.id)
    # Asked again: Stripe replays the first transfer for the same idempotency key.
    assert gateway.pay_out(payout, CONNECTED, None) == transfer_id
    assert stripe_api.received == {CONNECTED: 4250}


def test_a_stripe_payout_in_a_zero_decimal_currency_stripe_counts_in_hundredths_is_sent_whole(
    ctx, make_account, stripe_api
):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(100, "HUF"), "stripe", CONNECTED)  # 100 forints
    gateway = payout_gateway(ctx, "stripe")
    gateway.pay_out(payout, CONNECTED, None)
    _headers, form = stripe_api.requests[0]
    assert form["amount"] == "10000" and form["currency"] == "huf"


def test_stripes_refusal_is_payout_refused_with_its_message(ctx, make_account, stripe_api):
    merchant = make_account(Role.merchant)
    gateway = payout_gateway(ctx, "stripe")
    unknown = payout_row(ctx, merchant.user.id, Money(1000, "EUR"), "stripe", "acct_nobody")
    with pytest.raises(PayoutRefused, match="No such destination"):
        gateway.pay_out(unknown, "acct_nobody", None)
    too_much = payout_row(ctx, merchant.user.id, Money(600_000, "EUR"), "stripe", CONNECTED)
    with pytest.raises(PayoutRefused, match="insufficient available funds"):
        gateway.pay_out(too_much, CONNECTED, None)
    assert stripe_api.received == {}


def test_a_stripe_transfer_of_unknown_outcome_waits(settings, ctx, make_account, stripe_api):
    merchant = make_account(Role.merchant)
    payout = payout_row(ctx, merchant.user.id, Money(1000, "EUR"), "stripe", CONNECTED)
    gateway = payout_gateway(ctx, "stripe")
    stripe_api.outage = True
    with pytest.raises(ProviderUnavailable, match="500"):
        gateway.pay_out(payout, CONNECTED, None)
    stripe_api.outage = False
    transfer_id = gateway.pay_out(payout, CONNECTED, None)
    # The same key with other parameters (the merchant changed accounts meanwhile): the first may have paid.
    with pytest.raises(ProviderUnavailable, match="same parameters"):
        gateway.pay_out(payout, "acct_1SomewhereElse", None)
    assert stripe_api.received == {CONNECTED: 1000} and transfer_id.startswith("tr_")

    with site_with(settings, stripe_api_base=f"http://127.0.0.1:{free_port()}") as nowhere:
        gateway = payout_gateway(nowhere, "stripe")
        with pytest.raises(ProviderUnavailable, match="could not be reached"):
            gateway.pay_out(payout, CONNECTED, None)
