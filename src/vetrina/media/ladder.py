"""The HLS ladder: which renditions a source gets, and the one ffmpeg command that makes all of them.

One decode feeds every encode: the decoded picture is split once, scaled per rendition, encoded with
keyframes forced on the same segment boundaries (so players can switch cleanly), and also feeds the
poster and the seek-preview thumbnails. Audio is encoded once per rendition from the same decode.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vetrina.i18n import _
from vetrina.media.probe import ProbeResult

# Video bitrates (kbit/s) by height, near the common streaming ladders for H.264 at 30 fps.
_VIDEO_KBPS = {1080: 5000, 720: 2800, 480: 1400, 360: 800, 240: 400}
AUDIO_KBPS = 128
THUMB_WIDTH = 160
MASTER_PLAYLIST = "master.m3u8"
POSTER = "poster.jpg"
THUMBS_VTT = "thumbs/thumbs.vtt"
LIVE_SEGMENT_SECONDS = 1  # and a 1 s GOP: a viewer joins, and a rung switches, within a second


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
    branches += _scaled(plan)
    branches.append(_poster_branch("sp", plan.poster_at_s, probe))
    # One small JPEG per interval; tiling them into sprite sheets inside the graph would hold back
    # ffmpeg's progress reports (a sheet is only written once it is full).
    branches.append(f"[st]fps=1/{plan.thumb_interval_s},scale={THUMB_WIDTH}:{plan.thumb_height}[thumbs]")
    args = ["-i", str(source), "-filter_complex", ";".join(branches)]
    for i in range(count):
        args += ["-map", f"[v{i}]"]
        if probe.has_audio:
            args += ["-map", "0:a:0"]
    args += _video_encoding(plan, segment_seconds, preset)
    if probe.has_audio:
        args += AUDIO_ENCODING
    stream_map = " ".join(
        f"v:{i},a:{i},name:{r.name}" if probe.has_audio else f"v:{i},name:{r.name}"
        for i, r in enumerate(plan.renditions)
    )
    args += _hls_output(out_dir, segment_seconds, stream_map, MASTER_PLAYLIST)
    args += _poster_output(out_dir) + ["-map", "[thumbs]", *_THUMB_ENCODING, str(out_dir / "thumbs" / "thumb_%04d.jpg")]
    return args


# Chunked transcodes --------------------------------------------------------------------------------------------------

# Every part's timestamps are moved on by this much more than its start: the muxer lifts a stream whose first decode
# time would fall below its start (the first B-frames' do), and it must lift no part differently from another.
TS_LEAD_S = 1.0
CHUNK_MASTER = "chunk.m3u8"  # a part's own master playlist, read for its codecs and never published
AUDIO_DIR = "audio"
AUDIO_CODEC = "mp4a.40.2"


@dataclass(frozen=True)
class Span:
    """The stretch of the source one part encodes; its start lies on the segment grid."""

    start_s: float
    duration_s: float
    until_end: bool  # the last part reads to the end, whatever the probe said of the length

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def plan_spans(duration_s: float, chunk_seconds: int) -> list[Span]:
    """Spans of `chunk_seconds` covering the source; a remainder under half a chunk joins the last span."""
    starts = list(range(0, max(1, math.ceil(duration_s)), chunk_seconds))
    if len(starts) > 1 and duration_s - starts[-1] < chunk_seconds / 2:
        starts.pop()
    return [
        Span(float(start), (duration_s - start) if i == len(starts) - 1 else float(chunk_seconds), i == len(starts) - 1)
        for i, start in enumerate(starts)
    ]


def span_thumbnails(plan: LadderPlan, span: Span) -> range:
    """The indexes of the seek thumbnails whose times fall in `span` (thumbnail k shows second k * interval)."""
    interval = plan.thumb_interval_s
    return range(math.ceil(span.start_s / interval), math.ceil(span.end_s / interval))


def chunk_command(
    source: Path, out_dir: Path, probe: ProbeResult, plan: LadderPlan, segment_seconds: int, preset: str, span: Span
) -> list[str]:
    """ffmpeg arguments that write one span's video ladder (no audio) into `out_dir`, its segments numbered and
    timed as in the whole film, with the poster and thumbnails that fall in the span."""
    count = len(plan.renditions)
    thumbs = span_thumbnails(plan, span)
    with_poster = span.start_s <= plan.poster_at_s < span.end_s
    extra = (["sp"] if with_poster else []) + (["st"] if thumbs else [])
    branches = [
        f"[0:v]split={count + len(extra)}" + "".join(f"[s{i}]" for i in range(count)) + "".join(f"[{e}]" for e in extra)
    ]
    branches += _scaled(plan)
    if with_poster:
        branches.append(_poster_branch("sp", plan.poster_at_s - span.start_s, probe))
    if thumbs:
        # The span's first thumbnail is this far in; from there, one frame per interval.
        offset = thumbs.start * plan.thumb_interval_s - span.start_s
        branches.append(
            f"[st]trim=start={offset:.3f},setpts=PTS-STARTPTS,fps=1/{plan.thumb_interval_s},"
            f"scale={THUMB_WIDTH}:{plan.thumb_height}[thumbs]"
        )
    args = ["-ss", f"{span.start_s:.3f}"] + ([] if span.until_end else ["-t", f"{span.duration_s:.3f}"])
    args += ["-i", str(source), "-filter_complex", ";".join(branches)]
    for i in range(count):
        args += ["-map", f"[v{i}]"]
    args += _video_encoding(plan, segment_seconds, preset)
    args += ["-output_ts_offset", f"{span.start_s + TS_LEAD_S:.3f}"]
    stream_map = " ".join(f"v:{i},name:{r.name}" for i, r in enumerate(plan.renditions))
    args += _hls_output(
        out_dir, segment_seconds, stream_map, CHUNK_MASTER, start_number=round(span.start_s / segment_seconds)
    )
    if with_poster:
        args += _poster_output(out_dir)
    if thumbs:
        args += ["-map", "[thumbs]", "-frames:v", str(len(thumbs)), *_THUMB_ENCODING]
        args += ["-start_number", str(thumbs.start + 1), str(out_dir / "thumbs" / "thumb_%04d.jpg")]
    return args


# Live ladders ---------------------------------------------------------------------------------------------------------


def live_command(
    source_url: str,
    out_dir: Path,
    plan: LadderPlan,
    has_audio: bool,
    preset: str,
    start_number: int,
    *,
    max_pixels: int,
) -> list[str]:
    """ffmpeg arguments that take a live stream at `source_url` and write its ladder into `out_dir` as it comes:
    1 s segments from `start_number` on, each keyframe-aligned across rungs and stamped with its program date time
    (ffmpeg's wall clock when it began), and a playlist per rung listing every segment of this run. A picture
    larger than `max_pixels` is not decoded, whatever the publisher's metadata said."""
    count = len(plan.renditions)
    branches = [f"[0:v]split={count}" + "".join(f"[s{i}]" for i in range(count)), *_scaled(plan)]
    # Give up on a source silent for 10 s (a publisher gone without a word), in microseconds.
    args = ["-rw_timeout", "10000000", "-max_pixels", str(max_pixels), "-i", source_url]
    args += ["-filter_complex", ";".join(branches)]
    for i in range(count):
        args += ["-map", f"[v{i}]"] + (["-map", "0:a:0"] if has_audio else [])
    # zerolatency: no B-frames and no lookahead, so a frame leaves the encoder as soon as it is in.
    args += _video_encoding(plan, LIVE_SEGMENT_SECONDS, preset) + ["-tune", "zerolatency"]
    if has_audio:
        args += AUDIO_ENCODING
    stream_map = " ".join(
        f"v:{i},a:{i},name:{r.name}" if has_audio else f"v:{i},name:{r.name}" for i, r in enumerate(plan.renditions)
    )
    return args + [
        "-f",
        "hls",
        "-hls_time",
        str(LIVE_SEGMENT_SECONDS),
        "-hls_list_size",
        "0",
        "-hls_flags",
        "independent_segments+program_date_time+temp_file",
        "-hls_segment_type",
        "mpegts",
        "-start_number",
        str(start_number),
        "-hls_segment_filename",
        str(out_dir / "%v" / "seg_%05d.ts"),
        "-var_stream_map",
        stream_map,
        str(out_dir / "%v" / "index.m3u8"),
    ]


def audio_command(source: Path, out_dir: Path, segment_seconds: int) -> list[str]:
    """ffmpeg arguments that write the whole file's audio, once, as the ladder's one audio rendition."""
    args = ["-i", str(source), "-map", "0:a:0", "-vn", *AUDIO_ENCODING, "-output_ts_offset", f"{TS_LEAD_S:.3f}"]
    return args + _hls_output(out_dir, segment_seconds, f"a:0,name:{AUDIO_DIR}", CHUNK_MASTER)


def _scaled(plan: LadderPlan) -> list[str]:
    return [
        f"[s{i}]scale={r.width}:{r.height}:flags=bicubic,format=yuv420p[v{i}]" for i, r in enumerate(plan.renditions)
    ]


def _poster_branch(label: str, at_s: float, probe: ProbeResult) -> str:
    poster_height = min(720, probe.height - probe.height % 2)
    return f"[{label}]select='gte(t\\,{max(at_s, 0):.3f})',scale=-2:{poster_height}[poster]"


def _poster_output(out_dir: Path) -> list[str]:
    return ["-map", "[poster]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", str(out_dir / POSTER)]


_THUMB_ENCODING = ["-c:v", "mjpeg", "-q:v", "5"]
AUDIO_ENCODING = ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2", "-ar", "48000"]


def _video_encoding(plan: LadderPlan, segment_seconds: int, preset: str) -> list[str]:
    """x264 for every rendition, keyframes forced on the segment grid (so renditions switch and parts join there)."""
    args = [
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
    return args


def _hls_output(out_dir: Path, segment_seconds: int, stream_map: str, master: str, start_number: int = 0) -> list[str]:
    return [
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
        "-start_number",
        str(start_number),
        "-master_pl_name",
        master,
        "-hls_segment_filename",
        str(out_dir / "%v" / "seg_%05d.ts"),
        "-var_stream_map",
        stream_map,
        str(out_dir / "%v" / "index.m3u8"),
    ]


def write_thumbnail_track(out_dir: Path, plan: LadderPlan, duration_s: float) -> None:
    """The WebVTT track of the thumbnails the one-pass transcode wrote into `out_dir`."""
    (out_dir / THUMBS_VTT).write_text(thumbnail_track(plan, duration_s, thumbnail_indexes(out_dir)))


def thumbnail_indexes(out_dir: Path) -> list[int]:
    """Which thumbnails are in `out_dir/thumbs` (thumbnail k, shown from second k * interval, is thumb_{k+1})."""
    return sorted(int(path.stem.removeprefix("thumb_")) - 1 for path in (out_dir / "thumbs").glob("thumb_*.jpg"))


def thumbnail_track(plan: LadderPlan, duration_s: float, indexes: Iterable[int]) -> str:
    """The WebVTT track that maps each span of the video to the thumbnail taken at its start (those there are)."""
    lines = ["WEBVTT", ""]
    for index in sorted(indexes):
        start = index * plan.thumb_interval_s
        if start >= duration_s:
            break
        end = min(duration_s, start + plan.thumb_interval_s)
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"thumb_{index + 1:04d}.jpg#xywh=0,0,{THUMB_WIDTH},{plan.thumb_height}",
            "",
        ]
    return "\n".join(lines)


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
        raise LadderIncomplete(_("the transcode did not write a master playlist and poster"))
    found = []
    for line in master.read_text().splitlines():
        if line.startswith("#EXT-X-STREAM-INF"):
            resolution, bandwidth = _RESOLUTION.search(line), _BANDWIDTH.search(line)
            if resolution is None or bandwidth is None:
                raise LadderIncomplete(_("a variant without RESOLUTION or BANDWIDTH: {line}", line=line))
            width, height = map(int, resolution.groups())
            found.append({"height": height, "width": width, "bandwidth": int(bandwidth.group(1))})
    if len(found) != len(plan.renditions):
        raise LadderIncomplete(
            _("expected {expected} renditions, found {found}", expected=len(plan.renditions), found=len(found))
        )
    for rendition in plan.renditions:
        playlist = (out_dir / rendition.name / "index.m3u8").read_text()
        if "#EXT-X-ENDLIST" not in playlist:
            raise LadderIncomplete(_("the {rendition} playlist is unfinished", rendition=rendition.name))
        media_s = sum(float(d) for d in _EXTINF.findall(playlist))
        if media_s < duration_s * 0.9 - 0.5:
            raise LadderIncomplete(
                _(
                    "only {media_s:.1f} s of the {duration_s:.1f} s video could be decoded; "
                    "the file is truncated or damaged",
                    media_s=media_s,
                    duration_s=duration_s,
                )
            )
    return sorted(found, key=lambda r: r["height"], reverse=True)


# Joining a chunked transcode ------------------------------------------------------------------------------------------

_STREAM_CODECS = re.compile(r'CODECS="([^"]+)"')
_SEGMENT = re.compile(r"^#EXTINF:([\d.]+),?\s*\n([^#\s][^\n]*)$", re.MULTILINE)


def read_part(out_dir: Path, rendition: str) -> list[list[Any]]:
    """The segments one part wrote for `rendition` (a directory of `out_dir`), as [name, seconds, bytes]."""
    folder = out_dir / rendition
    playlist = folder / "index.m3u8"
    if not playlist.exists() or "#EXT-X-ENDLIST" not in (text := playlist.read_text()):
        raise LadderIncomplete(_("the {rendition} playlist of this part is missing or unfinished", rendition=rendition))
    return [[name, float(seconds), (folder / name).stat().st_size] for seconds, name in _SEGMENT.findall(text)]


def read_part_codecs(out_dir: Path) -> dict[str, str]:
    """Each rendition's CODECS, from the master playlist ffmpeg wrote for a part."""
    codecs, pending = {}, None
    for line in (out_dir / CHUNK_MASTER).read_text().splitlines():
        if line.startswith("#EXT-X-STREAM-INF"):
            found = _STREAM_CODECS.search(line)
            pending = found.group(1) if found else None
        elif line and not line.startswith("#") and pending is not None:
            codecs[line.split("/", 1)[0]] = pending
            pending = None
    return codecs


def media_playlist(segments: list[list[Any]]) -> str:
    """A VOD media playlist of `segments` ([name, seconds, bytes], in order)."""
    target = max(math.ceil(seconds - 0.0005) for _, seconds, _ in segments)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for name, seconds, _size in segments:
        lines += [f"#EXTINF:{seconds:.6f},", name]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def _bitrates(segments: list[list[Any]]) -> tuple[int, int]:
    """Peak and average bits per second over `segments`, container overhead included."""
    peak = max(size * 8 / max(seconds, 0.001) for _, seconds, size in segments)
    average = sum(size for _, _, size in segments) * 8 / max(sum(seconds for _, seconds, _ in segments), 0.001)
    return math.ceil(peak), math.ceil(average)


def master_playlist(
    renditions: list[Rendition],
    video: dict[str, list[list[Any]]],
    codecs: dict[str, str],
    audio: list[list[Any]] | None,
) -> tuple[str, list[dict[str, int]]]:
    """The joined ladder's master playlist, with the audio as one rendition every variant shares; and the
    renditions as the video row lists them."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_peak = audio_average = 0
    if audio:
        audio_peak, audio_average = _bitrates(audio)
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_DIR}",NAME="Main",DEFAULT=YES,AUTOSELECT=YES,'
            f'URI="{AUDIO_DIR}/index.m3u8"'
        )
    listed = []
    for rendition in renditions:
        peak, average = _bitrates(video[rendition.name])
        codec = codecs.get(rendition.name, "avc1.640028") + (f",{AUDIO_CODEC}" if audio else "")
        attributes = (
            f"BANDWIDTH={peak + audio_peak},AVERAGE-BANDWIDTH={average + audio_average},"
            f'RESOLUTION={rendition.width}x{rendition.height},CODECS="{codec}"'
        )
        lines += [
            f"#EXT-X-STREAM-INF:{attributes}" + (f',AUDIO="{AUDIO_DIR}"' if audio else ""),
            f"{rendition.name}/index.m3u8",
        ]
        listed.append({"height": rendition.height, "width": rendition.width, "bandwidth": peak + audio_peak})
    return "\n".join([*lines, ""]), listed
