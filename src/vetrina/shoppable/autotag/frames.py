"""Sampling a video for recognition: a few grayscale frames a second, and where the shots change.

Frames are decoded with PyAV on all cores, skipping the frames no other frame refers to (they are
never sampled often enough to matter), and scaled down by the decoder's own scaler. A cut is where the
colour histogram of one sample differs sharply from the previous one; spans never cross a cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from vetrina.errors import UnsupportedMedia
from vetrina.i18n import _


@dataclass(frozen=True)
class Sample:
    t: float
    shot: int
    pixels: np.ndarray  # grayscale, analysis size


def _histogram(frame: av.VideoFrame) -> np.ndarray:
    small = frame.reformat(width=64, height=36, format="rgb24").to_ndarray()
    hist = cv2.calcHist([small], [0, 1, 2], None, [8, 8, 8], [0, 256, 0, 256, 0, 256])
    return cv2.normalize(hist, hist).flatten()


def sample_frames(path: Path, every_s: float, width: int, cut_threshold: float = 0.5) -> Iterator[Sample]:
    """Frames every `every_s` seconds, `width` px wide (never upscaled), with the shot each belongs to."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UnsupportedMedia(_("The video cannot be read for recognition ({error}).", error=str(exc))) from None
    with container:
        if not container.streams.video:
            raise UnsupportedMedia(_("The file has no picture to recognise products in."))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONREF"
        next_t, shot, previous, origin = 0.0, 0, None, None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            if origin is None:
                origin = frame.time  # streams may start late (MPEG-TS, edit lists); the player counts from 0
            t = frame.time - origin
            if t + 1e-6 < next_t:
                continue
            next_t = t + every_s
            histogram = _histogram(frame)
            if previous is not None and cv2.compareHist(previous, histogram, cv2.HISTCMP_BHATTACHARYYA) > cut_threshold:
                shot += 1
            previous = histogram
            target = min(width, frame.width)
            height = max(2, round(target * frame.height / frame.width / 2) * 2)
            yield Sample(t, shot, frame.reformat(width=target, height=height, format="gray").to_ndarray())


def scene_cuts(path: Path, every_s: float = 0.5, cut_threshold: float = 0.5) -> list[float]:
    """Where the shots change, in seconds (halfway between the samples either side of each cut)."""
    cuts, previous = [], None
    for sample in sample_frames(path, every_s, 160, cut_threshold):
        if previous is not None and sample.shot != previous.shot:
            cuts.append(round((previous.t + sample.t) / 2, 3))
        previous = sample
    return cuts
