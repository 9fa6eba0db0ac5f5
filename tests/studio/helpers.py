"""Studio helpers: product photos and music made here (Pillow, ffmpeg), and a merchant's product with photos."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw

from tests.commerce.helpers import product
from vetrina.media.ffmpeg import run_ffmpeg


def photo_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (800, 800), seed: int = 0) -> bytes:
    """A packshot: a coloured object on a light backdrop with some texture."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (232, 228, 220))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.ellipse((x, y, x + 24, y + 24), fill=tuple(rng.randrange(256) for _ in range(3)))
    w, h = size
    draw.rounded_rectangle((w * 0.3, h * 0.2, w * 0.7, h * 0.85), radius=w // 20, fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def music_file(path: Path, seconds: float = 4) -> Path:
    """A few seconds of a tone as MP3 (the studio loops it to the spot's length)."""
    if not path.exists():
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=523:sample_rate=44100:duration={seconds}",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "96k",
                str(path),
            ]
        )
    return path


def product_with_photos(client, merchant, photos: int = 3, price: int = 1800) -> dict:
    item = product(client, merchant, price=price)
    for index in range(photos):
        colour = [(200, 80, 60), (60, 120, 200), (90, 170, 90), (220, 180, 40)][index % 4]
        upload = {"file": (f"p{index}.jpg", photo_bytes(colour, seed=index), "image/jpeg")}
        response = client.post(f"/api/v1/products/{item['id']}/images", headers=merchant.auth, files=upload)
        assert response.status_code == 201, response.text
    return item


def spot_body(product_id: int, **overrides) -> dict:
    body = {
        "template": "showcase",
        "duration_s": 6,
        "aspect": "16:9",
        "product_ids": [product_id],
        "headline": "Hand-glazed stoneware",
        "lines": ["Fired twice", "Dishwasher safe"],
        "cta": "Shop now",
    }
    return {**body, **overrides}
