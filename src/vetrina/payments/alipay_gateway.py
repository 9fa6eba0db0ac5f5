"""Alipay as a funding provider (being built: issue 15)."""

from __future__ import annotations

from collections.abc import Mapping

from vetrina.errors import InvalidInput
from vetrina.money import Money
from vetrina.payments.gateways import Notice, Opened, ProviderUnavailable, TradeRequest
from vetrina.payments.models import ProviderPayment
from vetrina.settings import Settings


class AlipayGateway:
    name = "alipay"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> AlipayGateway:
        return cls(settings)

    def check_currency(self, currency: str) -> None:
        raise InvalidInput("Alipay is not built yet.", field="provider")

    def open(self, trade: TradeRequest) -> Opened:
        raise ProviderUnavailable("Alipay is not built yet.")

    def query(self, payment: ProviderPayment) -> Notice | None:
        raise ProviderUnavailable("Alipay is not built yet.")

    def refund(self, payment: ProviderPayment, amount: Money, refund_reference: str) -> str:
        raise ProviderUnavailable("Alipay is not built yet.")

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> list[Notice]:
        raise ProviderUnavailable("Alipay is not built yet.")
