"""Webhooks to merchants, signed per the Standard Webhooks spec, delivered after commit and retried with backoff.

Each event is written as a delivery row in the transaction that caused it, and its delivery job is
enqueued after that transaction commits; a periodic sweep re-enqueues deliveries that are due (after a
crash, or when a retry's job was lost). Receivers de-duplicate by the `webhook-id` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import typing
from datetime import timedelta
from typing import Any

from huey import crontab
from sqlalchemy import JSON, String, Table, bindparam, cast, insert, literal, select
from sqlalchemy.orm import Session

from vetrina import clock, netguard
from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.db import UTCDateTime
from vetrina.errors import Forbidden, InvalidInput, NotFound
from vetrina.i18n import _, clipped, said_by
from vetrina.jobs import job, periodic_job
from vetrina.payments.models import WebhookDelivery, WebhookEndpoint

DELIVER_JOB = "payments.deliver_webhook"
# Seconds to wait before each retry; after the last one the delivery is marked failed.
RETRY_DELAYS_S = (5, 30, 120, 600, 3600, 6 * 3600, 24 * 3600)
MAX_ENDPOINTS = 10
_SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _secret_bytes(secret: str) -> bytes:
    if not secret.startswith(_SECRET_PREFIX):
        raise InvalidInput(_("A webhook secret starts with whsec_."), field="secret")
    try:
        key = base64.b64decode(secret.removeprefix(_SECRET_PREFIX), validate=True)
    except ValueError:
        raise InvalidInput(_("A webhook secret is whsec_ followed by base64."), field="secret") from None
    if not 24 <= len(key) <= 64:
        raise InvalidInput(_("A webhook secret holds 24 to 64 bytes."), field="secret")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()).decode()


def register_endpoint(session: Session, merchant: User, url: str, allow_private: bool) -> WebhookEndpoint:
    if merchant.role not in (Role.merchant, Role.admin):
        raise Forbidden(_("Only merchants register webhooks."))
    count = len(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.merchant_id == merchant.id)).all())
    if count >= MAX_ENDPOINTS:
        raise InvalidInput(_("A merchant has at most {max} webhook endpoints.", max=MAX_ENDPOINTS), field="url")
    endpoint = WebhookEndpoint(
        merchant_id=merchant.id,
        url=netguard.check_outgoing_url(url, allow_private),
        secret=new_secret(),
        active=True,
        created_at=clock.now(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def endpoint_for_change(session: Session, endpoint_id: int, user: User) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or (endpoint.merchant_id != user.id and not user.is_admin):
        raise NotFound(_("There is no webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id))
    return endpoint


def change_secret(session: Session, endpoint_id: int, user: User, secret: str | None) -> WebhookEndpoint:
    """Set a new signing secret (the merchant's own, checked, or a fresh one)."""
    endpoint = endpoint_for_change(session, endpoint_id, user)
    if secret is not None:
        _secret_bytes(secret)
    endpoint.secret = secret or new_secret()
    return endpoint


def list_endpoints(session: Session, user: User) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.merchant_id == user.id)))


def deliveries_for(session: Session, endpoint: WebhookEndpoint, limit: int = 100) -> list[WebhookDelivery]:
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


DELIVERIES = typing.cast(Table, WebhookDelivery.__table__)
_NOW = bindparam("now", type_=UTCDateTime())
# Built once: checkout runs it on every step, and making the statement cost as much as running it.
_RECORD_DELIVERIES = (
    insert(DELIVERIES)
    .from_select(
        ["message_id", "endpoint_id", "event_type", "payload", "status", "attempts", "next_attempt_at", "created_at"],
        select(
            bindparam("message_prefix", type_=String()) + cast(WebhookEndpoint.id, String),
            WebhookEndpoint.id,
            bindparam("event_type", type_=String()),
            bindparam("payload", type_=JSON()),
            literal("pending"),
            literal(0),
            _NOW,
            _NOW,
        ).where(WebhookEndpoint.merchant_id == bindparam("merchant_id"), WebhookEndpoint.active.is_(True)),
    )
    .returning(DELIVERIES.c.id)
)


def emit(ctx: Context, session: Session, merchant_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Record `event_type` for every active endpoint of the merchant; delivery starts after commit. One
    INSERT ... SELECT (Core: nothing is loaded back), which writes nothing for a merchant with no endpoint."""
    now = clock.now()
    recorded = session.scalars(
        _RECORD_DELIVERIES,
        {
            "message_prefix": "msg_" + secrets.token_hex(12) + "_",  # + the endpoint's id: unique per delivery
            "event_type": event_type,
            "payload": {"type": event_type, "timestamp": now.isoformat(), "data": data},
            "now": now,
            "merchant_id": merchant_id,
        },
    )
    for delivery_id in recorded:
        ctx.queue.enqueue_after_commit(session, DELIVER_JOB, delivery_id)


@job(DELIVER_JOB)
def deliver(ctx: Context, delivery_id: int) -> None:
    """One delivery attempt; schedules the next with backoff when the receiver does not answer 2xx."""
    with ctx.db.session(write=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending" or delivery.next_attempt_at > clock.now():
            return
        endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
        # Claim the attempt: a second copy of this job arriving meanwhile finds it not yet due.
        delivery.next_attempt_at = clock.now() + timedelta(seconds=60)
        url, secret, message_id = endpoint.url, endpoint.secret, delivery.message_id
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(clock.now().timestamp())
    status_code, error = None, None
    try:
        status_code = netguard.post(
            url,
            ctx.settings.webhook_allow_private,
            content=body,
            headers={
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, message_id, timestamp, body),
                "user-agent": "Vetrina-Webhooks/1",
            },
            timeout_s=10,
        )
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except netguard.FetchError as exc:
        error = clipped(exc.reason, 500)
    except InvalidInput as exc:  # a stored secret that no longer reads
        error = clipped(said_by(exc), 500) or exc.__class__.__name__
    _record_attempt(ctx, delivery_id, status_code, error)


def _record_attempt(ctx: Context, delivery_id: int, status_code: int | None, error: str | None) -> None:
    now = clock.now()
    with ctx.db.session(write=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return  # its endpoint was removed during the attempt (deliveries go with it)
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        if error is None:
            delivery.status, delivery.delivered_at = "delivered", now
            return
        if delivery.attempts > len(RETRY_DELAYS_S):
            delivery.status = "failed"
            return
        delay = RETRY_DELAYS_S[delivery.attempts - 1] * ctx.settings.webhook_backoff_scale
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    ctx.queue.enqueue_in(delay, DELIVER_JOB, delivery_id)


@periodic_job("payments.redeliver_due_webhooks", crontab(minute="*"))
def redeliver_due(ctx: Context) -> None:
    """Re-enqueue pending deliveries that are overdue (their job was lost to a crash)."""
    overdue = clock.now() - timedelta(seconds=30)
    with ctx.db.session() as session:
        due = session.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at < overdue
            )
        ).all()
    for delivery_id in due:
        ctx.queue.enqueue(DELIVER_JOB, delivery_id)
