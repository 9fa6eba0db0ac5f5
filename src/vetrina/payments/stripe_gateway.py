"""Stripe as a funding provider: a Checkout Session per payment, opened in a new window, credited only by the
verified webhook.

Stripe.js is never loaded (it would break the pages' Content-Security-Policy): the buyer pays on Stripe's own
Checkout page. The webhook's events become `Notice`s keyed by our reference (`client_reference_id`) for the
session's events, and by the PaymentIntent id for the charge's later events (refunds, disputes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import stripe
from babel.numbers import get_currency_precision

from vetrina import clock
from vetrina.errors import Conflict, InvalidInput
from vetrina.i18n import _
from vetrina.money import Money, check_currency
from vetrina.payments.gateways import (
    ForgedNotification,
    Notice,
    NoticeKind,
    Opened,
    PayMethod,
    ProviderUnavailable,
    RefundRefused,
    TradeRequest,
)
from vetrina.payments.models import ProviderPayment
from vetrina.settings import Settings

# A buyer waits on open(): a clear 502 after this beats a page hanging for the SDK's default 80 s.
TIMEOUT_S = 20
# Stripe lets a Checkout Session live between 30 minutes and 24 hours: a minute inside, for clock skew.
SESSION_MINUTES = (31, 24 * 60 - 1)
# Stripe's own minor units where they differ from two decimals (docs.stripe.com/currencies).
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def _stripe_digits(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def _scale(currency: str) -> int:
    """Stripe units per Vetrina minor unit (ISO 4217 digits, as Babel has them): 1, or 100 for e.g. ISK and HUF,
    which Stripe counts in hundredths."""
    extra = _stripe_digits(currency) - int(get_currency_precision(currency))
    if extra < 0:
        raise InvalidInput(
            _("Stripe cannot take {currency} amounts to the unit Vetrina counts.", currency=currency), field="currency"
        )
    return (1, 10, 100, 1000)[extra]


def to_stripe(money: Money) -> int:
    return money.amount * _scale(money.currency)


def from_stripe(amount: Any, currency: Any) -> Money | None:
    """Stripe's amount as Money; None when it is missing or not a whole number of our minor units."""
    if not isinstance(amount, int) or not isinstance(currency, str):
        return None
    try:
        code = check_currency(currency)
        whole, rest = divmod(amount, _scale(code))
    except InvalidInput:
        return None
    return Money(whole, code) if rest == 0 else None


def _text(value: Any) -> str | None:
    """An id field, which Stripe may also send expanded into its object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _unavailable(action: str, exc: stripe.StripeError) -> ProviderUnavailable:
    """Stripe did not do `action`: a whole sentence for each action (word order differs by language)."""
    if isinstance(exc, stripe.APIConnectionError):
        unreachable = {
            "open the payment": _("Stripe could not be reached to open the payment; try again shortly."),
            "say what became of the payment": _(
                "Stripe could not be reached to say what became of the payment; try again shortly."
            ),
            "refund the payment": _("Stripe could not be reached to refund the payment; try again shortly."),
        }
        return ProviderUnavailable(unreachable[action])
    status, reason = exc.http_status or _("no status"), exc.user_message or _("no reason given")
    refused = {
        "open the payment": _("Stripe refused to open the payment ({status}): {reason}", status=status, reason=reason),
        "say what became of the payment": _(
            "Stripe refused to say what became of the payment ({status}): {reason}", status=status, reason=reason
        ),
        "refund the payment": _(
            "Stripe refused to refund the payment ({status}): {reason}", status=status, reason=reason
        ),
    }
    return ProviderUnavailable(refused[action])


class StripeGateway:
    name = "stripe"

    def __init__(
        self, api_key: str, webhook_secret: str, api_base: str, tolerance_s: int, session_minutes: int
    ) -> None:
        # No SDK retries: a failed open marks the payment failed at once and the buyer starts again.
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=stripe.RequestsClient(timeout=TIMEOUT_S),
            max_network_retries=0,
        )
        self.webhook_secret = webhook_secret
        self.tolerance_s = tolerance_s
        self.session_minutes = min(max(session_minutes, SESSION_MINUTES[0]), SESSION_MINUTES[1])

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        return cls(
            settings.stripe_secret_key,
            settings.stripe_webhook_secret,
            settings.stripe_api_base,
            settings.stripe_webhook_tolerance_s,
            settings.provider_payment_timeout_minutes,
        )

    def check_currency(self, currency: str) -> None:
        _scale(check_currency(currency))

    def open(self, trade: TradeRequest) -> Opened:
        """A Checkout Session for the trade; a retry with the same reference gets the same session back."""
        metadata = {"vetrina_reference": trade.reference}
        expires = clock.now() + timedelta(minutes=self.session_minutes)
        try:
            session = self.client.v1.checkout.sessions.create(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": trade.amount.currency.lower(),
                                "unit_amount": to_stripe(trade.amount),
                                "product_data": {"name": trade.subject},
                            },
                        }
                    ],
                    "client_reference_id": trade.reference,
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": trade.return_url,
                    "cancel_url": trade.return_url,
                    # Closed at Stripe when ours is given up (VETRINA_PROVIDER_PAYMENT_TIMEOUT_MINUTES).
                    "expires_at": int(expires.timestamp()),
                },
                {"idempotency_key": trade.reference},
            )
        except stripe.StripeError as exc:
            raise _unavailable("open the payment", exc) from exc
        url = session.url
        if not session.id or not url:
            raise ProviderUnavailable(_("Stripe opened a Checkout Session without a payment page."))
        if trade.method == PayMethod.qr:
            # Stripe has no QR trade: the page shows the Checkout URL as a QR code, to open on a phone.
            return Opened(provider_reference=session.id, pay_url=url, qr_code=url)
        return Opened(provider_reference=session.id, pay_url=url)

    def query(self, payment: ProviderPayment) -> Notice | None:
        """What became of the payment's Checkout Session (by its id, or by the PaymentIntent it made)."""
        ref = payment.provider_reference or ""
        try:
            if ref.startswith("cs_"):
                found: dict[str, Any] | None = self.client.v1.checkout.sessions.retrieve(ref).to_dict()
            elif ref.startswith("pi_"):
                listed = self.client.v1.checkout.sessions.list({"payment_intent": ref, "limit": 1}).to_dict()
                found = next(iter(listed.get("data") or []), None)
            else:
                return None
        except stripe.StripeError as exc:
            raise _unavailable("say what became of the payment", exc) from exc
        if found is None:
            return None
        session_id = str(found.get("id"))
        if found.get("status") == "complete" and found.get("payment_status") == "paid":
            return self._session_notice(f"query:{session_id}", NoticeKind.succeeded, found, {"query": found})
        if found.get("status") == "expired":
            return self._session_notice(f"query:{session_id}:expired", NoticeKind.failed, found, {"query": found})
        return None

    def refund(self, payment: ProviderPayment, amount: Money, refund_reference: str) -> str:
        """A Stripe Refund of the payment's PaymentIntent; retried with the same reference, the same refund."""
        intent = payment.provider_reference or ""
        if not intent.startswith("pi_"):
            raise Conflict(_("This Stripe payment has not been charged, so there is nothing to refund."))
        try:
            refund = self.client.v1.refunds.create(
                {
                    "payment_intent": intent,
                    "amount": to_stripe(amount),
                    "metadata": {"vetrina_refund": refund_reference},
                },
                {"idempotency_key": refund_reference},
            )
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            raise RefundRefused(_("Stripe refused the refund: {reason}", reason=exc.user_message or exc.code)) from exc
        except stripe.StripeError as exc:
            raise _unavailable("refund the payment", exc) from exc
        return refund.id

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> list[Notice]:
        """The webhook's event, verified with the endpoint's secret and timestamp tolerance, as notices."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ForgedNotification(_("This is not a Stripe event: its body is not UTF-8.")) from None
        try:
            event = self.client.construct_event(
                text, headers.get("stripe-signature"), self.webhook_secret, self.tolerance_s
            )
        except stripe.SignatureVerificationError as exc:
            raise ForgedNotification(
                _("The Stripe-Signature does not verify: {reason}", reason=exc.user_message)
            ) from None
        except ValueError:
            raise InvalidInput(_("The body is not a Stripe event.")) from None
        raw = event.to_dict()
        data = raw.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or not isinstance(raw.get("id"), str):
            raise InvalidInput(_("The Stripe event has no id or object."))
        notice = self._notice(raw["id"], str(raw.get("type")), obj, raw)
        return [notice] if notice else []

    def _notice(self, event_id: str, kind: str, obj: dict[str, Any], raw: dict[str, Any]) -> Notice | None:
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            # A completed session with a delayed method (a bank debit) is paid only at async_payment_succeeded.
            if obj.get("payment_status") != "paid":
                return None
            return self._session_notice(event_id, NoticeKind.succeeded, obj, raw)
        if kind in ("checkout.session.expired", "checkout.session.async_payment_failed"):
            return self._session_notice(event_id, NoticeKind.failed, obj, raw)
        if kind == "charge.refunded":
            return self._intent_notice(event_id, NoticeKind.refunded, obj, "amount_refunded", raw)
        if kind == "charge.dispute.created":
            return self._intent_notice(event_id, NoticeKind.dispute_opened, obj, "amount", raw)
        if kind == "charge.dispute.closed":
            outcome = {"won": NoticeKind.dispute_won, "lost": NoticeKind.dispute_lost}.get(str(obj.get("status")))
            # Other endings (an inquiry's warning_closed) moved no money.
            return self._intent_notice(event_id, outcome, obj, "amount", raw) if outcome else None
        return None

    def _session_notice(self, event_id: str, kind: NoticeKind, session: dict[str, Any], raw: dict[str, Any]) -> Notice:
        metadata = session.get("metadata")
        ours = _text(metadata.get("vetrina_reference")) if isinstance(metadata, dict) else None
        # Both, as open() set them: anyone may put a client_reference_id on a Payment Link's URL, not its metadata.
        reference = ours if ours is not None and ours == _text(session.get("client_reference_id")) else None
        return Notice(
            provider=self.name,
            event_id=event_id,
            kind=kind,
            reference=reference,
            provider_reference=_text(session.get("payment_intent")),
            amount=from_stripe(session.get("amount_total"), session.get("currency")),
            raw=raw,
        )

    def _intent_notice(
        self, event_id: str, kind: NoticeKind, obj: dict[str, Any], amount_field: str, raw: dict[str, Any]
    ) -> Notice | None:
        """A charge's event: ours only through its PaymentIntent, which the success notice stored on the payment."""
        intent = _text(obj.get("payment_intent"))
        if intent is None:
            return None
        amount = from_stripe(obj.get(amount_field), obj.get("currency"))
        return Notice(self.name, event_id, kind, None, intent, amount, raw)
