"""Studio benchmark: rendering a 15 s 1080p spot from three photos, against ffmpeg encoding a still image.

In one process, one after another on the same machine:
  1. the floor: ffmpeg alone encodes 15 s of one still 1080p image at the spot's settings (x264 preset and
     CRF, 30 fps) — no motion, no compositing, just the encode every spot must pay for;
  2. Vetrina's render of a 15 s 16:9 1080p spot from three photos with copy, price, call to action and music,
     for each template (Pillow layout, image preparation and the one ffmpeg filter graph);
  3. Vetrina end to end over HTTP: POST /api/v1/studio/spots until the spot is ready to stream (render, HLS
     ladder, tags, publish).
Prints wall times, realtime factors (spot seconds per wall second) and the ratio to the floor.

    .venv/bin/python bench/studio.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from live import merchant_client
from PIL import Image, ImageDraw, ImageOps

from vetrina.media.ffmpeg import run_ffmpeg
from vetrina.settings import Settings
from vetrina.storage import MediaStore
from vetrina.studio.service import render_spec
from vetrina.studio.templates import TEMPLATES

SECONDS = 15


def make_photo(path: Path, seed: int) -> None:
    """A 2400 px product photo with texture, so the encoder has real detail to work on."""
    rng = random.Random(seed)  # noqa: S311  (test pictures, not secrets)
    image = Image.new("RGB", (2400, 2400), (236, 232, 226))
    draw = ImageDraw.Draw(image)
    for _ in range(600):
        x, y, r = rng.randrange(2400), rng.randrange(2400), rng.randrange(8, 60)
        draw.ellipse((x, y, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    draw.rounded_rectangle((700, 500, 1700, 2000), radius=120, fill=(rng.randrange(256), 90, 60))
    image.save(path, "JPEG", quality=92)


def make_music(path: Path) -> None:
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=8", "-c:a", "aac", str(path)])


def floor(photo: Path, work: Path, settings: Settings) -> float:
    still = work / "still.jpg"
    with Image.open(photo) as image:
        ImageOps.fit(image, (1920, 1080)).save(still, quality=92)
    started = time.perf_counter()
    run_ffmpeg(
        [
            "-loop",
            "1",
            "-framerate",
            "30",
            "-i",
            str(still),
            "-t",
            str(SECONDS),
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            settings.x264_preset,
            "-crf",
            str(settings.studio_crf),
            "-r",
            "30",
            "-movflags",
            "+faststart",
            str(work / "floor.mp4"),
        ]
    )
    return time.perf_counter() - started


def spec(template: str, keys: list[str], music_key: str) -> dict:
    return {
        "template": template,
        "duration_s": SECONDS,
        "aspect": "16:9",
        "product_ids": [1],
        "images": keys,
        "headline": "Hand-glazed stoneware, made to last",
        "lines": ["Fired twice", "Dishwasher safe", "Made in Faenza"],
        "price": "€18.00",
        "cta": "Shop now",
        "brand": [30, 41, 59],
        "text": [255, 255, 255],
        "music_key": music_key,
        "logo_key": None,
        "voiceover": False,
        "title": "bench",
    }


def vetrina_render(template: str, store: MediaStore, keys: list[str], work: Path, settings: Settings) -> float:
    scratch = work / f"scratch-{template}-{time.monotonic_ns()}"
    scratch.mkdir()
    started = time.perf_counter()
    render_spec(spec(template, keys, "music/tune.m4a"), store, settings, scratch, scratch / "spot.mp4", preview=False)
    return time.perf_counter() - started


def vetrina_http(photos: list[Path], work: Path) -> float:
    with merchant_client(work / f"vetrina-{time.monotonic_ns()}", timeout_s=120) as http:
        product = http.post(
            "/api/v1/products", json={"title": "Mug", "price": {"amount": 1800, "currency": "EUR"}, "stock": 5}
        ).json()
        image_ids = []
        for photo in photos:
            with photo.open("rb") as handle:
                image_ids.append(http.post("/api/v1/studio/images", files={"file": (photo.name, handle)}).json()["id"])
        copy = {
            k: v
            for k, v in spec("showcase", [], "").items()
            if k in ("template", "duration_s", "aspect", "headline", "lines", "cta")
        }
        started = time.perf_counter()
        accepted = http.post(
            "/api/v1/studio/spots", json={**copy, "product_ids": [product["id"]], "image_ids": image_ids}
        )
        accepted.raise_for_status()
        while (state := http.get(f"/api/v1/studio/spots/{accepted.json()['id']}").json())["status"] == "rendering":
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    if state["status"] != "ready":
        raise SystemExit(f"the spot failed: {state['error']}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each path; the median is reported")
    options = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        work = Path(tmp)
        store = MediaStore(work / "media", b"bench")
        keys = []
        photos = []
        for index in range(3):
            key = f"photos/p{index}.jpg"
            store.path(key).parent.mkdir(parents=True, exist_ok=True)
            make_photo(store.path(key), index)
            keys.append(key)
            photos.append(store.path(key))
        store.path("music").mkdir()
        make_music(store.path("music/tune.m4a"))
        runs: dict[str, list[float]] = {name: [] for name in ("floor", *TEMPLATES, "http")}
        for round_number in range(options.repeat):
            print(f"round {round_number + 1}/{options.repeat} ...", file=sys.stderr)
            runs["floor"].append(floor(photos[0], work, settings))
            for template in TEMPLATES:
                runs[template].append(vetrina_render(template, store, keys, work, settings))
            runs["http"].append(vetrina_http(photos, work))
    median = {name: statistics.median(values) for name, values in runs.items()}
    print(
        f"\nStudio: {SECONDS} s 16:9 1920x1080 spot at 30 fps from 3 photos, x264 preset {settings.x264_preset}, "
        f"CRF {settings.studio_crf}, median of {options.repeat}; {os.cpu_count()} cores\n"
    )
    print(f"| {'path':<58} | {'wall s':>7} | {'realtime x':>10} | {'vs floor':>8} |")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 12}|{'-' * 10}|")
    rows = [("ffmpeg alone: encode 15 s of a still image (floor)", median["floor"])]
    rows += [(f"Vetrina render, template {name}", median[name]) for name in TEMPLATES]
    rows.append(("Vetrina over HTTP: request to ready (render + HLS ladder)", median["http"]))
    for name, seconds in rows:
        print(f"| {name:<58} | {seconds:7.2f} | {SECONDS / seconds:10.2f} | {seconds / median['floor']:8.2f} |")
    slowest = max(median[name] for name in TEMPLATES)
    print(
        f"\nslowest template renders in {slowest:.2f} s for {SECONDS} s of video (goal < {SECONDS} s): "
        f"{'met' if slowest < SECONDS else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
