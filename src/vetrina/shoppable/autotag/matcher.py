"""Finding reference images in a frame.

`Matcher` is the interface the rest of auto-tagging uses. `FeatureMatcher`, the default, needs no model:
SIFT keypoints, one FLANN index over every reference's descriptors (so a frame is matched against the
whole catalogue at once), votes per reference image, and a RANSAC homography per candidate that gives
the product's outline in the frame and rejects look-alikes whose features do not agree geometrically.
An embedding matcher (a CLIP-like model, FAISS) would implement the same `detect`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np


@dataclass(frozen=True)
class Reference:
    """One reference image of a product, as a grayscale array."""

    product_id: int
    pixels: np.ndarray


@dataclass(frozen=True)
class Detection:
    product_id: int
    box: tuple[float, float, float, float]  # normalised x, y, w, h
    score: float  # 0..1
    inliers: int


class Matcher(Protocol):
    def detect(self, frame: np.ndarray) -> list[Detection]: ...


@dataclass(frozen=True)
class MatcherSettings:
    reference_side: int = 480  # references are resized so their longest side is this
    ratio: float = 0.75  # Lowe's ratio test
    min_inliers: int = 10
    # Share of a candidate's matches that agree on one homography: true views measured 0.4-1.0 (low under
    # blur with a repeating pattern, but then with many agreeing features), look-alikes 0.3 with few.
    min_inlier_share: float = 0.5
    strong_inliers: int = 25  # this many agreeing features need no minimum share
    candidates: int = 6  # references checked geometrically per frame
    features_per_frame: int = 1500
    flann_checks: int = 48  # leaves the k-d trees visit per query: more is slower and nearer to exact


def _sift(features: int) -> cv2.SIFT:
    return cv2.SIFT.create(nfeatures=features, contrastThreshold=0.03)


class FeatureMatcher:
    """SIFT + FLANN + RANSAC over a set of product reference images."""

    def __init__(self, references: list[Reference], settings: MatcherSettings | None = None) -> None:
        self.settings = settings or MatcherSettings()
        self._sift_reference = _sift(600)
        self._sift_frame = _sift(self.settings.features_per_frame)
        self.references: list[tuple[int, np.ndarray, tuple[int, int]]] = []  # product, keypoint xy, (w, h)
        descriptors, owners = [], []
        for reference in references:
            pixels = _resized(reference.pixels, self.settings.reference_side)
            keypoints, found = self._sift_reference.detectAndCompute(pixels, None)
            if found is None or len(keypoints) < self.settings.min_inliers:
                continue  # a blank or featureless image cannot be found in a frame
            owners.append(np.full(len(keypoints), len(self.references), dtype=np.int32))
            descriptors.append(found)
            points = np.array([k.pt for k in keypoints], dtype=np.float32)
            self.references.append((reference.product_id, points, (pixels.shape[1], pixels.shape[0])))
        self._owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int32)
        self._index = None
        self._first_keypoint = np.cumsum([0] + [len(r[1]) for r in self.references])
        if descriptors:
            self._index = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": self.settings.flann_checks})
            self._index.add([np.concatenate(descriptors)])
            self._index.train()

    @property
    def usable_products(self) -> set[int]:
        return {product for product, _, _ in self.references}

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """The products found in a grayscale frame, each once, best first."""
        if self._index is None:
            return []
        keypoints, found = self._sift_frame.detectAndCompute(frame, None)
        if found is None or len(keypoints) < self.settings.min_inliers:
            return []
        frame_points = np.array([k.pt for k in keypoints], dtype=np.float32)
        pairs = defaultdict(list)  # reference -> [(reference keypoint, frame keypoint)]
        for query, neighbours in enumerate(self._index.knnMatch(found, k=2)):
            if len(neighbours) < 2:
                continue
            best, second = neighbours
            best_ref, second_ref = self._owner[best.trainIdx], self._owner[second.trainIdx]
            same_product = self.references[best_ref][0] == self.references[second_ref][0]
            if best.distance < self.settings.ratio * second.distance or same_product:
                local = best.trainIdx - self._first_keypoint[best_ref]
                pairs[best_ref].append((local, query))
        votes = Counter({ref: len(p) for ref, p in pairs.items() if len(p) >= self.settings.min_inliers})
        detections: dict[int, Detection] = {}
        height, width = frame.shape[:2]
        for ref, _ in votes.most_common(self.settings.candidates):
            detection = self._verify(ref, pairs[ref], frame_points, width, height)
            if detection and (
                detection.product_id not in detections or detection.inliers > detections[detection.product_id].inliers
            ):
                detections[detection.product_id] = detection
        return _without_overlaps(sorted(detections.values(), key=lambda d: -d.inliers))

    def _verify(
        self, ref: int, pairs: list[tuple[int, int]], frame_points: np.ndarray, width: int, height: int
    ) -> Detection | None:
        product_id, ref_points, (ref_w, ref_h) = self.references[ref]
        source = ref_points[[p[0] for p in pairs]]
        target = frame_points[[p[1] for p in pairs]]
        homography, mask = cv2.findHomography(source, target, cv2.RANSAC, 5.0)
        if homography is None:
            return None
        inliers = int(mask.sum())
        share = inliers / len(pairs)
        weak = share < self.settings.min_inlier_share and inliers < self.settings.strong_inliers
        if inliers < self.settings.min_inliers or weak:
            return None
        if not _spread(source[mask.ravel() == 1], ref_w, ref_h):
            return None  # only one detail agrees (a shared logo or label): a look-alike, not the product
        corners = np.array([[0, 0], [ref_w, 0], [ref_w, ref_h], [0, ref_h]], dtype=np.float32).reshape(-1, 1, 2)
        outline = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
        if not _plausible(outline, width, height):
            return None
        left, top = outline.min(axis=0)
        right, bottom = outline.max(axis=0)
        left, top = max(0.0, float(left)), max(0.0, float(top))
        right, bottom = min(float(width), float(right)), min(float(height), float(bottom))
        if right - left < 4 or bottom - top < 4:
            return None
        box = (left / width, top / height, (right - left) / width, (bottom - top) / height)
        score = min(1.0, inliers / 40) * 0.5 + share * 0.5
        return Detection(product_id=product_id, box=box, score=round(score, 4), inliers=inliers)


def _spread(points: np.ndarray, width: int, height: int) -> bool:
    """Whether the agreeing features cover the reference: at least two rows and two columns of a 3x3 grid."""
    columns = set(np.minimum(2, (points[:, 0] * 3 // width).astype(int)))
    rows = set(np.minimum(2, (points[:, 1] * 3 // height).astype(int)))
    return len(columns) >= 2 and len(rows) >= 2


def _without_overlaps(detections: list[Detection]) -> list[Detection]:
    """Where two products claim the same place, the one with more agreeing features is kept."""
    kept: list[Detection] = []
    for detection in detections:
        if all(_iou(detection.box, other.box) < 0.5 for other in kept):
            kept.append(detection)
    return sorted(kept, key=lambda d: -d.score)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    inter_w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _plausible(outline: np.ndarray, width: int, height: int) -> bool:
    """A real view of a flat product: a convex outline, not folded, neither tiny nor far bigger than the frame."""
    if not cv2.isContourConvex(outline.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(outline.astype(np.float32))
    if area < 0.002 * width * height or area > 2.0 * width * height:
        return False
    sides = [float(np.linalg.norm(outline[i] - outline[(i + 1) % 4])) for i in range(4)]
    return min(sides) > 0 and max(sides) / min(sides) < 8


def _resized(pixels: np.ndarray, longest: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    scale = longest / max(height, width)
    if scale >= 1:
        return pixels
    return cv2.resize(pixels, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
