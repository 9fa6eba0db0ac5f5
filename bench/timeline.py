"""Timeline benchmark: GET /api/v1/videos/{id}/timeline for a video with 200 tags beside a trivial route of the same
server, in the same run: each one's ceiling from 32 connections (closed loop), then the latency of both at a fixed
offered rate of half the timeline's ceiling (open loop), with the server's CPU per answer.

    .venv/bin/python bench/timeline.py [--clients 32] [--seconds 10] [--tags 200] [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import httpx
from live import latency_at_half_ceiling, print_latency_table, served, server_pids

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.catalog import service as catalog
from vetrina.media.models import Video, VideoStatus
from vetrina.money import Money
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.shoppable import service as shoppable


def seed(settings: Settings, tags: int) -> int:
    """A ready video with `tags` tags over 40 products (a few sold out); returns its id."""
    ctx = build_context(settings)
    try:
        with ctx.db.session(write=True) as session:
            merchant = accounts.create_user(session, "m@bench.example", "bench password", Role.merchant)
            session.flush()
            video = Video(
                owner_id=merchant.id,
                title="Bench",
                description="",
                status=VideoStatus.ready.value,
                progress=1.0,
                duration_s=3600.0,
                width=1920,
                height=1080,
                frame_rate=30.0,
                has_audio=True,
                renditions=[],
                published=True,
                allow_merchant_tags=False,
                output_key="videos/0/hls-bench",
                created_at=clock.now(),
            )
            session.add(video)
            products = [
                catalog.create_product(
                    session,
                    merchant,
                    title=f"Product {i}",
                    description="",
                    price=Money(1000 + 37 * i, "EUR"),
                    stock=0 if i % 10 == 0 else 50,
                    variants=[],
                    published=True,
                )
                for i in range(40)
            ]
            session.flush()
            for i in range(tags):
                start = i * 3600 / tags
                box = {"x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3}
                spec = shoppable.TagSpec(product_id=products[i % 40].id, start_s=start, end_s=start + 8, box=box)
                shoppable.create_tag(ctx, session, video.id, merchant, spec)
            return video.id
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        video_id = seed(settings, options.tags)
        env = {**os.environ, "VETRINA_DATA_DIR": tmp}
        with served(env, options.processes) as (base, server):
            timeline_path = f"/api/v1/videos/{video_id}/timeline"
            assert len(httpx.get(base + timeline_path).json()["tags"]) == options.tags
            rows = latency_at_half_ceiling(
                base, server_pids(server), "GET .../timeline", timeline_path, options.clients, options.seconds, {}
            )
    print(
        f"\nTimeline: {options.tags} tags, load from Node (bench/load.mjs), {options.clients} connections for the "
        f"ceilings, {options.seconds:.0f} s each, SQLite, `vetrina serve --workers {options.processes}`\n"
    )
    print_latency_table(rows)
    healthz, ours = rows[0][1], rows[1][1]
    print(
        f"goals: ratio >= 0.6 (measured {ours['rate'] / healthz['rate']:.3f}); p99 at half the ceiling <= 2x "
        f"/healthz's at that rate (measured {rows[2][1]['p99_ms'] / rows[3][1]['p99_ms']:.2f}x)"
    )


if __name__ == "__main__":
    main()
