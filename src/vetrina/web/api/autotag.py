"""/api/v1/videos/{id}/autotag and /tag-proposals: recognition runs and the tags they propose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.shoppable.autotag import service as autotag
from vetrina.shoppable.models import AutotagRun, TagProposal
from vetrina.web.api.schemas import ShownText
from vetrina.web.api.shoppable import BoxIn, KeyframeIn, Seconds
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, required_user

router = APIRouter(prefix="/api/v1/videos/{video_id}", tags=["auto-tagging"])


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] | None = Field(
        None, max_length=5000, description="Look only for these products."
    )


class RunOut(BaseModel):
    run_id: int
    status: str = Field(description="queued | running | done | failed")
    progress: float
    proposals: int
    notes: list[ShownText]
    error: ShownText | None
    created_at: datetime
    finished_at: datetime | None


class ProposalOut(BaseModel):
    id: int
    product_id: int
    start_s: float
    end_s: float
    box: BoxIn = Field(description="At the span's middle, normalised.")
    keyframes: list[KeyframeIn]
    confidence: float
    state: str = Field(description="proposed | accepted | rejected")
    tag_id: int | None
    run_id: int


class AcceptIn(BaseModel):
    """Optional adjustments: the accepted tag takes these instead of the proposal's."""

    model_config = ConfigDict(extra="forbid")

    start_s: Seconds | None = None
    end_s: Seconds | None = None
    box: BoxIn | None = None
    label: str | None = Field(None, max_length=100)


def run_out(run: AutotagRun) -> RunOut:
    return RunOut(
        run_id=run.id,
        status=run.status,
        progress=run.progress,
        proposals=run.proposals,
        notes=run.notes,
        error=run.error,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def proposal_out(proposal: TagProposal) -> ProposalOut:
    return ProposalOut(
        id=proposal.id,
        product_id=proposal.product_id,
        start_s=proposal.start_s,
        end_s=proposal.end_s,
        box=proposal.box,
        keyframes=proposal.keyframes,
        confidence=proposal.confidence,
        state=proposal.state,
        tag_id=proposal.tag_id,
        run_id=proposal.run_id,
    )


@router.post("/autotag", status_code=202, response_model=RunOut, summary="Find catalogue products in the video")
def start(
    request: Request,
    video_id: RowId,
    body: RunIn | None = None,
    user: User = required_user,
    session: Session = db_session,
) -> JSONResponse:
    ctx = get_context(request)
    run = autotag.start_run(ctx, session, video_id, user, body.product_ids if body else None)
    session.flush()
    body_out = run_out(run).model_dump(mode="json")
    return JSONResponse(body_out, status_code=202, headers={"Location": f"/api/v1/videos/{video_id}/autotag/{run.id}"})


@router.get("/autotag/{run_id}", response_model=RunOut, summary="A run's status and progress")
def read_run(video_id: RowId, run_id: RowId, user: User = required_user, session: Session = db_session) -> RunOut:
    return run_out(autotag.get_run(session, video_id, run_id, user))


@router.get("/tag-proposals", response_model=list[ProposalOut], summary="Tags recognition proposes")
def proposals(
    video_id: RowId, state: str | None = None, user: User = required_user, session: Session = db_session
) -> list[ProposalOut]:
    return [proposal_out(p) for p in autotag.list_proposals(session, video_id, user, state and state[:20])]


@router.post("/tag-proposals/{proposal_id}/accept", response_model=ProposalOut, summary="Make it a tag")
def accept(
    request: Request,
    video_id: RowId,
    proposal_id: RowId,
    body: AcceptIn | None = None,
    user: User = required_user,
    session: Session = db_session,
) -> ProposalOut:
    changes = body.model_dump(exclude_none=True) if body else {}
    proposal = autotag.accept(get_context(request), session, video_id, proposal_id, user, changes)
    return proposal_out(proposal)


@router.post("/tag-proposals/{proposal_id}/reject", response_model=ProposalOut, summary="Not this product")
def reject(
    video_id: RowId, proposal_id: RowId, user: User = required_user, session: Session = db_session
) -> ProposalOut:
    return proposal_out(autotag.reject(session, video_id, proposal_id, user))
