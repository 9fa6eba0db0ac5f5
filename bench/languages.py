"""Languages benchmark: what answering in Chinese or Italian costs beside English, in the same run. A watch page (the
template rendered through the catalogue, the scripts' texts handed over as JSON), a video's timeline (20 product
cards, titles translated and prices written per language; cached per language), a refusal (a problem document's
title and detail translated), and a film's HLS master playlist with three subtitle renditions beside the same
playlist without subtitles. Each: its ceiling from 32 connections (closed loop), then its latency and /healthz's at
a fixed offered rate of half its ceiling (open loop), with the server's CPU per answer.

    .venv/bin/python bench/languages.py [--clients 32] [--seconds 10] [--processes 2]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from live import latency_at_half_ceiling, node_load, print_latency_table, served, server_pids
from signals import merchant_with_films

from vetrina.catalog import service as catalog
from vetrina.media import subtitles
from vetrina.money import Money
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.shoppable import service as shoppable

CUES = "".join(
    f"{n}\n00:{n // 60:02d}:{n % 60:02d},000 --> 00:{n // 60:02d}:{n % 60:02d},900\nLine {n}\n\n" for n in range(1, 600)
)


def seed(settings: Settings, scratch: Path) -> tuple[int, int]:
    """A film with 20 tagged products (translated) and subtitles in three languages, and the same film bare."""
    ctx = build_context(settings)
    try:
        with ctx.db.session(write=True) as session:
            merchant, (subtitled, bare) = merchant_with_films(ctx, session, ("Subtitled", "Bare"), scratch)
            for i in range(20):
                product = catalog.create_product(
                    session,
                    merchant,
                    title=f"Mug {i}",
                    description="Stoneware.",
                    price=Money(1800 + i, "EUR"),
                    stock=50,
                    variants=[],
                    published=True,
                    translations={"it": {"title": f"Tazza {i}"}, "zh": {"title": f"马克杯 {i}"}},
                )
                session.flush()
                spec = shoppable.TagSpec(product_id=product.id, start_s=i * 60.0, end_s=i * 60.0 + 8)
                shoppable.create_tag(ctx, session, subtitled, merchant, spec)
            for language in ("en", "it", "zh-Hans"):
                subtitles.add_subtitles(ctx, session, subtitled, merchant, language, io.BytesIO(CUES.encode()))
        return subtitled, bare
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--processes", type=int, default=2)
    options = parser.parse_args()
    span = (options.clients, options.seconds)
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        subtitled, bare = seed(settings, Path(tmp) / "scratch")
        env = {**os.environ, "VETRINA_DATA_DIR": tmp, "VETRINA_RATE_LIMITS_ENABLED": "false"}
        with served(env, options.processes) as (base, server):
            pids = server_pids(server)
            chinese, english = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}
            watch, timeline = f"/watch/{subtitled}", f"/api/v1/videos/{subtitled}/timeline"
            assert "马克杯 0" in httpx.get(base + timeline, headers=chinese).text
            masters = [urlsplit(httpx.get(f"{base}/api/v1/videos/{v}").json()["hls_url"]) for v in (subtitled, bare)]
            with_subs, without = (f"{m.path}?{m.query}" if m.query else m.path for m in masters)
            assert httpx.get(base + with_subs).text.count("TYPE=SUBTITLES") == 3
            pairs = [
                ("watch page", watch, chinese, english),
                ("timeline, 20 cards", timeline, chinese, english),
                ("404 problem", "/api/v1/products/999999", chinese, english),
            ]
            tables = []
            for name, path, asked_in_chinese, asked_in_english in pairs:
                tables.append(
                    (
                        name,
                        latency_at_half_ceiling(base, pids, f"{name} (zh)", path, *span, asked_in_chinese),
                        latency_at_half_ceiling(base, pids, f"{name} (en)", path, *span, asked_in_english),
                    )
                )
            master_ours = latency_at_half_ceiling(base, pids, "master, 3 subtitle renditions", with_subs, *span, {})
            master_ref = latency_at_half_ceiling(base, pids, "master, no subtitles", without, *span, {})
            tables.append(("master playlist", master_ours, master_ref))
            non2xx = node_load("ceiling", base, pids, "--path", watch, "--connections", "4", "--seconds", "2")
    print(
        f"\nLanguages: load from Node (bench/load.mjs), {options.clients} connections for the ceilings, "
        f"{options.seconds:.0f} s each, SQLite, `vetrina serve --workers {options.processes}`\n"
    )
    summary = []
    for name, ours, reference in tables:
        print_latency_table(ours)
        print()
        print_latency_table(reference)
        print()
        summary.append((name, ours[1][1], reference[1][1]))
    print(
        f"| {'what':<20} | {'ours req/s':>10} | {'ref req/s':>9} | {'ours CPU ms':>11} | {'ref CPU ms':>10} | ratio |"
    )
    print(f"|{'-' * 22}|{'-' * 12}|{'-' * 11}|{'-' * 13}|{'-' * 12}|{'-' * 7}|")
    for name, ours_row, ref_row in summary:
        print(
            f"| {name:<20} | {ours_row['rate']:10.1f} | {ref_row['rate']:9.1f} | {ours_row['cpu_ms']:11.2f} | "
            f"{ref_row['cpu_ms']:10.2f} | {ours_row['cpu_ms'] / ref_row['cpu_ms']:5.2f}x |"
        )
    print("\n(ours: Chinese, or the master with subtitles; ref: English, or the master without; ratio: CPU per answer)")
    if non2xx.get("non2xx"):
        print(f"watch page: {non2xx['non2xx']} answers were not 2xx")


if __name__ == "__main__":
    main()
