"""The HLS ladder: which renditions a source gets, and the one ffmpeg command that makes all of them.

One decode feeds every encode: the decoded picture is split once, scaled per rendition, encoded with
keyframes forced on the same segment boundaries (so players can switch cleanly), and also feeds the
poster and the seek-preview thumbnails. Audio is encoded once per rendition from the same decode.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from vetrina.media.probe import ProbeResult

# Video bitrates (kbit/s) by height, near the common streaming ladders for H.264 at 30 fps.
_VIDEO_KBPS = {1080: 5000, 720: 2800, 480: 1400, 360: 800, 240: 400}
AUDIO_KBPS = 128
THUMB_WIDTH = 160
MASTER_PLAYLIST = "master.m3u8"
POSTER = "poster.jpg"
THUMBS_VTT = "thumbs/thumbs.vtt"


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


@dataclass(frozen=True)
class Rendition:
    height: int
    width: int
    video_kbps: int

    @property
    def name(self) -> str:
        return f"{self.height}p"


@dataclass(frozen=True)
class LadderPlan:
    renditions: list[Rendition]
    gop_frames: int
    thumb_interval_s: int
    thumb_height: int
    poster_at_s: float


def plan_ladder(probe: ProbeResult, heights: list[int], segment_seconds: int) -> LadderPlan:
    """Renditions up to the source's height; a source below every rung gets one rendition at its own size."""
    aspect = probe.width / probe.height
    chosen = [h for h in heights if h <= probe.height] or [_even(probe.height)]
    renditions = []
    for height in chosen:
        kbps = _VIDEO_KBPS.get(height) or int(5000 * (height * height * aspect) / (1920 * 1080)) + 200
        renditions.append(Rendition(height=height, width=_even(height * aspect), video_kbps=kbps))
    thumb_interval = max(2, math.ceil(probe.duration_s / 100))
    return LadderPlan(
        renditions=renditions,
        gop_frames=max(1, round(probe.frame_rate * segment_seconds)),
        thumb_interval_s=thumb_interval,
        thumb_height=_even(THUMB_WIDTH / aspect),
        poster_at_s=min(probe.duration_s * 0.1, 5.0),
    )


def ladder_command(
    source: Path, out_dir: Path, probe: ProbeResult, plan: LadderPlan, segment_seconds: int, preset: str
) -> list[str]:
    """ffmpeg arguments (after the binary and global flags) that write the whole ladder into `out_dir`."""
    count = len(plan.renditions)
    branches = [f"[0:v]split={count + 2}" + "".join(f"[s{i}]" for i in range(count)) + "[sp][st]"]
    for i, r in enumerate(plan.renditions):
        branches.append(f"[s{i}]scale={r.width}:{r.height}:flags=bicubic,format=yuv420p[v{i}]")
    poster_height = min(720, probe.height - probe.height % 2)
    branches.append(f"[sp]select='gte(t\\,{plan.poster_at_s:.3f})',scale=-2:{poster_height}[poster]")
    # One small JPEG per interval; tiling them into sprite sheets inside the graph would hold back
    # ffmpeg's progress reports (a sheet is only written once it is full).
    branches.append(f"[st]fps=1/{plan.thumb_interval_s},scale={THUMB_WIDTH}:{plan.thumb_height}[thumbs]")
    args = ["-i", str(source), "-filter_complex", ";".join(branches)]
    for i in range(count):
        args += ["-map", f"[v{i}]"]
        if probe.has_audio:
            args += ["-map", "0:a:0"]
    args += [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-profile:v",
        "high",
        "-g",
        str(plan.gop_frames),
        "-keyint_min",
        str(plan.gop_frames),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{segment_seconds})",
    ]
    for i, r in enumerate(plan.renditions):
        args += [
            f"-b:v:{i}",
            f"{r.video_kbps}k",
            f"-maxrate:v:{i}",
            f"{int(r.video_kbps * 1.07)}k",
            f"-bufsize:v:{i}",
            f"{r.video_kbps * 2}k",
        ]
    if probe.has_audio:
        args += ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2", "-ar", "48000"]
    stream_map = " ".join(
        f"v:{i},a:{i},name:{r.name}" if probe.has_audio else f"v:{i},name:{r.name}"
        for i, r in enumerate(plan.renditions)
    )
    args += [
        "-f",
        "hls",
        "-hls_time",
        str(segment_seconds),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "mpegts",
        "-master_pl_name",
        MASTER_PLAYLIST,
        "-hls_segment_filename",
        str(out_dir / "%v" / "seg_%05d.ts"),
        "-var_stream_map",
        stream_map,
        str(out_dir / "%v" / "index.m3u8"),
        "-map",
        "[poster]",
        "-frames:v",
        "1",
        "-c:v",
        "mjpeg",
        "-q:v",
        "3",
        str(out_dir / POSTER),
        "-map",
        "[thumbs]",
        "-c:v",
        "mjpeg",
        "-q:v",
        "5",
        str(out_dir / "thumbs" / "thumb_%04d.jpg"),
    ]
    return args


def write_thumbnail_track(out_dir: Path, plan: LadderPlan, duration_s: float) -> None:
    """The WebVTT track that maps each span of the video to the thumbnail taken at its start."""
    thumbs = sorted((out_dir / "thumbs").glob("thumb_*.jpg"))
    lines = ["WEBVTT", ""]
    for index, thumb in enumerate(thumbs):
        start = index * plan.thumb_interval_s
        if start >= duration_s:
            break
        end = min(duration_s, start + plan.thumb_interval_s)
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{thumb.name}#xywh=0,0,{THUMB_WIDTH},{plan.thumb_height}",
            "",
        ]
    (out_dir / THUMBS_VTT).write_text("\n".join(lines))


def _vtt_time(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


class LadderIncomplete(RuntimeError):
    """The ladder on disk is missing parts or is shorter than the source."""


_BANDWIDTH = re.compile(r"BANDWIDTH=(\d+)")
_RESOLUTION = re.compile(r"RESOLUTION=(\d+)x(\d+)")
_EXTINF = re.compile(r"^#EXTINF:([\d.]+)", re.MULTILINE)


def check_ladder(out_dir: Path, plan: LadderPlan, duration_s: float) -> list[dict[str, int]]:
    """Verify the finished ladder and return its renditions; a short ladder means a truncated source."""
    master = out_dir / MASTER_PLAYLIST
    if not master.exists() or not (out_dir / POSTER).exists():
        raise LadderIncomplete("the transcode did not write a master playlist and poster")
    found = []
    for line in master.read_text().splitlines():
        if line.startswith("#EXT-X-STREAM-INF"):
            resolution, bandwidth = _RESOLUTION.search(line), _BANDWIDTH.search(line)
            if resolution is None or bandwidth is None:
                raise LadderIncomplete(f"a variant without RESOLUTION or BANDWIDTH: {line}")
            width, height = map(int, resolution.groups())
            found.append({"height": height, "width": width, "bandwidth": int(bandwidth.group(1))})
    if len(found) != len(plan.renditions):
        raise LadderIncomplete(f"expected {len(plan.renditions)} renditions, found {len(found)}")
    for rendition in plan.renditions:
        playlist = (out_dir / rendition.name / "index.m3u8").read_text()
        if "#EXT-X-ENDLIST" not in playlist:
            raise LadderIncomplete(f"the {rendition.name} playlist is unfinished")
        media_s = sum(float(d) for d in _EXTINF.findall(playlist))
        if media_s < duration_s * 0.9 - 0.5:
            raise LadderIncomplete(
                f"only {media_s:.1f} s of the {duration_s:.1f} s video could be decoded; "
                "the file is truncated or damaged"
            )
    return sorted(found, key=lambda r: r["height"], reverse=True)
