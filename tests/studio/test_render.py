"""Rendering spots with real ffmpeg: every template in every aspect ratio comes out at the requested length,
size and sound; copy stays inside its box (checked on the rendered pixels), in Latin and Chinese script."""

from __future__ import annotations

from array import array
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageDraw

from tests.studio.helpers import music_file, photo_bytes
from vetrina.settings import Settings
from vetrina.storage import LocalStore, MediaStore
from vetrina.studio.render import TEXT_FADE_S
from vetrina.studio.service import plan_spot, render_spec
from vetrina.studio.templates import ASPECTS, TEMPLATES
from vetrina.studio.voice import tts_engine

GREY = (128, 128, 128)


@pytest.fixture
def studio(tmp_path: Path) -> tuple[Settings, MediaStore]:
    settings = Settings(data_dir=tmp_path / "data", secret_key="test", x264_preset="ultrafast")
    store = LocalStore(tmp_path / "media", b"k")
    for index in range(4):
        path = store.path(f"images/{index}.jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(photo_bytes([(200, 80, 60), (60, 120, 200), (90, 170, 90), (20, 20, 20)][index], seed=index))
    grey = store.path("images/grey.png")
    Image.new("RGB", (1280, 1280), GREY).save(grey)
    return settings, store


def spec(template: str, aspect: str, duration_s: int = 6, image_count: int = 3, **changes) -> dict:
    body = {
        "template": template,
        "duration_s": duration_s,
        "aspect": aspect,
        "product_ids": [1],
        "images": [f"images/{i}.jpg" for i in range(image_count)],
        "headline": "Hand-glazed stoneware mugs",
        "lines": ["Fired twice at 1280 °C", "Dishwasher safe"],
        "price": "€18.00",
        "cta": "Shop now",
        "brand": [30, 41, 59],
        "text": [255, 255, 255],
        "music_key": None,
        "logo_key": None,
        "voiceover": False,
        "title": "Mugs",
    }
    return {**body, **changes}


def render(studio, body: dict, short_side: int, tmp_path: Path) -> Path:
    settings, store = studio
    settings = settings.model_copy(update={"studio_short_side": short_side})
    output = tmp_path / f"{body['template']}-{body['aspect'].replace(':', 'x')}-{body['duration_s']}.mp4"
    scratch = tmp_path / f"scratch-{output.stem}"
    scratch.mkdir(exist_ok=True)
    render_spec(body, store, settings, scratch, output, preview=False)
    return output


def facts(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return {
            "duration": container.duration / av.time_base,
            "video_duration": float(video.duration * video.time_base),
            "size": (video.codec_context.width, video.codec_context.height),
            "fps": float(video.average_rate),
            "audio_duration": float(audio.duration * audio.time_base) if audio else None,
        }


EXPECTED_SIZE = {"16:9": (320, 180), "9:16": (180, 320), "1:1": (180, 180)}


@pytest.fixture
def tune(studio, tmp_path) -> str:
    _, store = studio
    if not store.exists("music/tune.mp3"):
        store.put_file(music_file(tmp_path / "tune.mp3", seconds=4), "music/tune.mp3")
    return "music/tune.mp3"


@pytest.mark.parametrize("aspect", list(ASPECTS))
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_template_renders_every_aspect_at_the_requested_length_size_and_sound(
    studio, tmp_path, tune, template, aspect
):
    found = facts(render(studio, spec(template, aspect, music_key=tune), 180, tmp_path))
    assert found["size"] == EXPECTED_SIZE[aspect]
    assert found["duration"] == pytest.approx(6, abs=0.1) and found["video_duration"] == pytest.approx(6, abs=0.1)
    assert found["fps"] == 30 and found["audio_duration"] == pytest.approx(6, abs=0.1)


def test_a_spot_without_music_or_voice_has_no_sound_track(studio, tmp_path):
    found = facts(render(studio, spec("split", "1:1"), 144, tmp_path))
    assert found["audio_duration"] is None and found["duration"] == pytest.approx(6, abs=0.1)


@pytest.mark.parametrize("duration_s", [15, 30])
def test_longer_spots_last_exactly_as_long_with_music_looped_to_length(studio, tmp_path, duration_s):
    settings, store = studio
    track = music_file(tmp_path / "tune.mp3", seconds=4)
    store.put_file(track, "music/tune.mp3")
    body = spec("showcase", "16:9", duration_s=duration_s, music_key="music/tune.mp3")
    found = facts(render(studio, body, 144, tmp_path))
    assert found["duration"] == pytest.approx(duration_s, abs=0.1)
    assert found["video_duration"] == pytest.approx(duration_s, abs=0.1)
    assert found["audio_duration"] == pytest.approx(duration_s, abs=0.1)


@pytest.mark.skipif(tts_engine() is None, reason="no text-to-speech engine (espeak-ng) installed")
def test_a_voice_over_speaks_the_copy(studio, tmp_path):
    path = render(studio, spec("countdown", "9:16", voiceover=True, lines=["Only today"]), 144, tmp_path)
    found = facts(path)
    assert found["audio_duration"] == pytest.approx(6, abs=0.1)
    with av.open(str(path)) as container:
        assert container.streams.audio[0].format.name == "fltp"  # AAC decodes to planar 32-bit floats
        loudest = max(max(map(abs, array("f", bytes(frame.planes[0])))) for frame in container.decode(audio=0))
    assert loudest > 0.05, "the voice-over is audible"


def _fully_shown(layer, moment: float) -> bool:
    fade = min(TEXT_FADE_S, (layer.end_s - layer.start_s) / 3) + 1 / 30
    return layer.start_s + fade <= moment <= layer.end_s - fade


def _frame_at(path: Path, second: float) -> Image.Image:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= second:
                return frame.to_image()
    raise AssertionError(f"no frame at {second}s")


@pytest.mark.parametrize(
    ("template", "aspect", "headline"),
    [
        ("showcase", "16:9", "Hand-glazed stoneware, fired twice, made to last a lifetime"),
        ("showcase", "9:16", "夏季新品限时优惠：手工陶瓷杯，每一只都独一无二"),
        ("split", "1:1", "Linen shirts in sand, sage and sky for summer"),
        ("countdown", "9:16", "Prix en baisse : dernières pièces"),
    ],
)
def test_copy_stays_inside_its_box_on_the_rendered_frames(studio, tmp_path, template, aspect, headline):
    """At the middle of every block's time on screen: each block on screen is drawn, and nothing is drawn
    outside the boxes of the blocks on screen (a few pixels of slack for chroma subsampling at edges)."""
    settings, _ = studio
    images = ["images/grey.png"] * (2 if template == "split" else 1)
    body = spec(template, aspect, headline=headline, lines=["Only a few left"], images=images)
    path = render(studio, body, 360, tmp_path)
    plan = plan_spot(body, 360, 30, settings.model_copy(update={"studio_short_side": 360}))
    moments = sorted({round((layer.start_s + layer.end_s) / 2, 2) for layer in plan.layers})
    assert len(moments) >= 4  # headline, line, countdown or end card
    for moment in moments:
        frame = _frame_at(path, moment)
        assert frame.size == (plan.frame.width, plan.frame.height)
        ink = ImageChops.difference(frame.convert("RGB"), Image.new("RGB", frame.size, GREY)).convert("L")
        ink = ink.point(lambda v: 255 if v > 40 else 0)
        on_screen = [layer for layer in plan.layers if _fully_shown(layer, moment)]
        assert on_screen, moment
        outside = ink.copy()
        eraser = ImageDraw.Draw(outside)
        for layer in on_screen:
            box = layer.block.box
            assert plan.frame.safe.contains(box)
            drawn = ink.crop((box.x, box.y, box.x + box.w, box.y + box.h))
            assert drawn.getbbox() is not None, f"{layer.block.lines} is not drawn at {moment}s"
        for layer in plan.layers:  # blocks fading in or out at this moment may show faintly
            if layer.start_s <= moment <= layer.end_s:
                b = layer.block.box
                eraser.rectangle((b.x - 3, b.y - 3, b.x + b.w + 3, b.y + b.h + 3), fill=0)
        if template == "split":  # the black gap between the two halves is picture, not copy
            half = plan.shots[0].panels[1].area
            gap = (0, half.y - 6, frame.width, half.y + 2) if half.y else (half.x - 6, 0, half.x + 2, frame.height)
            eraser.rectangle(gap, fill=0)
        assert outside.getbbox() is None, f"ink outside the text boxes at {outside.getbbox()} at {moment}s"


def test_a_logo_sits_in_the_top_corner_for_the_whole_spot(studio, tmp_path):
    settings, store = studio
    logo = store.path("images/logo.png")
    Image.new("RGBA", (400, 400), (220, 20, 20, 255)).save(logo)
    body = spec(
        "showcase",
        "16:9",
        images=["images/grey.png"],
        logo_key="images/logo.png",
        headline="",
        lines=[],
        price=None,
        cta="",
    )
    path = render(studio, body, 360, tmp_path)
    for moment in (0.2, 3.0, 5.8):
        picture = _frame_at(path, moment).convert("RGB")
        width, height = picture.size
        corner = picture.getpixel((width - round(width * 0.05) - 10, round(height * 0.05) + 10))
        centre = picture.getpixel((width // 2, height // 2))
        assert corner[0] > 180 and corner[1] < 80, (moment, corner)
        assert abs(centre[0] - GREY[0]) < 20, (moment, centre)


@pytest.mark.parametrize("aspect", list(ASPECTS))
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_block_of_copy_is_laid_out_inside_the_safe_area(studio, template, aspect):
    settings, _ = studio
    longest = spec(
        template,
        aspect,
        headline="Wörter " * 6,
        lines=["Lignes de texte assez longues"] * 3,
        logo_key="images/logo.png",
    )
    for short_side in (144, 1080):
        plan = plan_spot(longest, short_side, 30, settings)
        assert {"headline", "price", "cta"} <= {_kind(layer, longest) for layer in plan.layers}
        assert plan.frame.safe.contains(plan.logo_box)
        for layer in plan.layers:
            box = layer.block.box
            assert plan.frame.safe.contains(box), (layer.block.lines, box)
            assert not _overlap(box, plan.logo_box), f"{layer.block.lines} is under the logo"
            assert 0 <= layer.start_s < layer.end_s <= plan.duration_s


def _kind(layer, body: dict) -> str:
    text = " ".join(layer.block.lines)
    words = {"headline": body["headline"], "price": body["price"], "cta": body["cta"]}
    return next((kind for kind, copy in words.items() if text == " ".join(copy.split())), "other")


def _overlap(a, b) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h
