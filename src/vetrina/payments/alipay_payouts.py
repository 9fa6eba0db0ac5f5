"""Merchants' payouts through Alipay: `alipay.fund.trans.uni.transfer` to the merchant's Alipay account.

Alipay offers that transfer only in public-key-certificate mode (the SDK's `DCAliPay`): the operator sets the app's
certificate, Alipay's certificate and Alipay's root certificate chain besides the app's private key. With only a key
pair, Alipay payouts are made by hand.

Every answer is believed only once its signature verifies with the key in Alipay's certificate. A transfer whose
outcome is unknown (no answer, an answer that does not verify, Alipay busy or still processing) raises
ProviderUnavailable: it is asked again later with the same `out_biz_no`, which Alipay transfers at most once.
Only a verified refusal raises PayoutRefused.
"""

from __future__ import annotations

import http.client
from decimal import Decimal
from pathlib import Path
from typing import Any

import OpenSSL
from alipay import DCAliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from vetrina.i18n import _
from vetrina.payments.gateways import PayoutRefused, ProviderUnavailable
from vetrina.payments.models import Payout
from vetrina.settings import Settings

CURRENCY = "CNY"  # Alipay transfers yuan only
TRANSFERRED = "10000"  # Alipay's code for a call that did what it was asked
SERVICE_UNAVAILABLE = "20000"  # the gateway could not serve the call: whether it transferred is unknown
# Alipay's word that the outcome is unknown: ask again with the same out_biz_no (its documented advice).
OUTCOME_UNKNOWN_SUB_CODES = {"SYSTEM_ERROR"}
# A verified answer's transfer status that says no money reached the payee (REFUND: it came back).
NOT_TRANSFERRED = {"FAIL", "REFUND"}


def read_pem(value: str) -> str:
    """A key or certificate setting's PEM text: the setting itself when it holds PEM, else the file it names."""
    if "-----BEGIN" in value:
        return value
    return Path(value).expanduser().read_text()


def alipay_payouts_possible(settings: Settings) -> bool:
    """Alipay is a configured provider and the three certificates of public-key-certificate mode are set."""
    return "alipay" in settings.funding_providers and all(
        (settings.alipay_app_cert, settings.alipay_cert, settings.alipay_root_cert)
    )


def out_biz_no(payout: Payout) -> str:
    """Our transfer number at Alipay: one per payout, so asking again never pays twice."""
    return f"payout-{payout.id}"


def yuan(fen: int) -> str:
    """Alipay's amount: yuan with two decimals, exactly ("12.30" for 1230 fen)."""
    return f"{Decimal(fen).scaleb(-2):f}"


def alipay_client(settings: Settings) -> Any:
    """The SDK's certificate-mode client, sending to VETRINA_ALIPAY_GATEWAY; ProviderUnavailable when the keys or
    certificates cannot be read (payouts then wait until the operator fixes them)."""
    try:
        client = DCAliPay(
            appid=settings.alipay_app_id,
            app_private_key_string=read_pem(settings.alipay_private_key),
            app_public_key_cert_string=read_pem(settings.alipay_app_cert),
            alipay_public_key_cert_string=read_pem(settings.alipay_cert),
            alipay_root_cert_string=read_pem(settings.alipay_root_cert),
            sign_type="RSA2",
        )
        # Read now, so that an unreadable certificate is reported here rather than in the middle of a transfer.
        if not (client.app_cert_sn and client.alipay_root_cert_sn):
            raise ValueError("the root certificate chain holds no RSA certificate")
    except (OSError, ValueError, IndexError, TypeError, OpenSSL.crypto.Error) as exc:
        raise ProviderUnavailable(
            _(
                "Alipay payouts cannot start: a key or certificate in VETRINA_ALIPAY_PRIVATE_KEY, "
                "VETRINA_ALIPAY_APP_CERT, VETRINA_ALIPAY_CERT or VETRINA_ALIPAY_ROOT_CERT cannot be read ({reason}).",
                reason=str(exc),
            )
        ) from exc
    # The SDK picks its gateway from its debug flag; the setting names it (the sandbox, or a test's server).
    client._gateway = settings.alipay_gateway
    return client


class AlipayPayouts:
    """Sends payouts to an Alipay account by its login id (ALIPAY_LOGON_ID) and the holder's real name."""

    name = "alipay"

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> AlipayPayouts:
        return cls(alipay_client(settings))

    def pay_out(self, payout: Payout, destination: str, name: str | None) -> str:
        """Transfer the payout; Alipay's order_id. PayoutRefused when Alipay verifiably refuses it (or it is not in
        yuan), ProviderUnavailable when its outcome is unknown."""
        if payout.currency != CURRENCY:
            raise PayoutRefused(
                _("Alipay pays out yuan (CNY) only; this payout is in {currency}.", currency=payout.currency)
            )
        try:
            answer = self.client.api_alipay_fund_trans_uni_transfer(
                out_biz_no=out_biz_no(payout),
                identity_type="ALIPAY_LOGON_ID",
                identity=destination,
                trans_amount=yuan(payout.amount),
                name=name,
                order_title=f"Vetrina payout {payout.id}",
            )
        except AliPayValidationError as exc:
            raise ProviderUnavailable(
                _(
                    "Alipay's answer does not carry Alipay's signature, so it is not believed; the transfer is asked "
                    "about again later."
                )
            ) from exc
        except AliPayException as exc:
            # An unsigned error answer: Alipay's gateway rejected the call (or someone claims it did).
            raise ProviderUnavailable(_("Alipay answered without a signature: {reason}", reason=str(exc))) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderUnavailable(_("Alipay could not be reached: {reason}", reason=str(exc))) from exc
        except (ValueError, AttributeError) as exc:
            raise ProviderUnavailable(_("Alipay's answer could not be read: {reason}", reason=str(exc))) from exc
        return _transfer_id(answer)


def _transfer_id(answer: dict[str, Any]) -> str:
    """Alipay's order_id from a verified answer, or why there is none."""
    code, sub_code = str(answer.get("code", "")), str(answer.get("sub_code", ""))
    reason = answer.get("sub_msg") or answer.get("msg") or _("no reason given")
    if code == TRANSFERRED:
        status = str(answer.get("status", "SUCCESS"))
        if status == "SUCCESS" and answer.get("order_id"):
            return str(answer["order_id"])
        if status in NOT_TRANSFERRED:
            raise PayoutRefused(
                _("Alipay did not make the transfer: {reason}", reason=answer.get("fail_reason") or reason)
            )
        raise ProviderUnavailable(
            _("Alipay has not finished the transfer (status {status}); it is asked again later.", status=status)
        )
    if code == SERVICE_UNAVAILABLE or sub_code in OUTCOME_UNKNOWN_SUB_CODES:
        raise ProviderUnavailable(
            _(
                "Alipay could not say whether it made the transfer ({code}): {reason}",
                code=sub_code or code,
                reason=reason,
            )
        )
    raise PayoutRefused(_("Alipay refused the payout: {reason} ({code})", reason=reason, code=sub_code or code))
