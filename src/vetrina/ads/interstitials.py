"""A video's linear ad breaks carried in its playlists as HLS Interstitials (RFC 8216bis appendix D; played by
hls.js, Shaka Player and Apple's players): each pre-roll and mid-roll is an `EXT-X-DATERANGE` of class
`com.apple.hls.interstitial` whose `X-ASSET-LIST` asks Vetrina, when the player reaches it, for this viewer's ad
(the auction still decides per viewer, as for VAST); mid-rolls are also SCTE-35 cues for broadcast tooling.

The playlist is the same for every viewer (it is cached); the asset list is each viewer's own. An asset must be
HLS, so a winning ad without an HLS rendition (a third party's MP4-only VAST) is handed to the player as its VAST
document instead, for the player's own VAST path."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from vetrina import clock
from vetrina.ads import tokens, tracking
from vetrina.ads.models import Campaign, VideoAdSettings
from vetrina.ads.scte35 import splice_insert
from vetrina.ads.serve import Viewer, vast_for_slot
from vetrina.ads.traffic import Screen
from vetrina.ads.vast import Ad, Creative, Linear, Vast, web_urls_only, write_vast
from vetrina.context import Context
from vetrina.errors import InvalidInput, NotFound, VetrinaError
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.media.playlists import DateRange

INTERSTITIAL_CLASS = "com.apple.hls.interstitial"
SCTE35_CLASS = "dev.vetrina.scte35"
# No break plays longer than this (`X-PLAYOUT-LIMIT`), whatever its ads say.
MAX_BREAK_S = 120.0
# A mid-roll's expected length for broadcast tooling (`PLANNED-DURATION`): the ad is decided per viewer.
PLANNED_BREAK_S = 30.0
# Neither skipped nor seeked past: a viewer who jumps over a mid-roll plays it first.
RESTRICTIONS = "SKIP,JUMP"
log = logging.getLogger(__name__)
HLS_TYPES = frozenset({"application/x-mpegurl", "application/vnd.apple.mpegurl"})


def asset_list_url(base_url: str, video_id: int, slot: str) -> str:
    return f"{base_url}/api/v1/ads/interstitials?{urlencode({'video_id': video_id, 'slot': slot})}"


def date_ranges(settings: VideoAdSettings, base_url: str) -> list[DateRange]:
    """The video's pre-roll (played before the first frame, `CUE="PRE"`) and mid-rolls (with a SCTE-35 splice out and
    back in at the same point: the break replaces none of the film). Mid-rolls carry no `CUE="ONCE"`: hls.js 1.7.4
    stalls after a break it drops from its schedule once played."""
    video_id = settings.video_id
    ranges = []
    if settings.preroll:
        ranges.append(_interstitial("preroll", 0.0, asset_list_url(base_url, video_id, "preroll"), "PRE"))
    for number, at_s in enumerate(settings.midrolls_s, 1):
        slot = f"midroll-{number}"
        ranges.append(_interstitial(slot, at_s, asset_list_url(base_url, video_id, slot)))
        cue = (
            ("CLASS", SCTE35_CLASS),
            ("PLANNED-DURATION", PLANNED_BREAK_S),
            ("SCTE35-OUT", splice_insert(number, at_s, out_of_network=True, break_s=PLANNED_BREAK_S)),
            ("SCTE35-IN", splice_insert(number, at_s, out_of_network=False)),
        )
        ranges.append(DateRange(f"{slot}-scte35", at_s, cue))
    return ranges


def _interstitial(slot: str, at_s: float, asset_list: str, cue: str | None = None) -> DateRange:
    attributes: tuple[tuple[str, str | float], ...] = (
        ("CLASS", INTERSTITIAL_CLASS),
        ("X-ASSET-LIST", asset_list),
        ("X-RESUME-OFFSET", 0.0),
        ("X-PLAYOUT-LIMIT", MAX_BREAK_S),
        ("X-RESTRICT", RESTRICTIONS),
    )
    return DateRange(slot, at_s, attributes + ((("CUE", cue),) if cue else ()))


def asset_list(ctx: Context, base_url: str, video_id: int, slot: str, viewer: Viewer) -> dict[str, Any]:
    """The asset list (HLS Interstitials' JSON) for one break and one viewer: the winner's HLS rendition with its
    length, and beside it (`X-VETRINA-ADS`, one per asset) the tracking the player fires; or, for a winner with
    no HLS rendition, no asset and the VAST document (`X-VETRINA-VAST`); or no asset at all."""
    if slot != "preroll" and not slot.startswith("midroll-"):
        raise InvalidInput(_("Only pre-rolls and mid-rolls are interstitials."), field="slot")
    document = vast_for_slot(ctx, base_url, video_id, slot, viewer)
    return asset_list_of(document, base_url)


def asset_list_of(document: Vast, base_url: str) -> dict[str, Any]:
    """An asset list for the VAST answer: each linear ad's HLS rendition, one of our own spots by way of
    `asset_url` (so fetching it counts the impression whatever the player)."""
    assets: list[dict[str, Any]] = []
    beacons: list[dict[str, Any]] = []
    for served in document.ads:
        ad, _ = web_urls_only(served)
        creative = next((c for c in ad.creatives if c.linear is not None), None)
        if ad.wrapper_url is not None or creative is None or creative.linear is None:
            continue
        linear = creative.linear
        stream = next((m for m in linear.media_files if m.type.lower() in HLS_TYPES), None)
        if stream is None:  # only progressive files: the player's VAST path plays it
            return {"ASSETS": [], "X-VETRINA-VAST": write_vast(document).decode()}
        duration_s = min(linear.duration_s, MAX_BREAK_S - sum(a["DURATION"] for a in assets))
        if duration_s <= 0:
            break
        uri = asset_url(base_url, ad.ad_serving_id) if _ours(creative) else stream.url
        assets.append({"URI": uri, "DURATION": round(duration_s, 3)})
        beacons.append(_tracking(ad, linear))
    return {"ASSETS": assets, "X-VETRINA-ADS": beacons}


def _ours(creative: Creative) -> bool:
    """A spot of a merchant's own video (a third party's ad is theirs to count)."""
    return any(registry == "vetrina.video" for registry, _ in creative.universal_ad_ids)


def asset_url(base_url: str, decision_id: str) -> str:
    return f"{base_url}/api/v1/ads/assets/{decision_id}"


def asset_target(ctx: Context, decision_id: str) -> str:
    """Where a served spot's asset leads: the spot's signed HLS URL (NotFound for a forged or expired token, or a
    spot that is gone). Only reads, so the player is on its way at once; `count_asset_fetch` then counts it."""
    served = tokens.verify(ctx.store.signing_key, decision_id, clock.now().timestamp())
    with ctx.db.session() as session:
        campaign = session.get(Campaign, served.campaign_id)
        video = session.get(Video, campaign.video_id) if campaign is not None and campaign.video_id else None
        hls_url = media.video_media_urls(ctx, video)["hls_url"] if video is not None else None
    if hls_url is None:
        raise NotFound(_("There is no such served ad."))
    return hls_url


def count_asset_fetch(ctx: Context, decision_id: str, screen: Screen) -> None:
    """A player fetched the served spot: its impression, counted once and screened as a beacon is, so a player that
    knows nothing of Vetrina's tracking still counts (and pays)."""
    try:
        with ctx.db.session(write=True) as session:
            tracking.record_event(session, ctx.store.signing_key, decision_id, "impression", clock.now(), screen=screen)
    except VetrinaError as exc:  # the spot went away meanwhile: nothing to count, and the player is long gone
        log.info("asset fetch not counted: %s", exc.detail)


def _tracking(ad: Ad, linear: Linear) -> dict[str, Any]:
    """What the player fires for one asset, as the VAST ad says (impressions, events, clicks) and may show."""
    events: dict[str, list[str]] = {}
    for item in linear.tracking:
        events.setdefault(item.event, []).append(item.url)
    return {
        "decision_id": ad.ad_serving_id,
        "title": ad.ad_title,
        "impressions": ad.impressions,
        "errors": ad.errors,
        "events": events,
        "click_through": linear.click_through,
        "click_tracking": linear.click_tracking,
        "skip_offset_s": linear.skip_offset_s,
    }
