"""Auto-tagging runs and their proposals: who may start one, the job that does the work, accepting and
rejecting what it proposes.

The video's owner (or an admin) looks for its own products, or for any products it names; when the owner
allows other merchants to tag, a merchant may look for its own products. Proposals belong to whoever
asked. Accepted ones become ordinary tags through `shoppable.service.create_tag`, with all its checks.
A new run replaces its requester's open proposals and never proposes again what was already decided.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from huey import crontab
from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.catalog.models import Channel, Product
from vetrina.context import Context
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, VetrinaError
from vetrina.i18n import _
from vetrina.jobs import periodic_job
from vetrina.leases import Lease, leased_job, run_under_lease
from vetrina.media import service as media
from vetrina.media.models import Video, VideoStatus
from vetrina.settings import Settings
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.autotag.matcher import FeatureMatcher, MatcherSettings, Reference
from vetrina.shoppable.autotag.recognize import RecognitionSettings, recognize
from vetrina.shoppable.autotag.tracks import TrackSettings
from vetrina.shoppable.models import AutotagRun, AutotagStatus, ProductTag, ProposalState, TagProposal

log = logging.getLogger(__name__)
AUTOTAG_JOB = "shoppable.autotag"
MAX_UNFINISHED_RUNS = 3  # per requester: runs are heavy and share the queue with transcodes
_REFERENCE_SIZE = "card"  # 480 px: the size the matcher works at, so nothing bigger is decoded


def _is_owner(user: User, video: Video) -> bool:
    return user.role == Role.admin or user.id == video.owner_id


def _candidates(ctx: Context, session: Session, video: Video, user: User, product_ids: list[int] | None) -> list[int]:
    """The products this user may look for in this video."""
    owner = _is_owner(user, video)
    if not owner and not (video.allow_merchant_tags and user.role == Role.merchant):
        raise Forbidden(_("Only the video's owner runs auto-tagging here (other merchants may when it allows tags)."))
    limit = ctx.settings.autotag_max_candidates
    if product_ids and len(set(product_ids)) > limit:
        raise InvalidInput(_("A run looks for at most {limit} products.", limit=limit), field="product_ids")
    query = select(Product.id, Product.merchant_id, Product.published).where(Product.deleted.is_(False))
    if product_ids:
        rows = session.execute(query.where(Product.id.in_(set(product_ids)))).all()
        # The owner may look for any product it can see; another merchant only for its own.
        allowed = {r.id for r in rows if (r.merchant_id == user.id) or (owner and (r.published or user.is_admin))}
        refused = sorted(set(product_ids) - allowed)
        if refused:
            raise Forbidden(
                _("You cannot look for product(s) {product_ids}.", product_ids=", ".join(map(str, refused[:10]))),
                field="product_ids",
            )
        ids = sorted(allowed)
    else:
        merchant = video.owner_id if owner else user.id
        ids = list(
            session.scalars(
                select(Product.id)
                .where(Product.merchant_id == merchant, Product.deleted.is_(False))
                .order_by(Product.id)
                .limit(limit + 1)
            )
        )
    if not ids:
        raise InvalidInput(_("There are no products to look for: add products with photos first."), field="product_ids")
    if len(ids) > limit:
        raise InvalidInput(
            _("A run looks for at most {limit} products; name the ones to look for.", limit=limit), field="product_ids"
        )
    return ids


def catalogue_key(session: Session, product_ids: list[int]) -> str:
    """A fingerprint of the candidates' photos: it changes when a photo is added or removed."""
    products = session.scalars(select(Product).where(Product.id.in_(product_ids)).options(selectinload(Product.images)))
    parts = sorted(f"{p.id}:{','.join(str(i.id) for i in p.images)}" for p in products if not p.deleted)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def start_run(ctx: Context, session: Session, video_id: int, user: User, product_ids: list[int] | None) -> AutotagRun:
    """Queue a run (once this transaction commits); an unfinished run for the same asker is returned instead."""
    video = media.get_video(session, video_id, user)
    if video.status != VideoStatus.ready:
        raise Conflict(_("The video is still being prepared; run auto-tagging once it is ready."))
    candidates = _candidates(ctx, session, video, user, product_ids)
    unfinished = session.scalar(
        select(AutotagRun).where(
            AutotagRun.video_id == video.id,
            AutotagRun.requested_by == user.id,
            AutotagRun.status.in_([AutotagStatus.queued.value, AutotagStatus.running.value]),
        )
    )
    if unfinished is not None:
        return unfinished
    busy = (
        session.scalar(
            select(func.count())
            .select_from(AutotagRun)
            .where(
                AutotagRun.requested_by == user.id,
                AutotagRun.status.in_([AutotagStatus.queued.value, AutotagStatus.running.value]),
            )
        )
        or 0
    )
    if busy >= MAX_UNFINISHED_RUNS:
        raise TooManyRequests(
            _("You have {busy} auto-tagging runs waiting or running; start more once they finish.", busy=busy),
            retry_after_s=30,
        )
    run = AutotagRun(
        video_id=video.id,
        requested_by=user.id,
        product_ids=candidates,
        catalogue_key=catalogue_key(session, candidates),
        status=AutotagStatus.queued.value,
        progress=0.0,
        notes=[],
        proposals=0,
        created_at=clock.now(),
    )
    session.add(run)
    session.flush()
    ctx.queue.enqueue_after_commit(session, AUTOTAG_JOB, run.id)
    return run


def get_run(session: Session, video_id: int, run_id: int, user: User) -> AutotagRun:
    run = session.get(AutotagRun, run_id)
    if run is None or run.video_id != video_id or (run.requested_by != user.id and user.role != Role.admin):
        raise NotFound(
            _("Video {video_id} has no auto-tagging run {run_id} of yours.", video_id=video_id, run_id=run_id)
        )
    return run


def list_proposals(session: Session, video_id: int, user: User, state: str | None = None) -> list[TagProposal]:
    """The proposals the user may decide on: its own; the owner and admins see everyone's."""
    video = media.get_video(session, video_id, user)
    query = (
        select(TagProposal)
        .join(Product, Product.id == TagProposal.product_id)
        .where(TagProposal.video_id == video.id, Product.deleted.is_(False))
    )
    if not _is_owner(user, video):
        query = query.where(TagProposal.requested_by == user.id)
    if state is not None:
        if state not in ProposalState.__members__:
            raise InvalidInput(_("state is proposed, accepted or rejected."), field="state")
        query = query.where(TagProposal.state == state)
    return list(session.scalars(query.order_by(TagProposal.start_s, TagProposal.id).limit(2000)))


def _proposal_for_decision(session: Session, video_id: int, proposal_id: int, user: User) -> TagProposal:
    proposal = session.get(TagProposal, proposal_id, with_for_update=True)
    video = media.get_video(session, video_id, user)
    if proposal is None or proposal.video_id != video.id:
        raise NotFound(
            _("Video {video_id} has no tag proposal {proposal_id}.", video_id=video_id, proposal_id=proposal_id)
        )
    if proposal.requested_by != user.id and not _is_owner(user, video):
        raise Forbidden(_("Only whoever asked for this proposal, or the video's owner, decides on it."))
    if proposal.state != ProposalState.proposed:
        raise Conflict(_("This proposal is already {state}.", state=proposal.state))
    return proposal


def accept(
    ctx: Context, session: Session, video_id: int, proposal_id: int, user: User, changes: dict[str, Any]
) -> TagProposal:
    """Make the proposal an ordinary tag, with the user's adjustments (span, box, label)."""
    proposal = _proposal_for_decision(session, video_id, proposal_id, user)
    product = session.get(Product, proposal.product_id)
    if product is None or product.deleted:
        raise Conflict(_("The product of this proposal is no longer in the catalogue."))
    start = float(changes.get("start_s", proposal.start_s))
    end = float(changes.get("end_s", proposal.end_s))
    keyframes = tuple(k for k in proposal.keyframes if start <= k["t"] <= end) if "box" not in changes else ()
    spec = shoppable.TagSpec(
        product_id=proposal.product_id,
        start_s=start,
        end_s=end,
        box=changes.get("box", proposal.box),
        keyframes=keyframes,
        label=changes.get("label", ""),
    )
    tag = shoppable.create_tag(ctx, session, video_id, user, spec)
    session.flush()
    proposal.state, proposal.tag_id, proposal.decided_at = ProposalState.accepted.value, tag.id, clock.now()
    return proposal


def reject(session: Session, video_id: int, proposal_id: int, user: User) -> TagProposal:
    proposal = _proposal_for_decision(session, video_id, proposal_id, user)
    proposal.state, proposal.decided_at = ProposalState.rejected.value, clock.now()
    return proposal


# The job -----------------------------------------------------------------------------------------


def _references(
    ctx: Context, product_ids: list[int], heartbeat: Callable[[float], object]
) -> tuple[list[Reference], list[str]]:
    """Grayscale reference photos of the candidates, and notes on the products that have none usable."""
    references, without = [], []
    with ctx.db.session() as session:
        products = list(
            session.scalars(
                select(Product)
                .where(Product.id.in_(product_ids), Product.deleted.is_(False))
                .options(selectinload(Product.images))
            )
        )
    for product in products:
        heartbeat(0.0)  # loading thousands of photos takes a while
        found = False
        for image in product.images:
            try:
                key = f"{image.key}/{_REFERENCE_SIZE}.jpg"
                with ctx.store.local_copy(key) as path, Image.open(path) as opened:
                    references.append(Reference(product.id, np.asarray(opened.convert("L"))))
                found = True
            except (OSError, UnidentifiedImageError):
                continue
        if not found:
            without.append(product.title)
    notes: list[str] = []
    if without:
        shown = ", ".join(sorted(without)[:5]) + (" …" if len(without) > 5 else "")
        notes.append(
            _(
                "{count} product(s) have no photo to look for and were skipped: {shown}.",
                count=len(without),
                shown=shown,
            )
        )
    return references, notes


def build_matcher(references: list[Reference], settings: Settings) -> FeatureMatcher:
    """The matcher runs use: the place to choose another `Matcher` (an embedding model, say)."""
    return FeatureMatcher(
        references, MatcherSettings(min_inliers=settings.autotag_min_inliers, ratio=settings.autotag_ratio)
    )


@leased_job(AUTOTAG_JOB, AutotagRun)
def autotag_job(ctx: Context, run_id: int) -> None:
    """Recognise the run's candidate products in its video and store the proposals."""
    run_under_lease(
        ctx,
        AutotagRun,
        run_id,
        _recognise,
        explain=_failure,
        failure_values=lambda: {"finished_at": clock.now()},
    )


def _recognise(lease: Lease) -> None:
    ctx, settings = lease.ctx, lease.ctx.settings
    with ctx.db.session() as session:
        run = lease.get(session, AutotagRun)
        video = session.get_one(Video, run.video_id)  # a foreign key: deleting the video deletes its runs
        product_ids, source, duration = list(run.product_ids), video.source_key, video.duration_s
    assert source is not None  # set by create_video in the transaction that made the video
    references, notes = _references(ctx, product_ids, lease.heartbeat)
    matcher = build_matcher(references, settings)
    unusable = {r.product_id for r in references} - matcher.usable_products
    if unusable:
        notes.append(
            _("{count} product(s) have photos too plain to recognise (no distinct detail).", count=len(unusable))
        )
    found = []
    if matcher.usable_products:
        with ctx.store.local_copy(source) as source_path:
            found = recognize(
                source_path,
                duration,
                matcher,
                RecognitionSettings(
                    every_s=settings.autotag_every_s,
                    analysis_width=settings.autotag_analysis_width,
                    cut_threshold=settings.autotag_cut_threshold,
                ),
                TrackSettings(
                    every_s=settings.autotag_every_s,
                    min_samples=settings.autotag_min_samples,
                    min_confidence=settings.autotag_min_confidence,
                ),
                lease.heartbeat,
            )
    _store(lease, found, notes)


def _failure(exc: Exception) -> str:
    return (
        exc.detail if isinstance(exc, VetrinaError) else _("Recognition failed ({kind}).", kind=exc.__class__.__name__)
    )


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return union > 0 and inter / union >= 0.5


def _store(lease: Lease, found: list[Any], notes: list[str]) -> None:
    """Replace the asker's open proposals with the new ones, leaving out what was already decided."""
    with lease.ctx.db.session(write=True) as session:
        run = lease.get(session, AutotagRun)
        lease.renew(session)
        mine = (TagProposal.video_id == run.video_id, TagProposal.requested_by == run.requested_by)
        session.execute(delete(TagProposal).where(*mine, TagProposal.state == ProposalState.proposed.value))
        decided = [(p.product_id, (p.start_s, p.end_s)) for p in session.scalars(select(TagProposal).where(*mine))]
        # Tags made by hand count as decided too: a proposal would only repeat them.
        tags = session.scalars(select(ProductTag).where(ProductTag.video_id == run.video_id))
        decided += [(t.product_id, (t.start_s, t.end_s)) for t in tags]
        kept = 0
        now = clock.now()
        gone = set(
            session.scalars(select(Product.id).where(Product.id.in_(run.product_ids), Product.deleted.is_(True)))
        )
        for proposal in found:
            if proposal.product_id in gone:
                continue
            span = (proposal.start_s, proposal.end_s)
            if any(pid == proposal.product_id and _overlaps(span, other) for pid, other in decided):
                continue
            session.add(
                TagProposal(
                    video_id=run.video_id,
                    run_id=run.id,
                    requested_by=run.requested_by,
                    product_id=proposal.product_id,
                    start_s=proposal.start_s,
                    end_s=proposal.end_s,
                    box={k: round(v, 5) for k, v in proposal.box.items()},
                    keyframes=proposal.keyframes,
                    confidence=proposal.confidence,
                    state=ProposalState.proposed.value,
                    created_at=now,
                )
            )
            kept += 1
        finished = {"status": AutotagStatus.done.value, "progress": 1.0, "proposals": kept, "notes": notes}
        lease.renew(session, finished_at=now, **finished)


@periodic_job("shoppable.autotag_sweep", crontab(minute="*/5"))
def autotag_sweep(ctx: Context, limit: int = 20) -> list[int]:
    """For channels that auto-tag, start runs for ready videos never run, or last run before their catalogue's
    photos changed. Returns the new runs. (Runs whose worker went quiet are `leases.requeue_stalled`'s.)"""
    started: list[int] = []
    with ctx.db.session() as session:
        owners = list(session.scalars(select(Channel.merchant_id).where(Channel.auto_tag.is_(True))))
    for owner_id in owners:
        with ctx.db.session(write=True) as session:
            owner = session.get(User, owner_id)
            if owner is None:  # deleted since the channels were read
                continue
            videos = list(
                session.scalars(
                    select(Video)
                    .where(Video.owner_id == owner_id, Video.status == VideoStatus.ready.value)
                    .order_by(Video.id)
                )
            )
            if not videos:
                continue
            try:
                key = catalogue_key(session, _candidates(ctx, session, videos[0], owner, None))
            except VetrinaError as exc:
                log.info("auto-tagging for merchant %s skipped: %s", owner_id, exc.detail)
                continue
            # Up to date, or waiting its turn: either way nothing to start.
            current = set(
                session.scalars(
                    select(AutotagRun.video_id).where(
                        AutotagRun.requested_by == owner_id,
                        or_(
                            AutotagRun.catalogue_key == key,
                            AutotagRun.status.in_([AutotagStatus.queued.value, AutotagStatus.running.value]),
                        ),
                    )
                )
            )
            for video in videos:
                if len(started) >= limit:
                    return started
                if video.id in current:
                    continue
                try:
                    run = start_run(ctx, session, video.id, owner, None)
                except VetrinaError as exc:  # e.g. too many runs unfinished: the next sweep goes on
                    log.info("auto-tagging video %s deferred: %s", video.id, exc.detail)
                    break
                started.append(run.id)
    return started
