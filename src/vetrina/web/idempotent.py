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
from vetrina.db import Database
from vetrina.errors import VetrinaError
from vetrina.payments import idempotency
from vetrina.web.deps import get_context
from vetrina.web.problems import PROBLEM_MEDIA_TYPE, problem_body

Operation = Callable[[Session], BaseModel | dict[str, Any]]


# "Try again later" (a 429, a shed 503) is no answer to keep: a retry with the key runs the work.
_NOT_AN_ANSWER = (429, 503)


class _AnsweredBefore(Exception):
    """Another request with the key committed first: this one's work is rolled back and its answer given."""


def run_once(
    request: Request,
    user: User,
    payload: Any,
    operation: Operation,
    status_code: int = 200,
    limit: Callable[[], None] | None = None,
) -> JSONResponse:
    """Run `operation` in one write transaction; with an Idempotency-Key, at most once for that key.

    The first answer, success or problem, is stored in the same transaction as the work (one statement) and
    replayed for a retry with the same key and body. `limit` (a rate limit) counts attempts, never replays: a
    limited route looks for a stored answer before it counts."""
    db = get_context(request).db
    key = request.headers.get("idempotency-key")
    if key is None:
        if limit is not None:
            limit()
        with db.session(write=True) as session:
            body = _as_json(operation(session))
        return JSONResponse(body, status_code=status_code)
    idempotency.check_key(key)
    canonical = json.dumps(jsonable_encoder(payload), sort_keys=True, separators=(",", ":")).encode()
    fingerprint = idempotency.fingerprint(request.method, request.url.path, canonical)
    if limit is not None:
        with db.session() as session:
            answered = idempotency.first_answer(session, user.id, key, fingerprint)
        if answered is not None:
            return _replay(answered)
        limit()
    refused: VetrinaError | None = None
    try:
        with db.session(write=True) as session:
            try:
                status, body = status_code, _as_json(operation(session))
            except VetrinaError as exc:
                if not exc.wrote_nothing or exc.status in _NOT_AN_ANSWER:
                    raise
                # Refused before it wrote anything: the refusal is kept in this same transaction, not a second.
                refused, status, body = exc, exc.status, _problem(request, exc)
            if not idempotency.remember(session, user.id, key, fingerprint, status, body):
                raise _AnsweredBefore
    except _AnsweredBefore:
        return _replay_first(db, user, key, fingerprint)
    except VetrinaError as exc:
        if exc.status in _NOT_AN_ANSWER:
            raise
        with db.session(write=True) as session:
            stored = idempotency.remember(session, user.id, key, fingerprint, exc.status, _problem(request, exc))
        if stored:
            raise
        return _replay_first(db, user, key, fingerprint)
    if refused is not None:
        raise refused
    return JSONResponse(body, status_code=status_code)


def _problem(request: Request, exc: VetrinaError) -> dict[str, Any]:
    return problem_body(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)


def _as_json(answer: BaseModel | dict[str, Any]) -> Any:
    return answer.model_dump(mode="json") if isinstance(answer, BaseModel) else jsonable_encoder(answer)


def _replay_first(db: Database, user: User, key: str, fingerprint: str) -> JSONResponse:
    with db.session() as session:
        answered = idempotency.first_answer(session, user.id, key, fingerprint)
    if answered is None:  # remember() found it there, and keys are never deleted
        raise RuntimeError(f"the answer stored under Idempotency-Key {key!r} is gone")
    return _replay(answered)


def _replay(answered: idempotency.Answer) -> JSONResponse:
    status, body = answered
    media_type = PROBLEM_MEDIA_TYPE if status >= 400 else "application/json"
    return JSONResponse(body, status_code=status, media_type=media_type, headers={"Idempotent-Replayed": "true"})
