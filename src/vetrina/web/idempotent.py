"""Running a money- or stock-moving request at most once per Idempotency-Key (see payments/idempotency.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.errors import VetrinaError
from vetrina.payments import idempotency
from vetrina.web.deps import get_context
from vetrina.web.problems import PROBLEM_MEDIA_TYPE, problem_body

Operation = Callable[[Session], BaseModel | dict[str, Any]]


def run_once(
    request: Request,
    user: User,
    payload: Any,
    operation: Operation,
    status_code: int = 200,
    limit: Callable[[], None] | None = None,
) -> JSONResponse:
    """Run `operation` in one write transaction; with an Idempotency-Key, at most once for that key.

    The first answer, success or problem, is stored in the same transaction as the work and replayed
    for a retry with the same key and body. `limit` (a rate limit) counts attempts, never replays: a refused
    attempt leaves the key free for a retry."""
    db = get_context(request).db
    key = request.headers.get("idempotency-key")
    if key is None:
        if limit is not None:
            limit()
        with db.session(write=True) as session:
            body = jsonable_encoder(operation(session))
        return JSONResponse(body, status_code=status_code)
    idempotency.check_key(key)
    canonical = json.dumps(jsonable_encoder(payload), sort_keys=True, separators=(",", ":")).encode()
    fingerprint = idempotency.fingerprint(request.method, request.url.path, canonical)
    claim = idempotency.claim(db, user.id, key, fingerprint)
    if claim.replay is not None:
        status, body = claim.replay
        media_type = PROBLEM_MEDIA_TYPE if status >= 400 else "application/json"
        return JSONResponse(body, status_code=status, media_type=media_type, headers={"Idempotent-Replayed": "true"})
    claimed_at = claim.claimed_at
    assert claimed_at is not None  # no replay: the key is claimed for this request
    if limit is not None:
        try:
            limit()
        except BaseException:
            idempotency.release(db, user.id, key, claimed_at)
            raise
    try:
        with db.session(write=True) as session:
            body = jsonable_encoder(operation(session))
            idempotency.complete(session, user.id, key, claimed_at, status_code, body)
    except idempotency.RequestInFlight:
        raise  # taken over by a retry: that one answers for the key
    except VetrinaError as exc:
        body = problem_body(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)
        with db.session(write=True) as session:
            idempotency.complete(session, user.id, key, claimed_at, exc.status, body)
        raise
    except BaseException:
        idempotency.release(db, user.id, key, claimed_at)
        raise
    return JSONResponse(body, status_code=status_code)
