"""A live show's HLS as Vetrina publishes it: the master playlist of its rungs, and each rung's media playlist
composed from the show's segments (a sliding window while live, every segment once it is a replay), with the
program date time of every segment and a discontinuity wherever the publisher came back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LIVE_WINDOW = 60  # segments a live playlist lists: a minute to rewind, and a small playlist polled every second
# Fixed for the show's life (RFC 8216 forbids changing it): 1 s segments, and room for one stretched by a late frame.
TARGET_DURATION = 2
MASTER = "master.m3u8"
MEDIA = "index.m3u8"


@dataclass(frozen=True)
class Segment:
    seq: int
    program_time: datetime
    duration_s: float
    discontinuity: bool = False


@dataclass(frozen=True)
class RunSegment:
    """One segment as ffmpeg's own playlist of a run lists it."""

    uri: str
    duration_s: float
    program_time: datetime | None


def segment_name(seq: int) -> str:
    return f"seg_{seq:05d}.ts"


def master_playlist(renditions: Sequence[dict[str, Any]]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in renditions:
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={rung['bandwidth']},RESOLUTION={rung['width']}x{rung['height']}",
            f"{rung['height']}p/{MEDIA}",
        ]
    return "\n".join(lines) + "\n"


def media_playlist(segments: Sequence[Segment], *, ended: bool, window: bool | None = None) -> str:
    """A rung's playlist: the last LIVE_WINDOW segments while the show is live (and, ended, the window's last
    version); every segment as a VOD for the replay."""
    windowed = (not ended) if window is None else window
    shown = list(segments[-LIVE_WINDOW:]) if windowed else list(segments)
    first = shown[0].seq if shown else 0
    # Discontinuities slid out of the window: a player keeps its timeline straight across them.
    skipped = sum(1 for segment in segments if segment.seq < first and segment.discontinuity)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{TARGET_DURATION}"]
    lines += [f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    lines += [f"#EXT-X-DISCONTINUITY-SEQUENCE:{skipped}"] if skipped else []
    lines += ["#EXT-X-PLAYLIST-TYPE:VOD"] if ended and not windowed else []
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for segment in shown:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{program_time_text(segment.program_time)}",
            f"#EXTINF:{segment.duration_s:.3f},",
            segment_name(segment.seq),
        ]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def program_time_text(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond, as HLS writes a program date time (and live events their stream time)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_run_playlist(text: str) -> list[RunSegment]:
    """The segments ffmpeg's playlist of one run lists, in order; a half-written last entry is left for later."""
    found: list[RunSegment] = []
    duration: float | None = None
    program_time: datetime | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line[8:].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            try:
                program_time = datetime.fromisoformat(line[25:])
            except ValueError:
                program_time = None
        elif line and not line.startswith("#") and duration is not None:
            found.append(RunSegment(line, duration, program_time))
            duration = program_time = None
    return found


def replay_second(segments: Sequence[Segment], moment: datetime) -> float | None:
    """Where `moment` (a stream time) falls in the replay made of `segments`, in seconds from its start: a moment
    between two runs of the publisher lands where the next run begins; None after the last segment."""
    elapsed = 0.0
    for segment in segments:
        offset = (moment - segment.program_time).total_seconds()
        if offset < segment.duration_s:
            return elapsed + max(0.0, offset)
        elapsed += segment.duration_s
    return None
