"""Ladder planning and the thumbnail track: pure functions, checked without running ffmpeg."""

from __future__ import annotations

from vetrina.media.ladder import plan_ladder, write_thumbnail_track
from vetrina.media.probe import ProbeResult

HEIGHTS = [1080, 720, 480, 360]


def probe(width: int, height: int, duration_s: float = 60, fps: float = 30) -> ProbeResult:
    return ProbeResult(duration_s, width, height, fps, has_audio=True, format_name="mov,mp4")


def test_renditions_go_up_to_the_source_height_and_never_above():
    assert [r.height for r in plan_ladder(probe(1920, 1080), HEIGHTS, 4).renditions] == [1080, 720, 480, 360]
    assert [r.height for r in plan_ladder(probe(1280, 720), HEIGHTS, 4).renditions] == [720, 480, 360]
    assert [r.height for r in plan_ladder(probe(854, 480), HEIGHTS, 4).renditions] == [480, 360]


def test_a_source_below_every_rung_gets_one_rendition_at_its_own_size():
    plan = plan_ladder(probe(320, 240), HEIGHTS, 4)
    assert [(r.width, r.height) for r in plan.renditions] == [(320, 240)]
    assert plan.renditions[0].video_kbps > 0


def test_widths_are_even_and_keep_the_aspect_ratio():
    for rendition in plan_ladder(probe(1080, 1920), HEIGHTS, 4).renditions:
        assert rendition.width % 2 == 0
        assert abs(rendition.width / rendition.height - 1080 / 1920) < 0.01


def test_keyframes_fall_on_segment_boundaries():
    assert plan_ladder(probe(1280, 720, fps=30), HEIGHTS, 4).gop_frames == 120
    assert plan_ladder(probe(1280, 720, fps=25), HEIGHTS, 4).gop_frames == 100


def test_thumbnail_track_covers_the_video_with_existing_images(tmp_path):
    plan = plan_ladder(probe(640, 360, duration_s=5.5), HEIGHTS, 4)
    (tmp_path / "thumbs").mkdir()
    for index in range(1, 5):  # ffmpeg may write one image more than the spans need
        (tmp_path / "thumbs" / f"thumb_{index:04d}.jpg").write_bytes(b"jpg")
    write_thumbnail_track(tmp_path, plan, 5.5)
    text = (tmp_path / "thumbs" / "thumbs.vtt").read_text()
    assert text.splitlines()[0] == "WEBVTT"
    cues = [line for line in text.splitlines() if "-->" in line]
    assert cues == [
        "00:00:00.000 --> 00:00:02.000",
        "00:00:02.000 --> 00:00:04.000",
        "00:00:04.000 --> 00:00:05.500",
    ]
    assert "thumb_0003.jpg#xywh=0,0,160,90" in text
    assert "thumb_0004.jpg" not in text


def test_long_videos_get_at_most_about_a_hundred_thumbnails():
    plan = plan_ladder(probe(1920, 1080, duration_s=2 * 3600), HEIGHTS, 4)
    assert 2 * 3600 / plan.thumb_interval_s <= 100
