"""Faces across the sampled frames of a video: shot cuts, and tracks of one face within a shot.

A track links a face in one sampled frame to the face in the next sampled frame whose box
overlaps it most (intersection over union at least ``TrackParams.iou``), matched one to one; a
face unmatched for more than ``max_gap`` samples ends its track, and a shot cut ends them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class TrackParams:
    """``iou``: the least box overlap that continues a track; ``max_gap``: samples a face may be
    missed (a blink of the detector) before its track ends; ``cut``: the Bhattacharyya distance
    between two sampled frames' colour histograms above which a shot changes; ``layout_cut``:
    the mean change of their grey thumbnails (0–1) above which it changes too."""

    iou: float = 0.3
    max_gap: int = 2
    cut: float = 0.3
    layout_cut: float = 0.1


@dataclass
class TrackedFace:
    sample: int  # position in the sampled frames
    box: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray  # (5, 2)
    confidence: float


@dataclass
class Track:
    shot: int
    faces: list[TrackedFace] = field(default_factory=list)

    @property
    def height(self) -> float:
        """The median face box height, in pixels."""
        return float(np.median([face.box[3] for face in self.faces]))


def colour_signature(pixels: np.ndarray) -> np.ndarray:
    """What shot detection compares between two sampled frames: a normalised HSV histogram
    (the colours) followed by a 32×18 grey thumbnail (the layout), as one vector."""
    small = cv2.resize(pixels, (160, 90), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], None, [8, 8, 4], [0, 180, 0, 256, 0, 256])
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    layout = cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA)
    return np.concatenate([cv2.normalize(histogram, histogram).flatten(), layout.ravel() / 255.0])


HISTOGRAM_BINS = 8 * 8 * 4


def is_cut(before: np.ndarray, after: np.ndarray, params: TrackParams = TrackParams()) -> bool:
    """Whether a shot changes between two sampled frames' signatures: the colours jump, or the
    picture's layout changes at once (a cut between two shots of one stage, under one light)."""
    colours = cv2.compareHist(
        before[:HISTOGRAM_BINS].astype(np.float32),
        after[:HISTOGRAM_BINS].astype(np.float32),
        cv2.HISTCMP_BHATTACHARYYA,
    )
    layout = float(np.mean(np.abs(before[HISTOGRAM_BINS:] - after[HISTOGRAM_BINS:])))
    return bool(colours > params.cut or layout > params.layout_cut)


def shot_numbers(
    signatures: Sequence[np.ndarray], params: TrackParams = TrackParams()
) -> list[int]:
    """The shot of each sampled frame, counted from 0."""
    shots, shot = [], 0
    for position, signature in enumerate(signatures):
        if position and is_cut(signatures[position - 1], signature, params):
            shot += 1
        shots.append(shot)
    return shots


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Links faces into tracks one sampled frame at a time, so a video is tracked as it is read.

    ``add`` returns the track of each face given; ``finished`` hands over, once, the tracks that
    can take no more faces (their shot ended, or their face was missed too long)."""

    def __init__(self, params: TrackParams = TrackParams()) -> None:
        self.params = params
        self.tracks: list[Track] = []
        self._active: list[Track] = []
        self._ended: list[Track] = []
        self._shot: int | None = None

    def add(self, sample: int, shot: int, faces: Sequence[TrackedFace]) -> list[Track]:
        from scipy.optimize import linear_sum_assignment

        if shot != self._shot:
            self._end([])
            self._shot = shot
        self._end(
            [t for t in self._active if sample - t.faces[-1].sample <= self.params.max_gap + 1]
        )
        found: list[Track | None] = [None] * len(faces)
        if self._active and faces:
            overlap = np.array([[iou(t.faces[-1].box, f.box) for f in faces] for t in self._active])
            rows, columns = linear_sum_assignment(-overlap)
            for row, column in zip(rows, columns, strict=True):
                if overlap[row, column] >= self.params.iou:
                    self._active[row].faces.append(faces[column])
                    found[column] = self._active[row]
        for column, face in enumerate(faces):
            if found[column] is None:
                track = Track(shot=shot, faces=[face])
                self.tracks.append(track)
                self._active.append(track)
                found[column] = track
        return [track for track in found if track is not None]

    def finished(self, *, all_: bool = False) -> list[Track]:
        """The tracks ended since the last call; ``all_``: every track still open too (the
        video ended)."""
        if all_:
            self._end([])
        ended, self._ended = self._ended, []
        return ended

    def _end(self, keep: list[Track]) -> None:
        kept = {id(track) for track in keep}
        self._ended += [track for track in self._active if id(track) not in kept]
        self._active = keep


def link_tracks(
    faces_per_sample: Sequence[Sequence[TrackedFace]],
    shots: Sequence[int],
    params: TrackParams = TrackParams(),
) -> list[Track]:
    """Tracks of the faces, in the order they start."""
    tracker = Tracker(params)
    for sample, faces in enumerate(faces_per_sample):
        tracker.add(sample, shots[sample], faces)
    return tracker.tracks
