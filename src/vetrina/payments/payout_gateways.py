"""How a merchant's payout leaves: by a provider's transfer (Alipay in public-key-certificate mode, Stripe Connect)
or by hand (an admin makes the bank transfer and marks it paid)."""

from __future__ import annotations

from vetrina.context import Context
from vetrina.i18n import _
from vetrina.payments.alipay_payouts import CURRENCY as ALIPAY_CURRENCY
from vetrina.payments.alipay_payouts import AlipayPayouts, alipay_payouts_possible
from vetrina.payments.gateways import PayoutGateway, ProviderUnavailable
from vetrina.payments.models import PayoutAccount
from vetrina.payments.stripe_payouts import StripePayouts, stripe_payouts_possible

MANUAL = "manual"
ALIPAY = "alipay"
STRIPE = "stripe"


def payout_method(ctx: Context, account: PayoutAccount | None, currency: str | None = None) -> str:
    """`alipay`, `stripe` or `manual`: a provider only when it is configured for payouts and the merchant has an
    account there; Alipay first. Given the payout's `currency`, Alipay only for yuan (it pays out nothing else)."""
    if account is None:
        return MANUAL
    settings = ctx.settings
    if (
        account.alipay_identity
        and alipay_payouts_possible(settings)
        and (currency is None or currency == ALIPAY_CURRENCY)
    ):
        return ALIPAY
    if account.stripe_account and stripe_payouts_possible(settings):
        return STRIPE
    return MANUAL


def payout_gateway(ctx: Context, method: str) -> PayoutGateway:
    """The adapter that sends payouts of `method` (not `manual`: LookupError). ProviderUnavailable when that
    provider's payouts are not (or no longer) configured, or its keys cannot be read: the payout waits."""
    settings = ctx.settings
    if method == ALIPAY:
        if not alipay_payouts_possible(settings):
            raise ProviderUnavailable(
                _(
                    "Alipay payouts are not configured: they need alipay in VETRINA_FUNDING_PROVIDERS and "
                    "VETRINA_ALIPAY_APP_CERT, VETRINA_ALIPAY_CERT and VETRINA_ALIPAY_ROOT_CERT."
                )
            )
        return AlipayPayouts.from_settings(settings)
    if method == STRIPE:
        if not stripe_payouts_possible(settings):
            raise ProviderUnavailable(
                _("Stripe payouts are not configured: they need stripe in VETRINA_FUNDING_PROVIDERS.")
            )
        return StripePayouts.from_settings(settings)
    raise LookupError(f"no payout gateway for {method!r}: such payouts are made by hand")
