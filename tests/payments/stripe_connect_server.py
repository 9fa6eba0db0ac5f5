"""Stripe's API on loopback for Connect transfers, for tests: `POST /v1/transfers` as Stripe documents it (form
fields, bearer secret key, idempotency keys replayed or refused, Stripe's error JSON). Plain helpers, no fixtures."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from vetrina import clock


def _invalid_request(message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return {"error": error}


class StripeConnectApi:
    """Transfers from the platform's balance to connected accounts; each idempotency key makes one transfer."""

    def __init__(self, secret_key: str, connected_accounts: set[str], balance: dict[str, int]) -> None:
        self.secret_key = secret_key
        self.connected_accounts = connected_accounts
        self.balance = balance  # lower-case currency -> minor units available for transfers
        self.received: dict[str, int] = {}  # connected account -> minor units transferred to it
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []  # (lower-cased headers, form fields)
        self.outage = False  # answer 500 api_error, as Stripe does when something went wrong on its side
        self._by_key: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}  # idempotency key -> (form, transfer)
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                form = dict(parse_qsl(self.rfile.read(int(self.headers.get("content-length", 0))).decode()))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, body, replayed = api.answer(self.path, headers, form)
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                if status >= 500:
                    self.send_header("Stripe-Should-Retry", "true")
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, headers: dict[str, str], form: dict[str, str]) -> tuple[int, dict[str, Any], bool]:
        with self._lock:
            self.requests.append((headers, form))
            if headers.get("authorization") != f"Bearer {self.secret_key}":
                return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}}, False
            if path != "/v1/transfers":
                return 404, _invalid_request(f"Unrecognized request URL (POST: {path})."), False
            if self.outage:
                return 500, {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}, False
            key = headers.get("idempotency-key")
            if key and key in self._by_key:
                first_form, transfer = self._by_key[key]
                if first_form != form:
                    message = (
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request."
                    )
                    return 400, {"error": {"type": "idempotency_error", "message": message}}, False
                return 200, transfer, True
            status, body = self._transfer(form)
            if key and status == 200:
                self._by_key[key] = (form, body)
            return status, body, False

    def _transfer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        for field in ("amount", "currency", "destination"):
            if not form.get(field):
                return 400, _invalid_request(f"Missing required param: {field}.", "parameter_missing", field)
        if not form["amount"].isdigit() or int(form["amount"]) < 1:
            return 400, _invalid_request("Invalid positive integer", "parameter_invalid_integer", "amount")
        amount, currency, destination = int(form["amount"]), form["currency"], form["destination"]
        if currency != currency.lower() or len(currency) != 3:
            return 400, _invalid_request(f"Invalid currency: {currency}.", "parameter_invalid_string", "currency")
        if destination not in self.connected_accounts:
            return 400, _invalid_request(f"No such destination: '{destination}'", "resource_missing", "destination")
        if self.balance.get(currency, 0) < amount:
            message = (
                "You have insufficient available funds in your Stripe account. Try adding funds directly to your "
                "available balance by creating Charges using the 4000000000000077 test card."
            )
            return 400, _invalid_request(message, "balance_insufficient")
        self.balance[currency] -= amount
        self.received[destination] = self.received.get(destination, 0) + amount
        transfer_id = f"tr_{secrets.token_hex(12)}"
        metadata = {key[len("metadata[") : -1]: value for key, value in form.items() if key.startswith("metadata[")}
        return 200, {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": f"txn_{secrets.token_hex(12)}",
            "created": int(clock.now().timestamp()),
            "currency": currency,
            "description": form.get("description"),
            "destination": destination,
            "destination_payment": f"py_{secrets.token_hex(12)}",
            "livemode": False,
            "metadata": metadata,
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": form.get("transfer_group"),
        }
