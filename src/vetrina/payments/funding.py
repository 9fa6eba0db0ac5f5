"""Where top-up money comes from: only the providers the operator configured (`VETRINA_FUNDING_PROVIDERS`).

With none configured no money can enter a wallet (no money from nowhere); the sandbox is for development and tests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from vetrina.context import Context
from vetrina.errors import Conflict, InvalidInput, VetrinaError
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments.alipay_gateway import AlipayGateway
from vetrina.payments.gateways import Gateway
from vetrina.payments.stripe_gateway import StripeGateway


class PaymentDeclined(VetrinaError):
    status, slug, title = 402, "payment-declined", _("Payment declined")


class NoFundingProvider(Conflict):
    slug, title = "no-funding-provider", _("No funding provider is configured")


@dataclass(frozen=True)
class FundingResult:
    provider_reference: str


class FundingProvider(Protocol):
    name: str

    def charge(self, user_id: int, amount: Money, idempotency_key: str) -> FundingResult:
        """Take `amount` from the user's outside means of payment; raise PaymentDeclined when refused."""
        ...


class SandboxFundingProvider:
    """Approves every top-up up to a limit, like a test card; nothing leaves this machine."""

    name = "sandbox"

    def __init__(self, limit_minor_units: int) -> None:
        self.limit = limit_minor_units

    def charge(self, user_id: int, amount: Money, idempotency_key: str) -> FundingResult:
        if amount.amount > self.limit:
            raise PaymentDeclined(
                _("The sandbox declines top-ups over {limit}.", limit=Money(self.limit, amount.currency).display())
            )
        return FundingResult(provider_reference=f"sandbox_{secrets.token_hex(8)}")


def chosen_provider(ctx: Context, name: str | None = None) -> str:
    """The configured provider called `name` (the first configured one when not given); 409 when the operator has
    configured none, 422 when `name` is not among them."""
    configured = ctx.settings.funding_providers
    if not configured:
        raise NoFundingProvider(
            _(
                "No money can be added here: the operator has configured no funding provider. Set "
                "VETRINA_FUNDING_PROVIDERS, e.g. '[\"alipay\"]' with its keys, or '[\"sandbox\"]' for development "
                "(sandbox money is not real)."
            )
        )
    chosen = name or configured[0]
    if chosen not in configured:
        raise InvalidInput(_("Pay with one of {providers}.", providers=", ".join(configured)), field="provider")
    return chosen


def funding_provider(ctx: Context, name: str | None = None) -> FundingProvider:
    """The sandbox, which settles at once, when it is the provider chosen; the real ones settle by notification
    (`gateway`)."""
    chosen = chosen_provider(ctx, name)
    if chosen != "sandbox":
        raise InvalidInput(
            _("{provider} settles by notification: open a payment with it instead.", provider=chosen), field="provider"
        )
    return SandboxFundingProvider(ctx.settings.sandbox_topup_limit)


def gateway(ctx: Context, name: str) -> Gateway:
    """The adapter of a configured real provider."""
    chosen = chosen_provider(ctx, name)
    if chosen == "alipay":
        return AlipayGateway.from_settings(ctx.settings)
    if chosen == "stripe":
        return StripeGateway.from_settings(ctx.settings)
    raise InvalidInput(_("The sandbox settles at once: it opens no trade."), field="provider")


def uses_sandbox_money(ctx: Context) -> bool:
    """Whether the sandbox is configured: then every page says that its money is not real."""
    return "sandbox" in ctx.settings.funding_providers
