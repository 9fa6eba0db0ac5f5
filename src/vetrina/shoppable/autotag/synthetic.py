"""Generated material for auto-tagging: textured packshots (Pillow) placed into moving footage (ffmpeg) at known
times, positions, scales, rotations and perspective, partly covered, blurred and compressed; with the truth,
and the per-tag precision and recall of proposals against it.

Used by `vetrina demo` (a lookbook film of the demo shop), the test suite and bench/autotag.py."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vetrina.media.ffmpeg import run_ffmpeg

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
# Reproducible pictures, not secrets: seeded random.Random is the point here.
_Rng = random.Random
_WORDS = ("NORDA", "VELLO", "KARST", "LUMEN", "OPHIR", "TESSA", "BRIO", "MARLO", "QUILL", "ZEPHYR", "ARDEN", "CORVO")


def packshot(seed: int, size: tuple[int, int] = (420, 600)) -> Image.Image:
    """A distinct product shot: a coloured pack with a pattern, a label with a brand and a code."""
    rng = _Rng(seed)  # noqa: S311
    width, height = size
    image = Image.new("RGB", size, tuple(rng.randrange(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    style = seed % 3
    for _ in range(30):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(12, 70)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if style == 0:
            draw.ellipse((x, y, x + r, y + r), fill=colour)
        elif style == 1:
            draw.rectangle((x, y, x + r, y + r // 2), fill=colour)
        else:
            draw.polygon([(x, y), (x + r, y + r // 3), (x + r // 3, y + r)], fill=colour)
    for stripe in range(rng.randrange(2, 6)):
        y = rng.randrange(height)
        draw.rectangle((0, y, width, y + 6 + stripe), fill=tuple(rng.randrange(256) for _ in range(3)))
    label_top = rng.randrange(height // 4, height // 2)
    draw.rectangle((24, label_top, width - 24, label_top + 150), fill=(248, 246, 240), outline=(20, 20, 20), width=3)
    brand = f"{_WORDS[seed % len(_WORDS)]} {seed}"
    draw.text((44, label_top + 14), brand, font=ImageFont.truetype(FONT, 46), fill=(15, 15, 15))
    code = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ23456789") for _ in range(9))
    draw.text((44, label_top + 84), code, font=ImageFont.truetype(FONT, 34), fill=(170, 25, 25))
    return image


@dataclass(frozen=True)
class Appearance:
    """One product on screen: when, where (its centre moves linearly), how big and how it is distorted."""

    product: int
    start_s: float
    end_s: float
    centre: tuple[float, float]  # normalised, at start
    drift: tuple[float, float]  # normalised per second
    width: float  # share of the frame's width
    angle: float = 0.0
    tilt: float = 0.0  # perspective: how much narrower the far edge is (0..0.3)
    occlusion: float = 0.0  # share of the product covered
    blur: float = 0.0


@dataclass(frozen=True)
class Truth:
    product: int
    start_s: float
    end_s: float
    box: tuple[float, float, float, float]  # normalised x, y, w, h at the span's middle


def _sprite(shot: Image.Image, look: Appearance, frame_width: int, rng: random.Random) -> Image.Image:
    width = max(8, round(frame_width * look.width))
    sprite = shot.resize((width, round(width * shot.height / shot.width)), Image.Resampling.LANCZOS).convert("RGBA")
    if look.tilt:
        w, h = sprite.size
        inset = look.tilt * h / 2
        # Map the output rectangle onto a source trapezoid: the right edge looks farther away.
        coeffs = _perspective_coeffs([(0, 0), (w, inset), (w, h - inset), (0, h)], [(0, 0), (w, 0), (w, h), (0, h)])
        sprite = sprite.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    if look.occlusion:
        draw = ImageDraw.Draw(sprite)
        w, h = sprite.size
        covered = round(h * look.occlusion)
        draw.rectangle((0, h - covered, w, h), fill=tuple(rng.randrange(40, 200) for _ in range(3)) + (255,))
    if look.blur:
        sprite = sprite.filter(ImageFilter.GaussianBlur(look.blur))
    if look.angle:
        sprite = sprite.rotate(look.angle, expand=True, resample=Image.Resampling.BICUBIC)
    return sprite


def _perspective_coeffs(to: list[tuple[float, float]], source: list[tuple[float, float]]) -> list[float]:
    """Pillow's 8 perspective coefficients mapping output points `to` onto input points `source`."""
    rows = []
    for (x, y), (u, v) in zip(to, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    target = np.array([c for point in source for c in point], dtype=float)
    return list(np.linalg.solve(np.array(rows, dtype=float), target))


def _background(seed: int, size: tuple[int, int]) -> Image.Image:
    """A busy scene larger than the frame, for the camera to pan across."""
    rng = _Rng(seed * 7919)  # noqa: S311
    image = Image.effect_noise(size, 30).convert("RGB")
    tint = Image.new("RGB", size, tuple(rng.randrange(60, 200) for _ in range(3)))
    image = Image.blend(image, tint, 0.6)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(20, 160)
        draw.ellipse((x, y, x + r, y + r // 2), fill=tuple(rng.randrange(256) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(3))


def make_footage(
    path: Path,
    shots: list[Image.Image],
    scenes: list[tuple[float, list[Appearance]]],
    size: tuple[int, int],
    fps: int = 30,
    crf: int = 26,
    seed: int = 0,
) -> list[Truth]:
    """Render scenes (each: a length and the products in it, times relative to the scene) one after another
    with a cut between them; returns where each product truly is."""
    work = path.parent / f"{path.stem}-parts"
    work.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = _Rng(seed)  # noqa: S311
    inputs: list[str] = []
    graph: list[str] = []
    truths: list[Truth] = []
    scene_labels = []
    offset = 0.0
    for s, (length, appearances) in enumerate(scenes):
        frames = round(length * fps)
        background = work / f"bg{s}.png"
        _background(seed * 100 + s, (round(width * 1.3), round(height * 1.3))).save(background)
        inputs += ["-i", str(background)]
        index = len(inputs) // 2 - 1
        pan_x, pan_y = rng.choice((-1, 1)) * width * 0.25 / length, rng.choice((-1, 1)) * height * 0.2 / length
        start_x = width * 0.15 - pan_x * length / 2
        start_y = height * 0.15 - pan_y * length / 2
        graph.append(
            f"[{index}:v]loop=loop={frames - 1}:size=1:start=0,setpts=N/{fps}/TB,"
            f"crop=w={width}:h={height}:x='{start_x:.2f}+{pan_x:.4f}*t':y='{start_y:.2f}+{pan_y:.4f}*t',"
            f"format=yuv420p[scene{s}]"
        )
        current = f"scene{s}"
        for a, look in enumerate(appearances):
            sprite = _sprite(shots[look.product], look, width, rng)
            sprite_path = work / f"s{s}a{a}.png"
            sprite.save(sprite_path)
            inputs += ["-i", str(sprite_path)]
            index = len(inputs) // 2 - 1
            first, last = round(look.start_s * fps), round(look.end_s * fps)
            cx, cy = look.centre[0] * width - sprite.width / 2, look.centre[1] * height - sprite.height / 2
            vx, vy = look.drift[0] * width, look.drift[1] * height
            graph.append(
                f"[{index}:v]format=rgba,loop=loop={last - first - 1}:size=1:start=0,setpts=N+{first}[p{s}a{a}]"
            )
            graph.append(
                f"[{current}][p{s}a{a}]overlay=x='{cx:.2f}+{vx:.4f}*(t-{look.start_s})':"
                f"y='{cy:.2f}+{vy:.4f}*(t-{look.start_s})':eof_action=pass[s{s}o{a}]"
            )
            current = f"s{s}o{a}"
            middle = (look.start_s + look.end_s) / 2
            left, top, right, bottom = sprite.getchannel("A").getbbox() or (0, 0, sprite.width, sprite.height)
            x = cx + vx * (middle - look.start_s) + left
            y = cy + vy * (middle - look.start_s) + top
            box = _clip(x / width, y / height, (right - left) / width, (bottom - top) / height)
            truths.append(Truth(look.product, offset + look.start_s, offset + look.end_s, box))
        scene_labels.append(f"[{current}]")
        offset += length
    graph.append(f"{''.join(scene_labels)}concat=n={len(scene_labels)}:v=1:a=0[out]")
    run_ffmpeg(
        [
            *[arg for pair in zip(inputs[::2], inputs[1::2], strict=True) for arg in (("-framerate", str(fps)) + pair)],
            "-filter_complex",
            ";".join(graph),
            "-map",
            "[out]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-r",
            str(fps),
            str(path),
        ]
    )
    return truths


def _clip(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    left, top = max(0.0, x), max(0.0, y)
    right, bottom = min(1.0, x + w), min(1.0, y + h)
    return (left, top, right - left, bottom - top)


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter_w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def span_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def score(proposals: list[tuple[int, float, float, tuple[float, ...]]], truths: list[Truth]) -> tuple[float, float]:
    """Per-tag precision and recall: a proposal (product, start, end, box) counts when it matches a truth of the
    same product with span IoU >= 0.5 and box IoU >= 0.5 (each truth matched at most once)."""
    unmatched = list(truths)
    hits = 0
    for product, start, end, box in proposals:
        for truth in unmatched:
            if (
                truth.product == product
                and span_iou((start, end), (truth.start_s, truth.end_s)) >= 0.5
                and box_iou(box, truth.box) >= 0.5
            ):
                unmatched.remove(truth)
                hits += 1
                break
    precision = hits / len(proposals) if proposals else 1.0
    recall = hits / len(truths) if truths else 1.0
    return precision, recall
