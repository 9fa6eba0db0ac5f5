"""Idempotency keys (IETF httpapi "Idempotency-Key" draft), kept per user under a unique constraint.

Same key, same request: the first response again. Same key, another request: 422. Same key while the
first is still running: 409. The first response is stored in the same transaction as the work it
reports, so after a crash either both are there or neither is; a claim left behind by a crash is
taken over once it is older than `STALE_AFTER`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.db import Database
from vetrina.errors import Conflict, InvalidInput
from vetrina.payments.models import IdempotencyKey

STALE_AFTER = timedelta(seconds=60)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class KeyReused(InvalidInput):
    slug, title = "idempotency-key-reused", "Idempotency key reused"


class RequestInFlight(Conflict):
    slug, title = "idempotency-key-in-flight", "The first request with this key is still running"


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise InvalidInput("Idempotency-Key is 1 to 255 visible ASCII characters.", field="Idempotency-Key")
    return key


@dataclass(frozen=True)
class Claim:
    """Either the stored first response (`replay`), or the right to run the request (`claimed_at`)."""

    replay: tuple[int, Any] | None = None
    claimed_at: datetime | None = None


def claim(db: Database, user_id: int, key: str, request_fingerprint: str) -> Claim:
    """Claim `key` for this request (committed at once), or return the stored response of its first run."""
    now = clock.now()
    in_flight = RequestInFlight("A request with this Idempotency-Key is still running.")
    with db.session(write=True) as session:
        row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
        if row is None:
            try:
                with session.begin_nested():
                    session.add(
                        IdempotencyKey(user_id=user_id, key=key, fingerprint=request_fingerprint, created_at=now)
                    )
            except IntegrityError:
                raise in_flight from None
            return Claim(claimed_at=now)
        if row.fingerprint != request_fingerprint:
            raise KeyReused("This Idempotency-Key was used for a different request.")
        if row.done and row.response_status is not None:  # complete() sets both
            return Claim(replay=(row.response_status, row.response_body))
        if row.created_at > now - STALE_AFTER:
            raise in_flight
        # Its first request died mid-way: take it over, unless another retry just did.
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.id == row.id,
                    IdempotencyKey.created_at == row.created_at,
                    IdempotencyKey.done.is_(False),
                )
                .values(created_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not taken:
            raise in_flight
        return Claim(claimed_at=now)


def complete(session: Session, user_id: int, key: str, claimed_at: datetime, status: int, body: Any) -> None:
    """Store the response, in the same transaction as the work it reports; only while the claim is ours."""
    stored = cast(
        CursorResult[Any],
        session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.created_at == claimed_at,
                IdempotencyKey.done.is_(False),
            )
            .values(done=True, response_status=status, response_body=body)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not stored:
        # A slow first run was taken over by a retry meanwhile: this one must not also count.
        raise RequestInFlight("This request took too long and was taken over by a retry with the same key.")


def release(db: Database, user_id: int, key: str, claimed_at: datetime) -> None:
    """Forget our unfinished claim (the request failed unexpectedly; a retry may run it again)."""
    with db.session(write=True) as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.created_at == claimed_at,
                IdempotencyKey.done.is_(False),
            )
        )
