"""/api/v1/partners/feeds: a partner's catalogue feeds, their import runs and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.partners import runs
from vetrina.partners import service as partners
from vetrina.partners.models import FeedItem, FeedRun, PartnerFeed
from vetrina.web.api.schemas import ShownText
from vetrina.web.deps import RowId, db_session, get_context, required_user

router = APIRouter(prefix="/api/v1/partners/feeds", tags=["partners"])


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000, description="An http(s) URL of an MRSS or CSV feed.")
    format: Literal["auto", "mrss", "csv"] = "auto"
    rerun_hours: float | None = Field(None, ge=1, le=24 * 90, description="Re-read the feed this often.")


class FeedOut(BaseModel):
    id: int
    name: str
    url: str
    format: str
    rerun_hours: float | None
    next_run_at: datetime | None
    created_at: datetime


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fetch_media: bool = Field(True, description="Fetch and transcode new titles' media after the import.")


class FailureOut(BaseModel):
    position: int
    guid: str | None
    reason: ShownText


class RunOut(BaseModel):
    run_id: int
    feed_id: int
    status: str = Field(description="queued | running | done | failed")
    progress: float
    total: int | None
    done: int
    created: int
    updated: int
    unchanged: int
    failed: int
    removed: int
    error: ShownText | None
    failures: list[FailureOut] = Field(description="The first 1,000 items that failed, with the reason.")
    created_at: datetime
    finished_at: datetime | None


class ItemOut(BaseModel):
    guid: str
    title: str
    video_id: int | None
    media_status: str
    media_error: ShownText | None
    removed: bool
    updated_at: datetime


class ItemsOut(BaseModel):
    items: list[ItemOut]
    total: int
    page: int
    per_page: int


def feed_out(feed: PartnerFeed) -> FeedOut:
    return FeedOut(
        id=feed.id,
        name=feed.name,
        url=feed.source,
        format=feed.format,
        rerun_hours=feed.rerun_hours,
        next_run_at=feed.next_run_at,
        created_at=feed.created_at,
    )


def run_out(session: Session, run: FeedRun, with_failures: bool = True) -> RunOut:
    found = runs.failures(session, run) if with_failures else []
    return RunOut(
        run_id=run.id,
        feed_id=run.feed_id,
        status=run.status,
        progress=run.progress,
        total=run.total,
        done=run.cursor,
        created=run.created,
        updated=run.updated,
        unchanged=run.unchanged,
        failed=run.failed,
        removed=run.removed,
        error=run.error,
        created_at=run.created_at,
        finished_at=run.finished_at,
        failures=[FailureOut(position=f.position, guid=f.guid, reason=f.reason) for f in found],
    )


def item_out(item: FeedItem) -> ItemOut:
    return ItemOut(
        guid=item.guid,
        title=item.title,
        video_id=item.video_id,
        media_status=item.media_status,
        media_error=item.media_error,
        removed=item.removed,
        updated_at=item.updated_at,
    )


@router.post("", status_code=201, response_model=FeedOut, summary="Register a feed (the same URL twice is one feed)")
def create_feed(request: Request, body: FeedIn, user: User = required_user, session: Session = db_session) -> FeedOut:
    settings = get_context(request).settings
    feed = partners.create_feed(
        session,
        user,
        name=body.name,
        source=body.url,
        fmt=body.format,
        rerun_hours=body.rerun_hours,
        allow_private=settings.fetch_allow_private,
    )
    return feed_out(feed)


@router.get("", response_model=list[FeedOut], summary="Your feeds")
def list_feeds(user: User = required_user, session: Session = db_session) -> list[FeedOut]:
    return [feed_out(f) for f in partners.list_feeds(session, user)]


@router.get("/{feed_id}", response_model=FeedOut, summary="One feed")
def read_feed(feed_id: RowId, user: User = required_user, session: Session = db_session) -> FeedOut:
    return feed_out(partners.get_feed(session, feed_id, user))


@router.post("/{feed_id}/runs", status_code=202, response_model=RunOut, summary="Import the feed now")
def start_run(
    request: Request,
    feed_id: RowId,
    body: RunIn | None = None,
    user: User = required_user,
    session: Session = db_session,
) -> RunOut:
    feed = partners.get_feed(session, feed_id, user)
    fetch_media = body.fetch_media if body else True
    run = runs.start_run(get_context(request), session, feed, "api", fetch_media=fetch_media)
    return run_out(session, run, with_failures=False)


@router.get("/{feed_id}/runs", response_model=list[RunOut], summary="The feed's runs, newest first")
def list_runs(feed_id: RowId, user: User = required_user, session: Session = db_session) -> list[RunOut]:
    feed = partners.get_feed(session, feed_id, user)
    return [run_out(session, r, with_failures=False) for r in runs.list_runs(session, feed)]


@router.get("/{feed_id}/runs/{run_id}", response_model=RunOut, summary="A run's progress and report")
def read_run(feed_id: RowId, run_id: RowId, user: User = required_user, session: Session = db_session) -> RunOut:
    feed = partners.get_feed(session, feed_id, user)
    return run_out(session, runs.get_run(session, feed, run_id))


@router.get("/{feed_id}/items", response_model=ItemsOut, summary="The titles the feed has delivered")
def list_items(
    feed_id: RowId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    user: User = required_user,
    session: Session = db_session,
) -> ItemsOut:
    feed = partners.get_feed(session, feed_id, user)
    rows, total = partners.items(session, feed, page, per_page)
    return ItemsOut(items=[item_out(i) for i in rows], total=total, page=page, per_page=per_page)
