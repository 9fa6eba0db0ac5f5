"""Where top-up money comes from. The sandbox provider is the default; a real one implements the same interface."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from vetrina.errors import VetrinaError
from vetrina.money import Money


class PaymentDeclined(VetrinaError):
    status, slug, title = 402, "payment-declined", "Payment declined"


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
            raise PaymentDeclined(f"The sandbox declines top-ups over {Money(self.limit, amount.currency).display()}.")
        return FundingResult(provider_reference=f"sandbox_{secrets.token_hex(8)}")
