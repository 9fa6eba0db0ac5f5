"""Stripe's REST API, as far as Vetrina uses it, on a loopback port: the real SDK talks to it as it would to
api.stripe.com. Form-encoded requests (`line_items[0][price_data][currency]=eur`), JSON answers shaped like
Stripe's objects, Bearer keys, Idempotency-Key replays, and Stripe's error envelope. Plus what only Stripe's side
can do (a buyer paying on the Checkout page, a session expiring) and webhook events signed as Stripe signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_vetrina"
WEBHOOK_SECRET = "whsec_vetrina_test_secret"
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def _nested(form: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into objects: `a[b][0][c]=x` -> {"a": {"b": [{"c": "x"}]}}."""
    root: dict[str, Any] = {}
    for key, value in form:
        head = key.split("[", 1)[0]
        path = [head, *_KEY_PART.findall(key[len(head) :])]
        node: Any = root
        for part, following in zip(path, path[1:], strict=False):
            child_default: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None:
                    node[index] = child_default
                node = node[index]
            else:
                node = node.setdefault(part, child_default)
        last = path[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return root


def _error(status: int, message: str, kind: str = "invalid_request_error", **more: str) -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message, **more}}


class StripeServer:
    """Checkout Sessions (create, retrieve, list by PaymentIntent) and Refunds (create), in memory."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._replays: dict[str, tuple[str, int, dict]] = {}
        self._refuse_next: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self, "POST")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # What happens on Stripe's side.

    def refuse_next(self, status: int, message: str, kind: str = "api_error") -> None:
        """Answer the next API request with this Stripe error."""
        self._refuse_next.append(_error(status, message, kind))

    def session_at(self, pay_url: str) -> dict[str, Any]:
        """The Checkout Session whose page is `pay_url` (what the buyer opened)."""
        return next(s for s in self.sessions.values() if s["url"] == pay_url)

    def pay(self, session_id: str) -> dict[str, Any]:
        """The buyer pays on the Checkout page: the session completes and its PaymentIntent exists."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status="paid", payment_intent=f"pi_{secrets.token_hex(12)}")
            return json.loads(json.dumps(session))

    def expire(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="expired")
            return json.loads(json.dumps(session))

    # The API.

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        params = _nested(parse_qsl(body if method == "POST" else split.query, keep_blank_values=True))
        with self._lock:
            self.requests.append((method, split.path, params))
            status, answer, replayed = self._answer(handler, method, split.path, params, body)
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        if replayed:
            handler.send_header("Idempotent-Replayed", "true")
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, params: dict, body: str
    ) -> tuple[int, dict, bool]:
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return *_error(401, "Invalid API Key provided."), False
        key = handler.headers.get("Idempotency-Key")
        if method == "POST" and key and key in self._replays:
            sent, status, answer = self._replays[key]
            if sent != f"{path}?{body}":
                return *_error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    "idempotency_error",
                ), False
            return status, answer, True
        if self._refuse_next:
            return *self._refuse_next.pop(0), False
        status, answer = self._route(method, path, params)
        if method == "POST" and key:
            self._replays[key] = (f"{path}?{body}", status, answer)
        return status, answer, False

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_session(params)
        if method == "GET" and path == "/v1/checkout/sessions":
            found = [s for s in self.sessions.values() if s["payment_intent"] == params.get("payment_intent")]
            return 200, {
                "object": "list",
                "data": found[: int(params.get("limit", 10))],
                "has_more": False,
                "url": "/v1/checkout/sessions",
            }
        match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)", path)
        if method == "GET" and match:
            session = self.sessions.get(match[1])
            if session is None:
                return _error(404, f"No such checkout.session: '{match[1]}'", code="resource_missing", param="session")
            return 200, session
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(params)
        return _error(404, f"Unrecognized request URL ({method}: {path}).")

    def _create_session(self, params: dict) -> tuple[int, dict]:
        if params.get("mode") != "payment":
            return _error(400, "Missing required param: mode.", param="mode")
        items = params.get("line_items") or []
        if not items or not params.get("success_url"):
            return _error(400, "Missing required param: line_items.", param="line_items")
        prices = [item["price_data"] for item in items]
        currencies = {p["currency"] for p in prices}
        if len(currencies) != 1 or not all(p["currency"].islower() for p in prices):
            return _error(400, "Invalid currency.", param="line_items[0][price_data][currency]")
        total = sum(int(p["unit_amount"]) * int(item.get("quantity", 1)) for p, item in zip(prices, items, strict=True))
        session_id = f"cs_test_{secrets.token_hex(16)}"
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currencies.pop(),
            "expires_at": int(params.get("expires_at", now + 86400)),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return 200, session

    def _create_refund(self, params: dict) -> tuple[int, dict]:
        intent = params.get("payment_intent")
        session = next((s for s in self.sessions.values() if intent and s["payment_intent"] == intent), None)
        if session is None:
            return _error(404, f"No such payment_intent: '{intent}'", code="resource_missing", param="payment_intent")
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        amount = int(params.get("amount", session["amount_total"] - refunded))
        if amount <= 0 or refunded + amount > session["amount_total"]:
            return _error(400, "Refund amount is greater than unrefunded amount on charge.", param="amount")
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "charge": f"ch_{intent[3:]}",
            "created": int(time.time()),
            "currency": session["currency"],
            "metadata": params.get("metadata", {}),
            "payment_intent": intent,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return 200, refund


# Webhook events, as Stripe sends them.


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def dispute(session: dict[str, Any], status: str = "needs_response", amount: int | None = None) -> dict[str, Any]:
    """The Dispute object of a paid session's charge."""
    intent = session["payment_intent"]
    return {
        "id": f"dp_{intent[3:]}",
        "object": "dispute",
        "amount": session["amount_total"] if amount is None else amount,
        "charge": f"ch_{intent[3:]}",
        "currency": session["currency"],
        "payment_intent": intent,
        "reason": "fraudulent",
        "status": status,
        "created": int(time.time()),
    }


def signature(payload: str, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>") in hex."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(client, body: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None):
    """POST the event to Vetrina's webhook route, signed as Stripe signs it."""
    payload = json.dumps(body)
    return client.post(
        "/api/v1/providers/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": signature(payload, secret, at), "Content-Type": "application/json"},
    )
