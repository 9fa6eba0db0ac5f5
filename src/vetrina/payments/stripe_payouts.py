"""Merchants' payouts through Stripe Connect: a Transfer from the platform's Stripe balance to the merchant's
connected account (`acct_...`); Stripe then pays the connected account out to its bank on its own schedule.

Each payout's transfer carries the idempotency key `payout-{id}`, so asking again after an unknown outcome (no
answer, a 5xx, a 409 while the first request is still in flight) never transfers twice: that is ProviderUnavailable.
A request Stripe refused outright (a 4xx: no such destination, insufficient balance) is PayoutRefused.
"""

from __future__ import annotations

import stripe

from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments.gateways import PayoutRefused, ProviderUnavailable
from vetrina.payments.models import Payout
from vetrina.payments.stripe_gateway import to_stripe
from vetrina.settings import Settings

# The SDK's own quick retries (same idempotency key) before the payout is left for a later attempt.
NETWORK_RETRIES = 1


def stripe_payouts_possible(settings: Settings) -> bool:
    return "stripe" in settings.funding_providers and bool(settings.stripe_secret_key)


def idempotency_key(payout: Payout) -> str:
    return f"payout-{payout.id}"


class StripePayouts:
    """Sends payouts as Stripe Connect transfers to a connected account id."""

    name = "stripe"

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> StripePayouts:
        client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses={"api": settings.stripe_api_base},
            max_network_retries=NETWORK_RETRIES,
        )
        return cls(client)

    def pay_out(self, payout: Payout, destination: str, name: str | None) -> str:
        """Transfer the payout to `destination` (acct_...); Stripe's transfer id (tr_...)."""
        try:
            amount = to_stripe(Money(payout.amount, payout.currency))  # ISK, HUF: Stripe counts hundredths
        except InvalidInput as exc:
            raise PayoutRefused(exc.detail) from exc
        params: stripe.params.TransferCreateParams = {
            "amount": amount,
            "currency": payout.currency.lower(),
            "destination": destination,
            "description": f"Vetrina payout {payout.id}",
            "transfer_group": idempotency_key(payout),
            "metadata": {"vetrina_payout_id": str(payout.id), "vetrina_merchant_id": str(payout.merchant_id)},
        }
        try:
            transfer = self.client.v1.transfers.create(params, {"idempotency_key": idempotency_key(payout)})
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            # IdempotencyError is not among these: the key's first request may have transferred, so it is asked again.
            raise PayoutRefused(
                _("Stripe refused the transfer: {reason}", reason=exc.user_message or exc.code)
            ) from exc
        except stripe.APIConnectionError as exc:
            raise ProviderUnavailable(_("Stripe could not be reached: {reason}", reason=exc.user_message)) from exc
        except stripe.StripeError as exc:
            # 5xx, 409 (the same key in flight), rate limits, a rejected API key: nothing known to be refused.
            status = exc.http_status or _("no status")
            raise ProviderUnavailable(
                _("Stripe did not take the transfer ({status}): {reason}", status=status, reason=exc.user_message)
            ) from exc
        return transfer.id
