"""From per-frame detections to proposed tags: runs of the same product within a shot become one span with a
keyframed box; a product missing from a single sample (a flicker) does not split its span; a product seen in
too few samples is dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

from vetrina.shoppable.autotag.matcher import Detection

MAX_KEYFRAMES = 500  # what a tag takes (shoppable.service.MAX_KEYFRAMES)


@dataclass(frozen=True)
class TrackSettings:
    every_s: float = 0.5  # the sampling interval
    max_missing: int = 1  # samples a product may be missing without ending its span
    min_samples: int = 2  # samples a span needs to be proposed
    min_confidence: float = 0.3


@dataclass
class Proposal:
    product_id: int
    start_s: float
    end_s: float
    keyframes: list[dict[str, float]] = field(default_factory=list)
    confidence: float = 0.0

    def box_at(self, t: float) -> dict[str, float]:
        """The box at `t`, interpolated between keyframes."""
        frames = self.keyframes
        if t <= frames[0]["t"]:
            return {k: frames[0][k] for k in "xywh"}
        for before, after in zip(frames, frames[1:], strict=False):
            if before["t"] <= t <= after["t"]:
                share = (t - before["t"]) / ((after["t"] - before["t"]) or 1)
                return {k: before[k] + (after[k] - before[k]) * share for k in "xywh"}
        return {k: frames[-1][k] for k in "xywh"}

    @property
    def box(self) -> dict[str, float]:
        return self.box_at((self.start_s + self.end_s) / 2)


@dataclass
class _Open:
    proposal: Proposal
    shot: int
    last_seen: int  # sample number
    scores: list[float]


def build_proposals(
    samples: list[tuple[float, int, list[Detection]]], duration_s: float, settings: TrackSettings
) -> list[Proposal]:
    """`samples` is [(time, shot, detections)] in time order."""
    finished: list[_Open] = []
    open_runs: dict[int, _Open] = {}
    for number, (t, shot, detections) in enumerate(samples):
        for product_id, ended in list(open_runs.items()):
            if ended.shot != shot or number - ended.last_seen > settings.max_missing + 1:
                finished.append(open_runs.pop(product_id))
        for detection in detections:
            x, y, w, h = detection.box
            keyframe = {"t": round(t, 3), "x": x, "y": y, "w": w, "h": h}
            run = open_runs.get(detection.product_id)
            if run is None:
                proposal = Proposal(detection.product_id, start_s=t, end_s=t, keyframes=[keyframe])
                open_runs[detection.product_id] = _Open(proposal, shot, number, [detection.score])
            else:
                run.proposal.keyframes.append(keyframe)
                run.proposal.end_s, run.last_seen = t, number
                run.scores.append(detection.score)
    finished.extend(open_runs.values())
    shot_bounds = _shot_bounds(samples, duration_s)
    proposals = []
    for run in finished:
        if len(run.scores) < settings.min_samples:
            continue
        proposal = run.proposal
        first, last = shot_bounds[run.shot]
        # Each sample stands for the half interval either side of it, within its shot.
        proposal.start_s = round(max(first, proposal.start_s - settings.every_s / 2), 3)
        proposal.end_s = round(min(last, proposal.end_s + settings.every_s / 2), 3)
        inside = [k for k in proposal.keyframes if proposal.start_s <= k["t"] <= proposal.end_s]
        proposal.keyframes = _thinned(_smoothed(inside or proposal.keyframes[:1]), MAX_KEYFRAMES)
        seen = len(run.scores) / (round((proposal.end_s - proposal.start_s) / settings.every_s) or 1)
        proposal.confidence = round(min(1.0, sum(run.scores) / len(run.scores) * min(1.0, seen)), 3)
        if proposal.confidence >= settings.min_confidence:
            proposals.append(proposal)
    return sorted(proposals, key=lambda p: (p.start_s, p.product_id))


Samples = list[tuple[float, int, list[Detection]]]


def _shot_bounds(samples: Samples, duration_s: float) -> dict[int, tuple[float, float]]:
    """Each shot's start and end: a cut lies halfway between the last sample of one shot and the first of the next."""
    bounds: dict[int, list[float]] = {}
    previous: tuple[float, int] | None = None
    for t, shot, _ in samples:
        if shot not in bounds:
            start = 0.0 if previous is None else (previous[0] + t) / 2
            if previous is not None:
                bounds[previous[1]][1] = start
            bounds[shot] = [start, duration_s]
        previous = (t, shot)
    return {shot: (start, end) for shot, (start, end) in bounds.items()}


def _thinned(frames: list[dict[str, float]], most: int) -> list[dict[str, float]]:
    """At most `most` keyframes, evenly chosen, keeping the first and the last (tags take a bounded number)."""
    if len(frames) <= most:
        return frames
    step = (len(frames) - 1) / (most - 1)
    return [frames[round(i * step)] for i in range(most)]


def _smoothed(frames: list[dict[str, float]]) -> list[dict[str, float]]:
    """A 3-tap moving average of the box (detection noise), keeping the ends; rounded for storage."""
    out = []
    for i, frame in enumerate(frames):
        window = frames[max(0, i - 1) : i + 2]
        out.append({"t": frame["t"], **{k: round(sum(f[k] for f in window) / len(window), 5) for k in "xywh"}})
    return out
