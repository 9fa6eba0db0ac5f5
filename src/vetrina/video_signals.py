"""What a video's media playlists carry besides its segments (media/playlists.py `Signals`): its product moments
(shoppable/moments.py) and its linear ad breaks as HLS Interstitials (ads/interstitials.py), gathered here since
both domains sit below this module and neither may ask the other."""

from __future__ import annotations

from datetime import UTC, datetime

from vetrina.ads import interstitials
from vetrina.ads.decide import CampaignBook
from vetrina.ads.serve import ad_settings
from vetrina.context import Context
from vetrina.media.models import Video, VideoStatus
from vetrina.media.playlists import Signals, SignalsCache, anchor_of, date_ranges_of
from vetrina.shoppable import moments

_NO_VIDEO = Signals(datetime(2000, 1, 1, tzinfo=UTC))


def playlist_signals(ctx: Context, video_id: int, base_url: str) -> Signals:
    """The video's signals for its media playlists, from the per-process cache when fresh."""

    def build() -> Signals:
        with ctx.db.session() as session:
            video = session.get(Video, video_id)
            if video is None or video.status != VideoStatus.ready:
                return _NO_VIDEO
            settings = ad_settings(session, video, ctx.settings.default_currency, ctx.caches.get(CampaignBook))
            ranges = moments.date_ranges(ctx, session, video, base_url) + interstitials.date_ranges(settings, base_url)
            return Signals(anchor_of(video.created_at), date_ranges_of(ranges))

    return ctx.caches.get(SignalsCache).get_or_build(video_id, base_url, build)
