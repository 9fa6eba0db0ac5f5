"""Probe an upload with PyAV and decide whether Vetrina can stream it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from vetrina.errors import InvalidInput, UnsupportedMedia
from vetrina.i18n import _

# Demuxers that read still images: a photo is not a video even though ffmpeg can open it.
_IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")
MIN_DURATION_S = 0.5


@dataclass(frozen=True)
class ProbeResult:
    duration_s: float
    width: int
    height: int
    frame_rate: float
    has_audio: bool
    format_name: str


def probe_video(path: Path, max_duration_s: float) -> ProbeResult:
    """What the file holds; raises UnsupportedMedia or InvalidInput with a reason a person can act on."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UnsupportedMedia(
            _("This file is not a readable video (it may be damaged or truncated): {reason}.", reason=reason)
        ) from None
    with container:
        format_name = container.format.name
        video = next(iter(container.streams.video), None)
        has_audio = bool(container.streams.audio)
        if video is None:
            if has_audio:
                raise UnsupportedMedia(_("This file is an audio-only file: it has no video track."))
            raise UnsupportedMedia(_("This file is not a video: it has no video track."))
        if any(marker in format_name for marker in _IMAGE_FORMATS):
            raise UnsupportedMedia(_("This file is a still image, not a video."))
        width, height = video.codec_context.width, video.codec_context.height
        if not width or not height:
            raise UnsupportedMedia(_("The video track has no picture size; the file may be damaged."))
        duration_s = _duration_s(container, video)
        rate = video.average_rate or video.guessed_rate
        frame_rate = float(rate) if rate else 25.0
        try:
            first_frame = next(container.decode(video), None)
        except (av.error.FFmpegError, StopIteration):
            first_frame = None
        if first_frame is None:
            raise UnsupportedMedia(_("No picture could be decoded from this file; it may be damaged or truncated."))
    if duration_s < MIN_DURATION_S:
        raise UnsupportedMedia(_("This video is too short to stream (under half a second)."))
    if duration_s > max_duration_s:
        raise InvalidInput(
            _(
                "This video is {duration_s:.0f} s long; the limit is {max_duration_s:.0f} s.",
                duration_s=duration_s,
                max_duration_s=max_duration_s,
            ),
            duration_s=round(duration_s, 3),
            max_duration_s=max_duration_s,
        )
    return ProbeResult(
        duration_s=duration_s,
        width=width,
        height=height,
        frame_rate=min(max(frame_rate, 1.0), 120.0),
        has_audio=has_audio,
        format_name=format_name,
    )


def _duration_s(container: av.container.InputContainer, video: av.video.stream.VideoStream) -> float:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def probe_audio(path: Path, max_duration_s: float) -> float:
    """The length in seconds of an audio file whose sound decodes; UnsupportedMedia when it is not audio."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError):
        raise UnsupportedMedia(_("This file is not a readable audio file (MP3, AAC, WAV, FLAC, Ogg...).")) from None
    with container:
        audio = next(iter(container.streams.audio), None)
        if audio is None:
            raise UnsupportedMedia(_("This file has no sound track."))
        try:
            decoded = next(container.decode(audio), None)
        except (av.error.FFmpegError, StopIteration):
            decoded = None
        if decoded is None:
            raise UnsupportedMedia(_("No sound could be decoded from this file; it may be damaged or truncated."))
        if audio.duration is not None and audio.time_base is not None:
            duration_s = float(audio.duration * audio.time_base)
        else:
            duration_s = (container.duration or 0) / av.time_base
    if duration_s < 1:
        raise UnsupportedMedia(_("The track is shorter than a second."))
    if duration_s > max_duration_s:
        raise InvalidInput(
            _(
                "The track is {duration_s:.0f} s long; the limit is {max_duration_s:.0f} s.",
                duration_s=duration_s,
                max_duration_s=max_duration_s,
            ),
            field="file",
        )
    return duration_s
