"""A local stand-in for Alipay's gateway: it speaks the documented protocol (RSA2-signed GET requests to
gateway.do, signed JSON answers, signed form notifications), with key pairs the test makes. The client under test
is the real python-alipay-sdk."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

APP_ID = "2021000000000001"


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @classmethod
    def make(cls) -> KeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, text: str) -> str:
        return base64.b64encode(self.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    def verifies(self, text: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(
                base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        return True


def canonical(fields: dict[str, str]) -> str:
    """Alipay's string to sign: every field but the signature, sorted, as k=v joined by &."""
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "sign")


@dataclass
class Trade:
    out_trade_no: str
    total_amount: str
    status: str = "WAIT_BUYER_PAY"
    qr_code: str = ""
    trade_no: str = field(default_factory=lambda: "2026" + secrets.token_hex(10))
    refunds: dict[str, str] = field(default_factory=dict)


class FakeAlipay:
    """Alipay's gateway for one test: `app` keys sign our requests, `alipay` keys sign its answers."""

    def __init__(self) -> None:
        self.app = KeyPair.make()
        self.alipay = KeyPair.make()
        self.trades: dict[str, Trade] = {}
        self.calls: list[str] = []
        self.unreachable = False
        self.forge_answers = False
        self.refuse_refunds = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/gateway.do"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def settings(self) -> dict[str, object]:
        return {
            "funding_providers": ["alipay"],
            "alipay_app_id": APP_ID,
            "alipay_private_key": self.app.private_pem,
            "alipay_public_key": self.alipay.public_pem,
            "alipay_gateway": self.url,
            "base_url": "http://testserver",  # the TestClient's origin: where notify URLs point
        }

    def notification(self, out_trade_no: str, status: str = "TRADE_SUCCESS", **overrides: str) -> bytes:
        """The form Alipay posts to the notify URL, signed with Alipay's key (after `overrides`, so they are
        signed too; pass sign= to forge)."""
        trade = self.trades.get(out_trade_no)
        fields = {
            "notify_time": "2026-12-05 10:00:00",
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": APP_ID,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.trade_no if trade else "2026" + secrets.token_hex(10),
            "out_trade_no": out_trade_no,
            "trade_status": status,
            "total_amount": trade.total_amount if trade else "1.00",
            "subject": "Vetrina",
        }
        forged = overrides.pop("sign", None)
        fields.update(overrides)
        unsigned = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
        fields["sign"] = forged or self.alipay.sign(canonical(unsigned))
        return urlencode(fields).encode()

    def _answer(self, method: str, body: dict[str, object]) -> bytes:
        response_type = method.replace(".", "_") + "_response"
        inner = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        signature = self.app.sign(inner) if self.forge_answers else self.alipay.sign(inner)
        return f'{{"{response_type}":{inner},"sign":"{signature}"}}'.encode()

    def _handle(self, query: dict[str, str]) -> bytes:
        method = query.get("method", "")
        self.calls.append(method)
        if not self.app.verifies(canonical(query), query.get("sign", "")):
            return json.dumps(
                {"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}}
            ).encode()
        biz = json.loads(query.get("biz_content", "{}"))
        no = biz.get("out_trade_no", "")
        trade = self.trades.get(no)
        if method == "alipay.trade.precreate":
            qr_code = f"https://qr.alipay.com/bax{secrets.token_hex(8)}"
            self.trades[no] = Trade(no, biz["total_amount"], qr_code=qr_code)
            return self._answer(method, {"code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": qr_code})
        if trade is None:
            return self._answer(
                method,
                {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"},
            )
        if method == "alipay.trade.query":
            return self._answer(
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": trade.trade_no,
                    "out_trade_no": no,
                    "trade_status": trade.status,
                    "total_amount": trade.total_amount,
                },
            )
        if method == "alipay.trade.close":
            trade.status = "TRADE_CLOSED"
            return self._answer(method, {"code": "10000", "msg": "Success", "out_trade_no": no})
        if method == "alipay.trade.refund" and self.refuse_refunds:
            return self._answer(
                method,
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_HAS_CLOSE",
                    "sub_msg": "交易已经关闭",
                },
            )
        if method == "alipay.trade.refund":
            trade.refunds[biz.get("out_request_no", "")] = biz["refund_amount"]
            return self._answer(
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": trade.trade_no,
                    "out_trade_no": no,
                    "refund_fee": biz["refund_amount"],
                    "fund_change": "Y",
                },
            )
        return self._answer(method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.UNKNOWN"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if fake.unreachable:
                    self.close_connection = True
                    return  # hang up without an answer
                query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                payload = fake._handle(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def register_page_trade(fake: FakeAlipay, pay_url: str) -> Trade:
    """What the buyer's visit to the page-payment URL does at Alipay: the trade exists (a page payment makes no
    server call of ours, so the test plays the buyer's browser and checks the URL's signature)."""
    query = dict(parse_qsl(urlsplit(pay_url).query, keep_blank_values=True))
    assert query["method"] == "alipay.trade.page.pay"
    assert fake.app.verifies(canonical(query), query["sign"]), "the page-payment URL is not signed by the app key"
    biz = json.loads(query["biz_content"])
    trade = Trade(biz["out_trade_no"], biz["total_amount"])
    fake.trades[trade.out_trade_no] = trade
    return trade


def trade_for(fake: FakeAlipay, payment: dict) -> Trade:
    """The trade at Alipay that a payment's QR code opened."""
    return next(t for t in list(fake.trades.values()) if t.qr_code == payment["qr_code"])
