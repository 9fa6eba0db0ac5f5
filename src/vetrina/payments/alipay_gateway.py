"""Alipay as a funding provider, through python-alipay-sdk (RSA2): page payments, QR payments (precreate), trade
queries, refunds, and the verified asynchronous notification.

Alipay takes CNY only here. The SDK fixes its gateway from its debug flag; we set it from VETRINA_ALIPAY_GATEWAY.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.error import URLError
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments.alipay_payouts import read_pem
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

log = logging.getLogger(__name__)
CURRENCY = "CNY"
SUCCESS = "10000"  # Alipay's code for a call that did what was asked
TIMEOUT_S = 10
PAID = {"TRADE_SUCCESS", "TRADE_FINISHED"}
BUSY = "20000"  # the gateway could not serve the call: whether it acted is unknown
OUTCOME_UNKNOWN = {"SYSTEM_ERROR", "ACQ.SYSTEM_ERROR"}  # ask again with the same out_request_no
# Alipay forbids these in a subject; `&` and `=` would also let a subject pose as other fields of the signed text.
SUBJECT_FORBIDDEN = re.compile(r"[&=/\\\"'<>\x00-\x1f]")


class AlipayGateway:
    name = "alipay"

    def __init__(self, client: AliPay, app_id: str, gateway_url: str) -> None:
        self.client = client
        self.app_id = app_id
        self.gateway_url = gateway_url

    @classmethod
    def from_settings(cls, settings: Settings) -> AlipayGateway:
        keys = (settings.alipay_private_key, settings.alipay_public_key)
        client = _client(settings.alipay_app_id, *keys, settings.alipay_gateway)
        return cls(client, settings.alipay_app_id, settings.alipay_gateway)

    def check_currency(self, currency: str) -> None:
        if currency != CURRENCY:
            raise InvalidInput(_("Alipay takes CNY only, not {currency}.", currency=currency), field="currency")

    def open(self, trade: TradeRequest) -> Opened:
        self.check_currency(trade.amount.currency)
        amount = trade.amount.decimal_string()
        subject = SUBJECT_FORBIDDEN.sub(" ", trade.subject).strip() or "Vetrina"
        if trade.method == PayMethod.page:
            signed = self.client.api_alipay_trade_page_pay(
                subject=subject,
                out_trade_no=trade.reference,
                total_amount=amount,
                return_url=trade.return_url,
                notify_url=trade.notify_url,
            )
            return Opened(provider_reference=None, pay_url=f"{self.gateway_url}?{signed}")
        answer = self._call(
            "precreate",
            lambda: self.client.api_alipay_trade_precreate(
                subject=subject, out_trade_no=trade.reference, total_amount=amount, notify_url=trade.notify_url
            ),
        )
        if answer.get("code") != SUCCESS or not answer.get("qr_code"):
            raise ProviderUnavailable(_("Alipay refused the QR payment: {reason}", reason=_why(answer)))
        return Opened(provider_reference=None, qr_code=str(answer["qr_code"]))

    def query(self, payment: ProviderPayment) -> Notice | None:
        answer = self._call("query", lambda: self.client.api_alipay_trade_query(out_trade_no=payment.reference))
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None  # never scanned or opened: nothing to close
            raise ProviderUnavailable(_("Alipay could not say what became of the trade: {reason}", reason=_why(answer)))
        status = answer.get("trade_status")
        if status == "WAIT_BUYER_PAY":
            # Past our timeout: close it, so a late payment cannot arrive for a trade we gave up on.
            self._call("close", lambda: self.client.api_alipay_trade_close(out_trade_no=payment.reference))
            return None
        kind = NoticeKind.succeeded if status in PAID else NoticeKind.failed
        return Notice(
            provider=self.name,
            event_id=f"query:{answer.get('trade_no')}:{status}",
            kind=kind,
            reference=payment.reference,
            provider_reference=answer.get("trade_no"),
            amount=_amount(answer.get("total_amount"), CURRENCY),
            raw=dict(answer),
        )

    def refund(self, payment: ProviderPayment, amount: Money, refund_reference: str) -> str:
        answer = self._call(
            "refund",
            lambda: self.client.api_alipay_trade_refund(
                refund_amount=amount.decimal_string(),
                out_trade_no=payment.reference,
                out_request_no=refund_reference,  # Alipay's idempotency key for a partial refund
            ),
        )
        if answer.get("code") == SUCCESS:
            return f"{answer.get('trade_no')}:{refund_reference}"
        if answer.get("code") == BUSY or answer.get("sub_code") in OUTCOME_UNKNOWN:
            raise ProviderUnavailable(_("Alipay could not say whether it refunded: {reason}", reason=_why(answer)))
        raise RefundRefused(_("Alipay refused the refund: {reason}", reason=_why(answer)))

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> list[Notice]:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise ForgedNotification(_("An Alipay notification is a UTF-8 form.")) from None
        signature = fields.pop("sign", "")
        raw = dict(fields)
        if not signature or not self._verifies(fields, signature):
            raise ForgedNotification(_("The notification's RSA2 signature does not verify with Alipay's public key."))
        if raw.get("app_id") != self.app_id:
            raise ForgedNotification(_("The notification is for another Alipay application."))
        status = raw.get("trade_status", "")
        if raw.get("refund_fee") and raw.get("gmt_refund"):
            kind, amount = NoticeKind.refunded, _amount(raw.get("refund_fee"), _currency(raw))
        elif status in PAID:
            kind, amount = NoticeKind.succeeded, _amount(raw.get("total_amount"), _currency(raw))
        elif status == "TRADE_CLOSED":
            kind, amount = NoticeKind.failed, None
        else:
            return []  # WAIT_BUYER_PAY and the like: nothing to do
        return [
            Notice(
                provider=self.name,
                event_id=raw.get("notify_id") or f"{raw.get('trade_no')}:{status}:{raw.get('gmt_refund', '')}",
                kind=kind,
                reference=raw.get("out_trade_no") or None,
                provider_reference=raw.get("trade_no") or None,
                amount=amount,
                raw=raw,
            )
        ]

    def _verifies(self, fields: dict[str, str], signature: str) -> bool:
        try:
            return bool(self.client.verify(fields, signature))
        except (AliPayException, ValueError, TypeError):
            return False

    def _call(self, what: str, call: Any) -> dict[str, Any]:
        """One server API call; anything but a verified answer is the provider being unavailable."""
        try:
            answer: dict[str, Any] = call()
        except AliPayValidationError:
            raise ProviderUnavailable(
                _("Alipay's answer to {call} did not verify with its public key.", call=what)
            ) from None
        except AliPayException as exc:
            raise ProviderUnavailable(_("Alipay refused {call}: {reason}", call=what, reason=str(exc))) from None
        except (URLError, OSError, ValueError) as exc:
            raise ProviderUnavailable(_("Alipay did not answer {call}: {reason}", call=what, reason=str(exc))) from None
        return answer


@functools.lru_cache(maxsize=8)
def _client(app_id: str, private_key: str, public_key: str, gateway: str) -> AliPay:
    """One SDK client per configuration and process: loading the RSA keys costs ~25 ms, too much per notification."""
    client = AliPay(
        appid=app_id,
        app_private_key_string=read_pem(private_key),
        alipay_public_key_string=read_pem(public_key),
        sign_type="RSA2",
        config=AliPayConfig(timeout=TIMEOUT_S),
    )
    client._gateway = gateway  # the SDK has no setter: it picks production or its sandbox from its debug flag
    return client


def _why(answer: Mapping[str, Any]) -> str:
    given = answer.get("sub_msg") or answer.get("msg") or answer.get("code")
    return str(given) if given else _("no reason given")


def _currency(fields: Mapping[str, str]) -> str:
    # Domestic trades carry no currency (they are CNY); cross-border ones name it.
    return (fields.get("trans_currency") or fields.get("currency") or CURRENCY).upper()


def _amount(text: Any, currency: str) -> Money | None:
    if not isinstance(text, str):
        return None
    try:
        return Money.parse(text, currency, "en")  # Alipay writes "50.00" whatever language the request speaks
    except InvalidInput:
        return None
