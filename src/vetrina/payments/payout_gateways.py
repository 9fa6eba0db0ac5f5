"""How a merchant's payout leaves: by a provider's transfer (Alipay in public-key-certificate mode, Stripe Connect)
or by hand (an admin makes the bank transfer and marks it paid)."""

from __future__ import annotations

from vetrina.context import Context
from vetrina.payments.gateways import PayoutGateway
from vetrina.payments.models import PayoutAccount

MANUAL = "manual"


def payout_method(ctx: Context, account: PayoutAccount | None) -> str:
    """`alipay`, `stripe` or `manual`: a provider only when it is configured for payouts and the merchant has an
    account there."""
    return MANUAL  # the provider transfers are being built (issue 15)


def payout_gateway(ctx: Context, method: str) -> PayoutGateway:
    """The adapter that sends payouts of `method` (not `manual`)."""
    raise LookupError(f"no payout gateway for {method!r} yet")
