"""Auto-tagging benchmark: precision, recall and speed on generated footage with known truth.

The set: 30 textured packshots (Pillow) placed into moving 1280x720 footage, one or two per shot, at known
times, at 10-60 % of the frame's width, rotated up to ±20°, in perspective, up to 30 % covered, blurred, and
compressed by x264; plus products in the catalogue that never appear (10, and then 970 for the 1,000-product
run). A proposal counts when its product is right, its span overlaps the truth by IoU >= 0.5 and its box at
the span's middle by IoU >= 0.5. Beside it, in the same run: decoding the same frames alone (the floor).

    .venv/bin/python bench/autotag.py [--products 30] [--catalogue 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vetrina.shoppable.autotag.frames import sample_frames
from vetrina.shoppable.autotag.matcher import FeatureMatcher, Reference
from vetrina.shoppable.autotag.recognize import RecognitionSettings, recognize
from vetrina.shoppable.autotag.synthetic import Appearance, make_footage, packshot, score
from vetrina.shoppable.autotag.tracks import TrackSettings


def scenes_for(products: int, seed: int) -> list[tuple[float, list[Appearance]]]:
    """Shots of 4-6 s; each product appears once, alone or beside another, in a random pose."""
    rng = random.Random(seed)  # noqa: S311  (test material, not secrets)
    order = list(range(products))
    rng.shuffle(order)
    scenes = []
    while order:
        length = rng.uniform(4.0, 6.0)
        count = 2 if len(order) > 1 and rng.random() < 0.5 else 1
        looks = []
        for slot in range(count):
            product = order.pop()
            width = rng.uniform(0.10, 0.30) if count == 2 else rng.uniform(0.10, 0.60)
            start = rng.uniform(0.0, 1.0)
            end = min(length, start + rng.uniform(2.5, 4.5))
            centre_x = (0.27 if slot == 0 else 0.73) if count == 2 else rng.uniform(0.3, 0.7)
            looks.append(
                Appearance(
                    product=product,
                    start_s=round(start, 2),
                    end_s=round(end, 2),
                    centre=(centre_x, rng.uniform(0.35, 0.65)),
                    drift=(rng.uniform(-0.03, 0.03), rng.uniform(-0.02, 0.02)),
                    width=width,
                    angle=rng.uniform(-20, 20),
                    tilt=rng.choice([0, 0, rng.uniform(0.05, 0.25)]),
                    occlusion=rng.choice([0, 0, rng.uniform(0.05, 0.30)]),
                    blur=rng.choice([0, 0, 0.8, 1.5]),
                )
            )
        scenes.append((round(length, 2), looks))
    return scenes


def run(video: Path, duration_s: float, references: list[Reference], truths: list, every_s: float) -> dict:
    started = time.perf_counter()
    matcher = FeatureMatcher(references)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    proposals = recognize(
        video, duration_s, matcher, RecognitionSettings(every_s=every_s), TrackSettings(every_s=every_s)
    )
    wall = time.perf_counter() - started
    found = [(p.product_id, p.start_s, p.end_s, tuple(p.box[k] for k in "xywh")) for p in proposals]
    precision, recall = score(found, truths)
    return {"index_s": indexed, "wall_s": wall, "precision": precision, "recall": recall, "proposals": len(found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=30)
    parser.add_argument("--distractors", type=int, default=10)
    parser.add_argument("--catalogue", type=int, default=1000, help="size of the large-catalogue run (0: skip)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between sampled frames")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vetrina-autotag-") as tmp:
        video = Path(tmp) / "set.mp4"
        print(f"generating {options.products} products in 1280x720 footage ...", file=sys.stderr)
        shots = [packshot(i) for i in range(options.products)]
        scenes = scenes_for(options.products, options.seed)
        truths = make_footage(video, shots, scenes, (1280, 720), seed=options.seed)
        duration = sum(length for length, _ in scenes)
        shown = [Reference(i, np.array(shots[i].convert("L"))) for i in range(options.products)]

        def distractors(count: int) -> list[Reference]:
            return [Reference(10_000 + i, np.array(packshot(10_000 + i).convert("L"))) for i in range(count)]

        started = time.perf_counter()
        decoded = sum(1 for _ in sample_frames(video, options.every, RecognitionSettings().analysis_width))
        floor = time.perf_counter() - started
        rows = [("decode the sampled frames only (floor)", floor, None)]
        small = run(video, duration, shown + distractors(options.distractors), truths, options.every)
        rows.append(
            (f"Vetrina, {options.products + options.distractors} products in the catalogue", small["wall_s"], small)
        )
        if options.catalogue:
            print(f"making a {options.catalogue}-product catalogue ...", file=sys.stderr)
            large = run(
                video, duration, shown + distractors(options.catalogue - options.products), truths, options.every
            )
            rows.append((f"Vetrina, {options.catalogue} products in the catalogue", large["wall_s"], large))
    print(
        f"\nAuto-tagging: {duration:.1f} s of 1280x720 footage, {len(truths)} product appearances in "
        f"{len(scenes)} shots, a frame every {options.every} s ({decoded} frames)\n"
    )
    print(
        f"| {'run':<46} | {'wall s':>7} | {'realtime x':>10} | {'vs floor':>8} | {'precision':>9} | "
        f"{'recall':>6} | {'index s':>7} |"
    )
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 12}|{'-' * 10}|{'-' * 11}|{'-' * 8}|{'-' * 9}|")
    for name, wall, result in rows:
        quality = (
            f"{result['precision']:9.3f} | {result['recall']:6.3f} | {result['index_s']:7.2f}"
            if result
            else f"{'':9} | {'':6} | {'':7}"
        )
        print(f"| {name:<46} | {wall:7.2f} | {duration / wall:10.1f} | {wall / floor:8.2f} | {quality} |")
    print("\ngoal: precision >= 0.95, recall >= 0.90, >= 10x realtime at 720p")


if __name__ == "__main__":
    main()
