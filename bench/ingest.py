"""Feed import benchmark: items per second and peak memory importing a generated Media RSS 1.5 feed of 10,000
titles (metadata only: media fetching and transcoding are deferred), beside feedparser parsing the same file
alone (the floor) in the same run; then the idempotent re-run of the same feed (every item unchanged), and a
feed 3x as large, to show that memory does not grow with the feed's size.

Each measurement runs in its own process (this script again, with `--child`), so that one does not inflate
another's peak; the peak is how far the process's resident set grows over the measured work alone (its
high-water mark, VmHWM, reset as the work starts, after start-up and set-up). `--tracemalloc` adds a separate,
slower pass of the two new imports under tracemalloc for the peak of Python's own allocations (lxml's and the
database driver's C memory is not in it).

    .venv/bin/python bench/ingest.py [--items 10000] [--scale 3] [--seed 1] [--postgres URL] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import feedparser
from databases import databases

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.partners import runs
from vetrina.partners import service as partners
from vetrina.partners.models import PartnerFeed, RunStatus
from vetrina.runtime import build_context
from vetrina.settings import Settings

WORDS = (
    "harbour",
    "winter",
    "signal",
    "garden",
    "letters",
    "midnight",
    "island",
    "orchard",
    "engine",
    "silver",
    "border",
    "summer",
    "lantern",
    "river",
    "station",
    "valley",
    "empire",
    "kitchen",
    "mountain",
    "circus",
    "a",
    "the",
    "of",
    "and",
    "in",
    "with",
    "between",
    "after",
    "before",
    "under",
    "her",
    "his",
    "their",
    "old",
    "young",
    "family",
    "detective",
    "village",
    "city",
    "secret",
    "journey",
    "last",
    "first",
    "lost",
    "found",
    "returns",
    "discovers",
    "hides",
    "follows",
    "remembers",
    "music",
    "war",
    "love",
    "storm",
    "festival",
)
GENRES = ("Drama", "Comedy", "Documentary", "Thriller", "Romance", "Animation", "Crime", "Science fiction")
RATINGS = (("urn:simple", "nonadult"), ("urn:mpaa", "pg-13"), ("urn:mpaa", "r"), ("urn:v-chip", "tv-14"))
COUNTRIES = (
    "IT",
    "FR",
    "DE",
    "ES",
    "GB",
    "US",
    "CA",
    "JP",
    "BR",
    "AU",
    "NL",
    "SE",
    "CH",
    "AT",
    "BE",
    "PT",
    "IE",
    "PL",
    "MX",
    "IN",
    "KR",
    "NO",
    "DK",
    "FI",
)
RENDITIONS = ((1920, 1080, 6000), (1280, 720, 3500), (854, 480, 1500))
MEDIA = "http://search.yahoo.com/mrss/"


# The feed ----------------------------------------------------------------------------------------------


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _item(rng: random.Random, number: int, published: datetime) -> str:
    """One title as a partner's MRSS feed describes it: three MP4 renditions, artwork, categories, rating,
    territories (allowed or denied), a licence, and a price on some."""
    title = _words(rng, rng.randint(2, 5)).capitalize()
    synopsis = (_words(rng, rng.randint(45, 70)) + ".").capitalize()
    duration = rng.randint(600, 7200)
    default = rng.choice((0, 0, 0, 1))
    base = f"https://cdn.partner.example/titles/{number:06d}"
    flags = [' isDefault="true"' if k == default else "" for k in range(len(RENDITIONS))]
    contents = "".join(
        f'<media:content url="{base}/{height}p.mp4" type="video/mp4" medium="video" width="{width}" '
        f'height="{height}" bitrate="{bitrate}" duration="{duration}" fileSize="{bitrate * duration * 125}"{flag}/>'
        "\n      "
        for flag, (width, height, bitrate) in zip(flags, RENDITIONS, strict=True)
    )
    genre, second = rng.sample(GENRES, 2)
    scheme, rating = rng.choice(RATINGS)
    territories = " ".join(sorted(rng.sample(COUNTRIES, rng.randint(2, 6))))
    relationship = "allow" if rng.random() < 0.6 else "deny"
    price = ""
    if rng.random() < 0.3:
        kind = rng.choice(("rent", "purchase"))
        price = (
            f'\n    <media:price type="{kind}" price="{rng.choice((1.99, 3.99, 4.99, 9.99, 14.99))}" '
            f'currency="{rng.choice(("EUR", "USD", "GBP"))}"/>'
        )
    return f"""
  <item>
    <guid isPermaLink="false">urn:partner:title:{number:06d}</guid>
    <title>{escape(title)}</title>
    <link>https://partner.example/titles/{number:06d}</link>
    <description>{escape(synopsis)}</description>
    <pubDate>{format_datetime(published)}</pubDate>
    <media:group>
      {contents.rstrip()}
    </media:group>
    <media:thumbnail url="{base}/poster.jpg" width="1280" height="720"/>
    <media:title type="plain">{escape(title)}</media:title>
    <media:description type="plain">{escape(synopsis)}</media:description>
    <media:category scheme="urn:partner:genre">{genre}</media:category>
    <media:category scheme="urn:partner:genre">{second}</media:category>
    <media:keywords>{", ".join(rng.sample(WORDS[:20], 5))}</media:keywords>
    <media:rating scheme={quoteattr(scheme)}>{rating}</media:rating>
    <media:restriction relationship="{relationship}" type="country">{territories}</media:restriction>{price}
    <media:license type="text/html" href="https://partner.example/licences/standard">Standard streaming licence \
{number % 7}</media:license>
  </item>"""


def write_feed(path: Path, items: int, seed: int) -> Path:
    """A Media RSS 1.5 feed of `items` titles, the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311  (bench data)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        out.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:media="{MEDIA}">\n<channel>\n'
            "  <title>Partner catalogue</title>\n  <link>https://partner.example/</link>\n"
            "  <description>Every title of the partner's catalogue</description>\n"
        )
        for number in range(items):
            out.write(_item(rng, number, first + timedelta(hours=number)))
        out.write("\n</channel>\n</rss>\n")
    return path


# One measurement, in its own process --------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    items: int
    seconds: float
    peak_mib: float  # growth of the resident set's high-water mark over the measured work
    python_peak_mib: float | None = None  # tracemalloc's peak, in its own pass

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(field)


def _measure(work: Callable[[], int], traced: bool) -> dict[str, Any]:
    gc.collect()
    # Not ru_maxrss: across exec it keeps the parent's high-water mark, and start-up's peak would hide the
    # work's. Linux resets the high-water mark (VmHWM) to the current resident set when asked.
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    items = work()
    seconds = time.perf_counter() - started
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    tracemalloc.stop()
    peak = _status_mib("VmHWM") - before
    return {"items": items, "seconds": seconds, "peak_mib": peak, "python_peak_mib": python_peak}


def _parse_alone(spec: dict[str, Any]) -> int:
    parsed = feedparser.parse(spec["feed"])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert all(len(entry.media_content) == 3 for entry in parsed.entries), "feedparser read every rendition"
    return len(parsed.entries)


def child(spec: dict[str, Any]) -> None:
    """Run one measurement as `spec` describes it and print it as JSON (the `--child` mode)."""
    if spec["kind"] == "floor":
        print(json.dumps(_measure(lambda: _parse_alone(spec), spec["traced"])))
        return
    ctx = build_context(Settings(data_dir=Path(spec["data_dir"]), database_url=spec["database_url"]), migrate=False)
    try:
        with ctx.db.session(write=True) as session:
            run_id = runs.start_run(
                ctx, session, session.get(PartnerFeed, spec["feed_id"]), "cli", fetch_media=False, for_worker=False
            ).id
        finished: list[Any] = []

        def work() -> int:
            finished.append(runs.run_import(ctx, run_id))
            return finished[0].cursor

        measured = _measure(work, spec["traced"])
    finally:
        ctx.close()
    run = finished[0]
    assert run.status == RunStatus.done.value, f"the run ended {run.status}: {run.error}"
    expected = spec["items"]
    assert run.failed == 0 and run.cursor == expected, f"{run.failed} failed, {run.cursor} of {expected} read"
    assert getattr(run, spec["expect"]) == expected, f"{spec['expect']}: {getattr(run, spec['expect'])}"
    print(json.dumps(measured))


def measure(spec: dict[str, Any]) -> Measured:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{spec['kind']} failed:\n{done.stderr}")
    return Measured(**json.loads(done.stdout.splitlines()[-1]))


# Set-up ---------------------------------------------------------------------------------------------------


def new_vetrina(data_dir: Path, database_url: str | None, feed: Path) -> dict[str, Any]:
    """A fresh, migrated Vetrina with a partner and its feed of the local file `feed`."""
    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    try:
        with ctx.db.session(write=True) as session:
            partner = accounts.create_user(session, "partner@bench.example", "bench password", Role.partner)
            session.flush()
            made = partners.create_feed(session, partner, name="Partner catalogue", source=str(feed), local_ok=True)
            return {"data_dir": str(data_dir), "database_url": database_url, "feed_id": made.id}
    finally:
        ctx.close()


def _short(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 else f"{count:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=3, help="the larger feed has this many times the items")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to run on (fresh schemas are made)")
    parser.add_argument("--tracemalloc", action="store_true", help="a separate pass for Python's allocation peak")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(json.loads(options.child))
        return
    small, large = options.items, options.items * options.scale
    with tempfile.TemporaryDirectory(prefix="vetrina-ingest-") as tmp, databases(options.postgres) as fresh:
        root = Path(tmp)
        print(f"generating feeds of {small:,} and {large:,} items ...", file=sys.stderr)
        feeds = {n: write_feed(root / f"feed-{n}.xml", n, options.seed) for n in (small, large)}
        floor = measure({"kind": "floor", "feed": str(feeds[small]), "traced": False})

        def vetrina_import(items: int, traced: bool = False, again: bool = False) -> tuple[Measured, Measured | None]:
            name = f"{items}{'-traced' if traced else ''}"
            target = new_vetrina(root / name, fresh(), feeds[items])
            spec = {"kind": "import", "items": items, "traced": traced, **target}
            print(f"importing {items:,} items{' (tracemalloc)' if traced else ''} ...", file=sys.stderr)
            first = measure({**spec, "expect": "created"})
            return first, measure({**spec, "expect": "unchanged"}) if again else None

        new, unchanged = vetrina_import(small, again=True)
        bigger, _ = vetrina_import(large)
        traced = [vetrina_import(n, traced=True)[0] for n in (small, large)] if options.tracemalloc else []
        sizes = [feeds[n].stat().st_size / 2**20 for n in (small, large)]
    database = "PostgreSQL" if options.postgres else "SQLite"
    print(
        f"\nFeed import: generated Media RSS 1.5 feeds of {small:,} items ({sizes[0]:.1f} MiB) and {large:,} "
        f"({sizes[1]:.1f} MiB), metadata only (fetch_media=False), {database}; each row in its own process; "
        "vs floor: items/s over the floor's\n"
    )
    print(f"| {'path':<40} | {'items':>6} | {'seconds':>7} | {'items/s':>7} | {'peak RSS MiB':>12} | {'vs floor':>8} |")
    print(f"|{'-' * 42}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 14}|{'-' * 10}|")
    rows = (
        ("feedparser.parse alone (floor)", floor),
        ("Vetrina import (new)", new),
        ("Vetrina re-import (unchanged)", unchanged),
        (f"Vetrina import (new), {options.scale}x the size", bigger),
    )
    for name, run in rows:
        print(
            f"| {name:<40} | {run.items:6d} | {run.seconds:7.2f} | {run.rate:7.1f} | {run.peak_mib:12.1f} | "
            f"{run.rate / floor.rate:8.3f} |"
        )
    if traced:
        print(
            f"\nPython allocations (tracemalloc, a separate and slower pass of the two new imports): peak "
            f"{traced[0].python_peak_mib:.1f} MiB at {small:,} items, {traced[1].python_peak_mib:.1f} MiB at "
            f"{large:,}"
        )
    print(
        f"\ngoal: >= 500 items/s (measured {new.rate:.0f}), memory flat with size (peak {new.peak_mib:.1f} MiB at "
        f"{_short(small)}, {bigger.peak_mib:.1f} MiB at {_short(large)})"
    )


if __name__ == "__main__":
    main()
