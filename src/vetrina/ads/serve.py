"""Answering players: a slot's VAST (the auction's winner as an InLine or Wrapper ad, or no ad) and a video's
VMAP (its ad breaks), with tracking URLs that come back to Vetrina."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.ads import simid, tracking, traffic
from vetrina.ads.decide import CampaignBook, Candidate, Decision, Request, decide
from vetrina.ads.fetch import resolve
from vetrina.ads.models import VideoAdSettings
from vetrina.ads.vast import Ad, Creative, Linear, MediaFile, NonLinear, Pricing, Resource, Tracking, Vast
from vetrina.ads.vmap import AdBreak
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product
from vetrina.context import Context, Topic
from vetrina.db import Database
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.jobs import job
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.money import Money
from vetrina.rights import service as rights
from vetrina.shoppable.autotag.frames import scene_cuts
from vetrina.storage import absolute_url

LINEAR_EVENTS = ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "skip", "pause", "resume")
NO_AD_ERROR = 303  # VAST: no ad (for a wrapper's request); also what an empty answer reports to its Error URL
SKIP_AFTER_S = 5.0


def ad_settings(session: Session, video: Video, currency: str, book: CampaignBook | None = None) -> VideoAdSettings:
    row = book.ad_settings(session, video.id) if book is not None else session.get(VideoAdSettings, video.id)
    return row or VideoAdSettings(
        video_id=video.id, preroll=True, midrolls_s=[], overlays_s=[], floor_cpm=0, currency=currency
    )


def set_ad_settings(
    ctx: Context,
    session: Session,
    video_id: int,
    user: User,
    preroll: bool,
    midrolls_s: list[float],
    overlays_s: list[float],
    floor: Money,
    snap_to_scenes: bool = False,
) -> VideoAdSettings:
    """The owner's ad breaks and floor price for a video (breaks inside the video, at most 20 of each); with
    `snap_to_scenes`, a job then moves each mid-roll to the nearest scene cut."""
    video = media.video_for_change(session, video_id, user)
    if len(midrolls_s) > 20 or len(overlays_s) > 20:
        raise InvalidInput(_("At most 20 mid-rolls and 20 overlays."), field="midrolls_s")
    if any(not 0 <= s < video.duration_s for s in midrolls_s + overlays_s):
        raise InvalidInput(
            _("Breaks lie within the video's {duration_s:.0f} s.", duration_s=video.duration_s), field="midrolls_s"
        )
    if floor.amount < 0:
        raise InvalidInput(_("A floor price is zero or more."), field="floor_cpm")
    row = session.get(VideoAdSettings, video.id) or VideoAdSettings(video_id=video.id)
    row.preroll, row.midrolls_s, row.overlays_s = preroll, sorted(midrolls_s), sorted(overlays_s)
    row.floor_cpm, row.currency, row.snap_to_scenes = floor.amount, floor.currency, snap_to_scenes
    session.add(row)
    ctx.caches.forget_after_commit(session, Topic.campaigns)  # the campaign book keeps ad settings too
    if snap_to_scenes and row.midrolls_s:
        ctx.queue.enqueue_after_commit(session, SNAP_JOB, video.id)
    return row


SNAP_JOB = "ads.snap_midrolls"
SNAP_WINDOW_S = 15.0  # how far a mid-roll may move to reach a cut


def snapped(midrolls_s: list[float], cuts: list[float]) -> list[float]:
    """Each mid-roll at the nearest cut within SNAP_WINDOW_S (or where it was), without two at one cut."""
    out: list[float] = []
    for wanted in midrolls_s:
        near = [c for c in cuts if abs(c - wanted) <= SNAP_WINDOW_S and c not in out]
        out.append(min(near, key=lambda c: abs(c - wanted)) if near else wanted)
    return sorted(set(out))


@job(SNAP_JOB)
def snap_midrolls_job(ctx: Context, video_id: int) -> None:
    """Find the video's scene cuts and move its mid-rolls onto them."""
    with ctx.db.session() as session:
        video = session.get(Video, video_id)
        if video is None or not video.source_key:
            return
        source_key = video.source_key
    with ctx.store.local_copy(source_key) as source:
        cuts = scene_cuts(source, cut_threshold=ctx.settings.autotag_cut_threshold)
    with ctx.db.session(write=True) as session:
        row = session.get(VideoAdSettings, video_id, with_for_update=True)
        if row is not None and row.snap_to_scenes:
            row.midrolls_s = snapped(list(row.midrolls_s), cuts)
            ctx.caches.forget_after_commit(session, Topic.campaigns)


def slot_kind(settings: VideoAdSettings, slot: str) -> str:
    """The kind of ad a slot takes: `preroll` and `midroll-N` are linear, `overlay-N` non-linear."""
    if slot == "preroll" and settings.preroll:
        return "linear"
    name, _dash, number = slot.partition("-")
    if number.isdigit():
        index = int(number) - 1
        if name == "midroll" and 0 <= index < len(settings.midrolls_s):
            return "linear"
        if name == "overlay" and 0 <= index < len(settings.overlays_s):
            return "overlay"
    raise InvalidInput(_("The video has no ad slot {slot}.", slot=repr(slot)), field="slot")


def breaks(settings: VideoAdSettings, base_url: str, video_id: int) -> list[AdBreak]:
    def tag(slot: str) -> str:
        return f"{base_url}/api/v1/ads/vast?{urlencode({'video_id': video_id, 'slot': slot})}"

    out = [AdBreak("preroll", 0, "linear", tag("preroll"))] if settings.preroll else []
    out += [AdBreak(f"overlay-{i}", s, "nonlinear", tag(f"overlay-{i}")) for i, s in enumerate(settings.overlays_s, 1)]
    out += [AdBreak(f"midroll-{i}", s, "linear", tag(f"midroll-{i}")) for i, s in enumerate(settings.midrolls_s, 1)]
    return sorted(out, key=lambda b: b.offset_s or 0)


def _events_url(base_url: str, decision_id: str, event: str) -> str:
    macros = "code=[ERRORCODE]&cb=[CACHEBUSTING]" if event == "error" else "cb=[CACHEBUSTING]"
    return f"{base_url}/api/v1/ads/events/{decision_id}/{event}?{macros}"


def _linear_creative(
    ctx: Context, session: Session, base_url: str, campaign: Candidate, decision: Decision
) -> Creative | None:
    book = ctx.caches.get(CampaignBook)
    video = book.video(session, campaign.video_id) if campaign.video_id else None
    if video is None:
        return None
    hls_url = media.video_media_urls(ctx, video)["hls_url"]
    if hls_url is None:  # not ready to stream
        return None
    files = [
        MediaFile(
            absolute_url(base_url, hls_url), "application/x-mpegURL", video.width, video.height, delivery="streaming"
        )
    ]
    if video.source_key and PurePosixPath(video.source_key).suffix == ".mp4":
        scope, _, name = video.source_key.rpartition("/")
        source = ctx.store.signed_url(scope, name, clock.now().timestamp(), ctx.settings.media_url_ttl_s)
        files.append(MediaFile(absolute_url(base_url, source), "video/mp4", video.width, video.height, codec="avc1"))
    linear = Linear(
        duration_s=round(video.duration_s, 3),
        media_files=files,
        tracking=[Tracking(e, _events_url(base_url, decision.decision_id, e)) for e in LINEAR_EVENTS],
        click_through=f"{base_url}/api/v1/ads/click/{decision.decision_id}",
        skip_offset_s=SKIP_AFTER_S if campaign.skippable else None,
    )
    return Creative(
        id=f"video-{video.id}",
        ad_id=str(campaign.id),
        universal_ad_ids=[("vetrina.video", str(video.id))],
        linear=linear,
    )


def _overlay_creative(
    ctx: Context, session: Session, base_url: str, campaign: Candidate, decision: Decision
) -> Creative | None:
    product = session.get(Product, campaign.product_id) if campaign.product_id else None
    if product is None or product.deleted or not product.published or not product.images:
        return None
    card = absolute_url(base_url, catalog.image_urls(ctx, product.images[0])["card"])
    overlay = NonLinear(
        width=480,
        height=480,
        resources=[Resource("static", card, "image/jpeg")],
        click_through=f"{base_url}/api/v1/ads/click/{decision.decision_id}",
        min_suggested_duration_s=8.0,
        click_tracking=[_events_url(base_url, decision.decision_id, "click")],
        id=f"product-{product.id}",
    )
    # The same card as an interactive SIMID creative, for players that speak SIMID; the static one stays first,
    # for players without SIMID (Vetrina's own takes the first NonLinear).
    interactive = dataclasses.replace(
        overlay,
        resources=[Resource("iframe", simid.creative_url(base_url, decision.decision_id))],
        id=f"product-{product.id}-simid",
        api_framework="SIMID",
    )
    return Creative(
        id=f"product-{product.id}",
        ad_id=str(campaign.id),
        universal_ad_ids=[("vetrina.product", str(product.id))],
        non_linears=[overlay, interactive],
        non_linear_tracking=[Tracking("creativeView", _events_url(base_url, decision.decision_id, "creativeView"))],
    )


@dataclass(frozen=True)
class ThirdParty:
    """A decision won by a third-party tag: resolved after the decision is committed (never inside a transaction,
    since fetching takes up to seconds)."""

    wrapper: Ad
    campaign_id: int
    decision_id: str


def _third_party(base_url: str, campaign: Candidate, decision: Decision, common: dict[str, Any]) -> ThirdParty:
    ours = Ad(
        wrapper_url=campaign.vast_url,
        **common,
        creatives=[
            Creative(
                linear=Linear(
                    0.0,
                    tracking=[Tracking(e, _events_url(base_url, decision.decision_id, e)) for e in LINEAR_EVENTS],
                    click_tracking=[_events_url(base_url, decision.decision_id, "click")],
                )
            )
        ],
    )
    return ThirdParty(ours, campaign.id, decision.decision_id)


def resolve_third_party(
    db: Database, signing_key: bytes, base_url: str, pending: ThirdParty, allow_private: bool
) -> Vast:
    """The third-party chain resolved to its InLine ad with Vetrina's tracking passed along; or no ad."""
    resolution = resolve(pending.wrapper, allow_private)
    if resolution.ad is None:
        with db.session(write=True) as session:
            tracking.record_event(
                session, signing_key, pending.decision_id, "error", clock.now(), resolution.error_code
            )
        return Vast(errors=[f"{base_url}/api/v1/ads/events/none/error?code={resolution.error_code}"])
    return Vast(
        ads=[dataclasses.replace(resolution.ad, id=str(pending.campaign_id), ad_serving_id=pending.decision_id)]
    )


def no_ad(base_url: str) -> Vast:
    """A valid answer with no ad, whose Error URL tells us the player asked."""
    return Vast(errors=[f"{base_url}/api/v1/ads/events/none/error?code={NO_AD_ERROR}"])


def answer(ctx: Context, session: Session, base_url: str, request: Request) -> Vast | ThirdParty:
    """The VAST answer for one slot: the winner's ad, or a valid document with no ad; a third-party winner is
    returned to be resolved once this transaction has committed."""
    decision = decide(session, request, ctx.caches.get(CampaignBook), ctx.store.signing_key)
    if decision is None:
        return no_ad(base_url)
    campaign = decision.campaign
    common: dict[str, Any] = {
        "id": str(campaign.id),
        "ad_system": "Vetrina",
        "ad_serving_id": decision.decision_id,
        "impressions": [_events_url(base_url, decision.decision_id, "impression")],
        "errors": [_events_url(base_url, decision.decision_id, "error")],
    }
    if campaign.vast_url:
        return _third_party(base_url, campaign, decision, common)
    build = _linear_creative if campaign.kind == "linear" else _overlay_creative
    creative = build(ctx, session, base_url, campaign, decision)
    if creative is None:  # its video or product went away since the campaign was checked
        return no_ad(base_url)
    # Pricing is per thousand impressions for CPM, per click for CPC.
    price = (decision.price.as_cpm() if campaign.bid_model == "cpm" else decision.price.rounded()).decimal_string()
    return Vast(
        ads=[
            Ad(
                ad_title=campaign.name,
                creatives=[creative],
                pricing=Pricing(campaign.bid_model.upper(), campaign.currency, price),
                **common,
            )
        ]
    )


def request_for(
    video: Video,
    slot: str,
    kind: str,
    viewer_key: str,
    territory: str | None,
    device: str | None,
    now: datetime,
    settings: VideoAdSettings,
    address_tag: str = "",
) -> Request:
    return Request(
        video=video,
        slot=slot,
        kind=kind,
        viewer_key=viewer_key,
        territory=territory,
        device=device,
        now=now,
        floor_cpm=settings.floor_cpm if settings.floor_cpm else 0,
        currency=settings.currency if settings.floor_cpm else None,
        address_tag=address_tag,
    )


@dataclass(frozen=True)
class Viewer:
    """Who asks for an ad: the key their frequency caps count under (`traffic.viewer_identity`), the signed-in user
    (if any), where they are and on what device, and their client address (rate limits and beacons check it)."""

    key: str
    user: User | None
    territory: str
    device: str | None
    address: str = ""


def vast_for_slot(ctx: Context, base_url: str, video_id: int, slot: str, viewer: Viewer) -> Vast:
    """The VAST answer for one ad slot of a video: the auction's winner for this viewer, or a valid document with
    no ad (no winner, or no licence for ads where the viewer is). Deciding only reads; a third-party winner's
    chain is fetched after that read has ended. TooManyRequests when this viewer or address asks too often."""
    traffic.limit_ad_requests(ctx.rate_limits, viewer.key, viewer.address)
    served_from = traffic.address_tag(ctx.store.signing_key, viewer.address) if viewer.address else ""
    book = ctx.caches.get(CampaignBook)
    with ctx.db.session() as session:
        video = book.video(session, video_id)
        if video is None or not (video.status == "ready" and video.published):
            video = media.get_video(session, video_id, viewer.user)  # not public: the owner's own check, uncached
        owner_breaks = ad_settings(session, video, ctx.settings.default_currency, book)
        kind = slot_kind(owner_breaks, slot)
        ask = request_for(
            video, slot, kind, viewer.key, viewer.territory, viewer.device, clock.now(), owner_breaks, served_from
        )
        if rights.check(ctx, session, video.id, viewer.territory, "ads").allowed:
            document = answer(ctx, session, base_url, ask)
        else:  # not licensed for ads here: a valid answer with no ad
            document = no_ad(base_url)
    if isinstance(document, ThirdParty):
        return resolve_third_party(ctx.db, ctx.store.signing_key, base_url, document, ctx.settings.fetch_allow_private)
    return document


def vmap_breaks(
    ctx: Context,
    session: Session,
    base_url: str,
    video_id: int,
    user: User | None,
    territory: str,
    default_currency: str,
) -> list[AdBreak]:
    """The ad breaks of a video the viewer may watch here (451 where it may not be shown): none where it may not
    be shown with ads."""
    video, _ = rights.playable(ctx, session, video_id, user, territory)
    if not rights.check(ctx, session, video.id, territory, "ads").allowed:
        return []
    return breaks(ad_settings(session, video, default_currency), base_url, video.id)
