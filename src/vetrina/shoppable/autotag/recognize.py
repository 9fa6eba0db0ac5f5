"""One pass over a video: sample frames, detect the candidate products in each, and turn runs into proposals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vetrina.shoppable.autotag.frames import sample_frames
from vetrina.shoppable.autotag.matcher import Matcher
from vetrina.shoppable.autotag.tracks import Proposal, TrackSettings, build_proposals


@dataclass(frozen=True)
class RecognitionSettings:
    every_s: float = 0.5
    analysis_width: int = 480  # SIFT doubles the first octave itself, so this sees detail at 960 px
    cut_threshold: float = 0.5


def recognize(
    video: Path,
    duration_s: float,
    matcher: Matcher,
    settings: RecognitionSettings,
    tracks: TrackSettings,
    on_progress: Callable[[float], object] | None = None,
) -> list[Proposal]:
    """Proposals for every candidate product the matcher finds in `video`."""
    samples = []
    for sample in sample_frames(video, settings.every_s, settings.analysis_width, settings.cut_threshold):
        samples.append((sample.t, sample.shot, matcher.detect(sample.pixels)))
        if on_progress is not None:
            on_progress(min(0.99, sample.t / duration_s) if duration_s else 0.0)
    return build_proposals(samples, duration_s, tracks)
