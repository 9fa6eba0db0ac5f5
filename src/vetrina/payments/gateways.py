"""What a payment provider does for Vetrina: open a trade, say what became of it, refund, pay out.

Each provider's adapter (alipay_gateway, stripe_gateway) speaks its real API through its own SDK; `funding.gateway`
picks the configured one by name. Nothing here is provider-specific.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from vetrina.errors import VetrinaError
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments.models import Payout, ProviderPayment


class PayMethod(enum.StrEnum):
    page = "page"  # the provider's own payment page, in a new window
    qr = "qr"  # a QR code the buyer scans with a phone, shown beside the playing video


class NoticeKind(enum.StrEnum):
    succeeded = "succeeded"  # the money arrived
    failed = "failed"  # the trade ended without money (closed, declined, expired at the provider)
    refunded = "refunded"  # money went back to the buyer's source (our refund, confirmed)
    dispute_opened = "dispute_opened"  # the buyer's bank disputes the charge: freeze the amount
    dispute_won = "dispute_won"
    dispute_lost = "dispute_lost"
    payout_paid = "payout_paid"
    payout_failed = "payout_failed"


@dataclass(frozen=True)
class Notice:
    """A provider's verified word about a payment (or a payout), from a notification or from asking it."""

    provider: str
    event_id: str  # the provider's id for this notification: a repeat of it changes nothing
    kind: NoticeKind
    reference: str | None  # ours: ProviderPayment.reference (or Payout.id as text for payouts)
    provider_reference: str | None  # theirs: trade_no, PaymentIntent id
    amount: Money | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TradeRequest:
    reference: str
    amount: Money
    subject: str
    method: PayMethod
    return_url: str  # where the provider's page sends the buyer back
    notify_url: str  # where the provider posts its notification


@dataclass(frozen=True)
class Opened:
    provider_reference: str | None
    pay_url: str | None = None
    qr_code: str | None = None


class ForgedNotification(VetrinaError):
    status, slug, title = 400, "forged-notification", _("The notification's signature does not verify")


class ProviderUnavailable(VetrinaError):
    status, slug, title = 502, "provider-unavailable", _("The payment provider did not answer")


class Gateway(Protocol):
    name: str

    def check_currency(self, currency: str) -> None:
        """Raise InvalidInput (field `currency`) when the provider cannot take this currency."""
        ...

    def open(self, trade: TradeRequest) -> Opened:
        """Open the trade at the provider; raise ProviderUnavailable when it cannot be reached or refuses."""
        ...

    def query(self, payment: ProviderPayment) -> Notice | None:
        """Ask the provider what became of a trade left pending; None while it is still open."""
        ...

    def refund(self, payment: ProviderPayment, amount: Money, refund_reference: str) -> str:
        """Give `amount` of a succeeded payment back to its source; the provider's refund id. RefundRefused when the
        provider verifiably will not, ProviderUnavailable when the outcome is unknown (ask again, same reference)."""
        ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> list[Notice]:
        """The verified notices in a notification (none for an event Vetrina ignores); ForgedNotification when its
        signature does not verify."""
        ...


class PayoutGateway(Protocol):
    name: str

    def pay_out(self, payout: Payout, destination: str, name: str | None) -> str:
        """Send a payout; the provider's transfer id. Raise ProviderUnavailable (retry later) or PayoutRefused."""
        ...


class RefundRefused(VetrinaError):
    """The provider's verified answer: it will not refund (unlike ProviderUnavailable, where it may have)."""

    status, slug, title = 422, "refund-refused", _("The provider refused the refund")


class PayoutRefused(VetrinaError):
    status, slug, title = 422, "payout-refused", _("The provider refused the payout")
