"""Playlist signals benchmark: what carrying a film's product moments and ad breaks in its HLS media playlist costs.
A 2-hour film (3,600 two-second segments) with 200 product tags, a pre-roll and 10 mid-rolls; beside it in the same
run, the same film's playlist with no tags and no breaks (what Vetrina served before: the stored playlist and a
program date time), and `/healthz`. Each: its ceiling from 32 connections (closed loop), then the latency of it and
/healthz at a fixed offered rate of half its ceiling (open loop), with the server's CPU per answer. Then an HLS
interstitial's asset list (this viewer's auction) beside the VAST request it replaces, the same auction.

    .venv/bin/python bench/signals.py [--clients 32] [--seconds 10] [--tags 200] [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from live import latency_at_half_ceiling, node_load, print_latency_table, served, server_pids
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.ads.models import VideoAdSettings
from vetrina.catalog import service as catalog
from vetrina.context import Context
from vetrina.media.models import Video, VideoStatus
from vetrina.money import Money
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.shoppable import service as shoppable

FILM_S = 7200
SEGMENT_S = 2


def _stored_ladder(directory: Path) -> Path:
    """A master playlist and one 720p media playlist of 3,600 segments, as the transcode writes them."""
    (directory / "720p").mkdir(parents=True)
    (directory / "master.m3u8").write_text(
        '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,'
        'mp4a.40.2"\n720p/index.m3u8\n'
    )
    segments = "".join(f"#EXTINF:{SEGMENT_S}.000000,\nseg_{i:05d}.m4s\n" for i in range(FILM_S // SEGMENT_S))
    (directory / "720p" / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f'#EXT-X-MAP:URI="init.mp4"\n{segments}#EXT-X-ENDLIST\n'
    )
    return directory


def stored_film(ctx: Context, session: Session, owner_id: int, title: str, scratch: Path) -> Video:
    """A ready, published 2-hour film whose stored ladder is `_stored_ladder`'s (no transcode)."""
    video = Video(
        owner_id=owner_id,
        title=title,
        description="",
        status=VideoStatus.ready.value,
        progress=1.0,
        duration_s=float(FILM_S),
        width=1280,
        height=720,
        frame_rate=30.0,
        has_audio=True,
        renditions=[],
        published=True,
        allow_merchant_tags=False,
        created_at=clock.now(),
    )
    session.add(video)
    session.flush()
    video.output_key = f"videos/{video.id}/hls-bench"
    ctx.store.publish_dir(_stored_ladder(scratch / title), video.output_key, last="master.m3u8")
    return video


def merchant_with_films(
    ctx: Context, session: Session, titles: tuple[str, ...], scratch: Path
) -> tuple[User, list[int]]:
    """The benchmark's merchant and a stored film of each title (their ids)."""
    merchant = accounts.create_user(session, "m@bench.example", "bench password", Role.merchant)
    session.flush()
    return merchant, [stored_film(ctx, session, merchant.id, title, scratch).id for title in titles]


def seed(settings: Settings, tags: int, scratch: Path) -> tuple[int, int]:
    """The signalled film (tags, a pre-roll, 10 mid-rolls) and the bare one; their ids."""
    ctx = build_context(settings)
    try:
        with ctx.db.session(write=True) as session:
            merchant, (signalled, bare) = merchant_with_films(ctx, session, ("Signalled", "Bare"), scratch)
            products = [
                catalog.create_product(
                    session,
                    merchant,
                    title=f'Product {i}: the "good", one',
                    description="",
                    price=Money(1000 + 37 * i, "EUR"),
                    stock=50,
                    variants=[],
                    published=True,
                )
                for i in range(40)
            ]
            session.flush()
            for i in range(tags):
                start = i * FILM_S / tags
                spec = shoppable.TagSpec(product_id=products[i % 40].id, start_s=start, end_s=start + 8)
                shoppable.create_tag(ctx, session, signalled, merchant, spec)
            midrolls = [600.0 * n for n in range(1, 11)]
            session.add(
                VideoAdSettings(
                    video_id=signalled, preroll=True, midrolls_s=midrolls, overlays_s=[], floor_cpm=0, currency="EUR"
                )
            )
            session.add(
                VideoAdSettings(video_id=bare, preroll=False, midrolls_s=[], overlays_s=[], floor_cpm=0, currency="EUR")
            )
            return signalled, bare
    finally:
        ctx.close()


def media_playlist_path(base: str, video_id: int) -> str:
    master = httpx.get(f"{base}/api/v1/videos/{video_id}").json()["hls_url"]
    variant = urljoin(base + master, "720p/index.m3u8")
    return urlsplit(variant).path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        signalled, bare = seed(settings, options.tags, Path(tmp) / "scratch")
        # One loopback address asks thousands of times a second: the ad request limits would refuse it.
        env = {**os.environ, "VETRINA_DATA_DIR": tmp, "VETRINA_RATE_LIMITS_ENABLED": "false"}
        with served(env, options.processes) as (base, server):
            pids = server_pids(server)
            ours, theirs = media_playlist_path(base, signalled), media_playlist_path(base, bare)
            body, plain = httpx.get(base + ours).text, httpx.get(base + theirs).text
            assert body.count("dev.vetrina.product") == options.tags and body.count("SCTE35-OUT") == 10
            assert "#EXT-X-DATERANGE" not in plain and plain.count("#EXTINF") == FILM_S // SEGMENT_S
            span = (options.clients, options.seconds, {})
            signalled_rows = latency_at_half_ceiling(base, pids, "GET signalled media playlist", ours, *span)
            bare_rows = latency_at_half_ceiling(base, pids, "GET bare media playlist", theirs, *span)
            ad_span = ("--connections", str(options.clients), "--seconds", str(options.seconds))
            asset_list = node_load(
                "ceiling",
                base,
                pids,
                "--path",
                f"/api/v1/ads/interstitials?video_id={signalled}&slot=midroll-1",
                *ad_span,
            )
            vast = node_load(
                "ceiling", base, pids, "--path", f"/api/v1/ads/vast?video_id={signalled}&slot=midroll-1", *ad_span
            )
    print(
        f"\nPlaylist signals: a {FILM_S // 3600} h film, {FILM_S // SEGMENT_S} segments, {options.tags} product tags, "
        f"a pre-roll and 10 mid-rolls ({len(body) // 1024} KiB; bare: {len(plain) // 1024} KiB); load from Node "
        f"(bench/load.mjs), {options.clients} connections for the ceilings, {options.seconds:.0f} s each, SQLite, "
        f"`vetrina serve --workers {options.processes}`\n"
    )
    print_latency_table(signalled_rows)
    print()
    print_latency_table(bare_rows)
    ratio = signalled_rows[1][1]["rate"] / bare_rows[1][1]["rate"]
    cpu = signalled_rows[1][1]["cpu_ms"] / bare_rows[1][1]["cpu_ms"]
    print(f"\nsignalled / bare: ceiling {ratio:.2f}x, CPU per answer {cpu:.2f}x")
    print(f"\n| {'ad request (no campaign: the auction runs, nobody wins)':<58} | {'req/s':>7} | {'CPU ms/req':>10} |")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 12}|")
    for name, row in (("GET /api/v1/ads/interstitials (asset list)", asset_list), ("GET /api/v1/ads/vast", vast)):
        print(f"| {name:<58} | {row['rate']:7.1f} | {row['cpu_ms']:10.2f} |")
    print(f"\nasset list / VAST: ceiling {asset_list['rate'] / vast['rate']:.2f}x")
    for name, row in (("asset list", asset_list), ("VAST", vast)):
        if row.get("non2xx"):
            print(f"{name}: {row['non2xx']} answers were not 2xx")


if __name__ == "__main__":
    main()
