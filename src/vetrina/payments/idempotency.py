"""Idempotency keys (IETF httpapi "Idempotency-Key" draft), kept per user under a unique constraint.

Same key, same request: the first response again. Same key, another request: 422. A key is written once, with
its response, in the same transaction as the work it reports: after a crash either both are there or neither is,
and no claim is left behind for a retry to wait out. Two concurrent requests with one key may both do the work;
the second to commit finds the key taken, rolls its work back and answers with the first's response (PostgreSQL
makes its insert wait for the first's commit; SQLite runs one writer at a time).

Keys expire after `VETRINA_IDEMPOTENCY_KEY_HOURS` (the draft lets a server say how long it keeps them): an hourly
job deletes older ones, so the table does not grow for ever. A retry after that runs afresh, and the work's own
state refuses what must not happen twice (an order already paid answers 409).
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import timedelta
from typing import Any, cast

from huey import crontab
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.context import Context
from vetrina.db import insert_for
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.jobs import periodic_job
from vetrina.payments.models import IdempotencyKey

_KEYS = cast(Table, IdempotencyKey.__table__)  # written with Core: the row is never loaded back
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
Answer = tuple[int, Any]


class KeyReused(InvalidInput):
    slug, title = "idempotency-key-reused", _("Idempotency key reused")


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise InvalidInput(_("Idempotency-Key is 1 to 255 visible ASCII characters."), field="Idempotency-Key")
    return key


def first_answer(session: Session, user_id: int, key: str, request_fingerprint: str) -> Answer | None:
    """The stored response of the first request with `key`; None when there was none; KeyReused when the key
    was used for a different request."""
    row = session.execute(
        select(IdempotencyKey.fingerprint, IdempotencyKey.response_status, IdempotencyKey.response_body).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != request_fingerprint:
        raise KeyReused(_("This Idempotency-Key was used for a different request."))
    return row.response_status, row.response_body


def remember(session: Session, user_id: int, key: str, request_fingerprint: str, status: int, body: Any) -> bool:
    """Store the response under `key` in the caller's transaction (one statement); False when another request
    with the key committed first (its answer is the one to give: roll back and read it with `first_answer`)."""
    stored = session.execute(
        _remembering(session.get_bind().dialect.name),
        {
            "user_id": user_id,
            "key": key,
            "fingerprint": request_fingerprint,
            "done": True,
            "response_status": status,
            "response_body": body,
            "created_at": clock.now(),
        },
    ).first()
    return stored is not None


@functools.cache
def _remembering(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (user_id, key) DO NOTHING RETURNING id, built once per dialect (its values come with
    each execution)."""
    return insert_for(dialect)(_KEYS).on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(_KEYS.c.id)


EXPIRED_PER_TRANSACTION = 5000  # deleted in slices, so the sweep never holds SQLite's write turn for long


def expire(ctx: Context) -> int:
    """Delete the keys older than `idempotency_key_hours`, a slice per transaction; returns how many."""
    cutoff = clock.now() - timedelta(hours=ctx.settings.idempotency_key_hours)
    expired = 0
    while True:
        with ctx.db.session(write=True) as session:
            ids = list(
                session.scalars(select(_KEYS.c.id).where(_KEYS.c.created_at < cutoff).limit(EXPIRED_PER_TRANSACTION))
            )
            if ids:
                session.execute(delete(_KEYS).where(_KEYS.c.id.in_(ids)))
        expired += len(ids)
        if len(ids) < EXPIRED_PER_TRANSACTION:
            return expired


@periodic_job("payments.expire_idempotency_keys", crontab(minute="23"))
def expire_job(ctx: Context) -> None:
    expire(ctx)
