"""The four selectors of §6.1 and the learned one, each choosing one face (a row index) of one
cluster's features.

Ties break by the faces' features, never by their row order, so shuffling a cluster's rows never
changes which face is chosen (identical rows are the same face as far as any selector can tell).
A selector looks at its own score first and at the features only among faces that tie on it:
sorting every face of a cluster by 21 keys would be most of what it costs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.features import FEATURE_NAMES, SMALLER_BETTER, FeatureTable, goodness
from scoring.ranking import percentiles


def _maxima(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The ``positions`` whose ``values`` (aligned with them) are the largest; all of them when
    none is measured (NaN ranks last, and NaNs tie)."""
    measured = ~np.isnan(values)
    return positions[values == values[measured].max()] if measured.any() else positions


def _tie_break(table: FeatureTable, rows: np.ndarray, positions: np.ndarray) -> int:
    """Of ``positions`` (ascending) in ``rows`` of ``table``, faces that tie on what a selector
    ranks by, the one ranked first: by each feature's goodness in ``FEATURE_NAMES`` order, then
    by each raw value (so that, say, yaw +5 and -5 do not tie), then the first row. Only the
    faces still tied look at the next key, so a tie costs a few comparisons, not a sort."""
    for oriented, name in itertools.product((True, False), FEATURE_NAMES):
        if len(positions) == 1:
            break
        column = goodness(table, name) if oriented else table.column(name)
        positions = _maxima(column[rows[positions]], positions)
    return int(positions[0])


def _best(table: FeatureTable, first: np.ndarray, rows: np.ndarray | None = None) -> int:
    """The position in ``rows`` (default: every row of ``table``) of the best face by ``first``
    (aligned with ``rows``, larger better, NaN last), ties broken by ``_tie_break``."""
    rows = np.arange(len(table)) if rows is None else rows
    if len(rows) == 0:
        raise ValueError("a cluster needs at least one face")
    return _tie_break(table, rows, _maxima(first, np.arange(len(rows))))


def _top(table: FeatureTable, first: np.ndarray, rows: np.ndarray, count: int) -> np.ndarray:
    """The positions in ``rows`` of the best ``count`` faces by ``first`` (aligned with
    ``rows``) among those where it is measured, all of them when fewer, in no particular order;
    the faces tied at the cut are taken one by one by ``_tie_break``."""
    measured = np.flatnonzero(~np.isnan(first))
    if count >= len(measured):
        return measured
    cut = np.partition(first[measured], -count)[-count]
    chosen = np.flatnonzero(first > cut)
    tied = np.flatnonzero(first == cut)
    while len(chosen) < count:
        best = _tie_break(table, rows, tied)
        chosen, tied = np.append(chosen, best), tied[tied != best]
    return chosen


def _require_faces(table: FeatureTable) -> None:
    if len(table) == 0:
        raise ValueError("a cluster needs at least one face")


def pose_cost(table: FeatureTable) -> np.ndarray:
    """(max(|yaw|-1,0) + 1.5·max(|pitch|-1,0) + 0.5·max(|roll|-1,0))³, exactly §6.1; (N,)."""
    excess = (
        np.maximum(np.abs(table.yaw) - 1, 0)
        + 1.5 * np.maximum(np.abs(table.pitch) - 1, 0)
        + 0.5 * np.maximum(np.abs(table.roll) - 1, 0)
    )
    return excess**3


def size_cost(table: FeatureTable) -> np.ndarray:
    """max(200 - √resolution, 0), exactly §6.1; (N,)."""
    return np.maximum(200 - np.sqrt(table.resolution), 0)


def face_cost(table: FeatureTable) -> np.ndarray:
    """Pose Cost + Size Cost of the baseline selector; (N,)."""
    return pose_cost(table) + size_cost(table)


def select_baseline(table: FeatureTable) -> int:
    """The face of lowest Face Cost."""
    return _best(table, -face_cost(table))


def select_fiqa(table: FeatureTable, guards: Sequence[FilterStage] | None = None) -> int:
    """The face of highest learned quality ``fiqa``: the paper's "FaceQNet" column.

    LightQNet cannot see some defects by construction: its alignment levels the face (``roll``),
    it was trained on normally lit faces (``exposure``), and it sees the face at 96 px, so blur,
    grain and blocks on a larger face are shrunk away (``sharpness``, ``artifacts``). ``guards``
    (default ``FIQA_GUARDS``) are filter stages on those measures that run first; ``guards=()``
    is the paper's plain argmax.
    Falls back to ``sharpness`` when ``fiqa`` was not measured."""
    _require_faces(table)
    guards = FIQA_GUARDS if guards is None else tuple(guards)
    rows = np.arange(len(table))
    if guards:
        *_, (_, rows, _) = _filter(table, guards)
    fiqa = table.column("fiqa")[rows]
    first = fiqa if np.isfinite(fiqa).any() else table.sharpness[rows]
    return int(rows[_best(table, first, rows)])


def candidate_priority(table: FeatureTable) -> np.ndarray:
    """How good each face of a cluster looks by every measured feature but ``identity``: the mean
    of its within-cluster percentiles, in [0, 100]; (N,). Decides which faces get embedded."""
    columns = [
        percentiles(goodness(table, name))
        for name in FEATURE_NAMES
        if name != "identity" and np.isfinite(table.column(name)).any()
    ]
    return np.nanmean(np.stack(columns), axis=0) if columns else np.zeros(len(table))


def select_regression(table: FeatureTable, quality: np.ndarray) -> int:
    """The face of highest quality; ``quality`` (N,) comes from ``QualityModel.predict``."""
    quality = np.asarray(quality, dtype=np.float64)
    if quality.shape != (len(table),):
        raise ValueError(f"expected {len(table)} quality scores, got shape {quality.shape}")
    return _best(table, quality)


def select_learned(table: FeatureTable, scores: np.ndarray) -> int:
    """The face of highest score; ``scores`` (N,) come from ``PreferenceModel.predict``."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(table),):
        raise ValueError(f"expected {len(table)} learned scores, got shape {scores.shape}")
    return _best(table, scores)


@dataclass(frozen=True)
class FilterStage:
    """One filtering stage: a face survives when it passes ANY of the criteria that are set.

    - ``threshold`` T: value better than T (pose and exposure: |value| < T; else value > T);
    - ``top`` M: within the best M faces entering the stage;
    - ``percentile`` P: percentile among the faces entering the stage ≥ P, in [0, 100], where a
      face's percentile is the share of the other entering faces it is at least as good as (the
      best face has 100, so P ≤ 100 always keeps it).

    A face whose feature was not measured (NaN) does not pass; when no entering face has it
    measured, the stage keeps everyone (it cannot decide).
    """

    feature: str
    threshold: float | None = None
    top: int | None = None
    percentile: float | None = None

    def __post_init__(self) -> None:
        if self.feature not in FEATURE_NAMES:
            raise ValueError(f"unknown feature {self.feature!r}")
        if self.threshold is None and self.top is None and self.percentile is None:
            raise ValueError(f"stage {self.feature!r} sets none of threshold, top, percentile")
        if self.top is not None and self.top < 1:
            raise ValueError("top must be at least 1")
        if self.percentile is not None and not 0 <= self.percentile <= 100:
            raise ValueError("percentile must be in [0, 100]")


# The paper's stages (§6.1.2) as we first ran them: resolution first (a small face is never a good
# profile image), then frontal pose, then light, and the sharpest survivor wins. A stage keeps what
# clears an absolute bar, the best 3, or the better part of the faces entering it; a small cluster
# therefore loses few faces per stage.
PAPER_STAGES = (
    FilterStage("resolution", threshold=120.0**2, top=3, percentile=50.0),
    FilterStage("yaw", threshold=12.0, top=3, percentile=50.0),
    FilterStage("pitch", threshold=12.0, top=3, percentile=40.0),
    FilterStage("roll", threshold=10.0, top=3, percentile=30.0),
    FilterStage("brightness", threshold=40.0, top=3, percentile=30.0),
    FilterStage("sharpness", threshold=0.5, top=3, percentile=50.0),
)

# The default: the same stages with the learned measures, defects first. Wrong-person faces go
# first (an identity below 0.45 is rarely the cluster's person), then the defects that make a
# face hard to recognise whatever its size and pose: tilt, bad exposure (it replaces brightness:
# it ignores hair and background and sees clipping), blur, noise and compression blocks; then
# size and pose; the best learned
# quality among the survivors wins. Order matters: with ``top=3`` a stage keeps everyone once
# three faces are left, so a defect stage placed last often has nothing left to choose from, and
# size and pose cuts made first drop good faces while keeping their defective copies.
# Evidence: bench/README.md, "Method quality".
ROLL_STAGE = FilterStage("roll", threshold=10.0, top=3, percentile=30.0)
EXPOSURE_STAGE = FilterStage("exposure", threshold=0.35, top=3, percentile=50.0)
SHARPNESS_STAGE = FilterStage("sharpness", threshold=0.5, top=3, percentile=50.0)
ARTIFACTS_STAGE = FilterStage("artifacts", threshold=0.2, top=3, percentile=50.0)
DEFAULT_STAGES = (
    FilterStage("identity", threshold=0.45, top=3, percentile=25.0),
    ROLL_STAGE,
    EXPOSURE_STAGE,
    SHARPNESS_STAGE,
    ARTIFACTS_STAGE,
    FilterStage("resolution", threshold=120.0**2, top=3, percentile=50.0),
    FilterStage("yaw", threshold=12.0, top=3, percentile=50.0),
    FilterStage("pitch", threshold=12.0, top=3, percentile=40.0),
    FilterStage("fiqa", top=3, percentile=50.0),
)
# What the learned quality cannot see (see ``select_fiqa``).
FIQA_GUARDS = (ROLL_STAGE, EXPOSURE_STAGE, SHARPNESS_STAGE, ARTIFACTS_STAGE)


@dataclass(frozen=True)
class StageOutcome:
    """After one stage: the surviving rows (of the whole cluster) and the best of them by the
    stage's feature (for the "Figure 2" view)."""

    stage: FilterStage
    survivors: tuple[int, ...]
    best: int


@dataclass(frozen=True)
class FilterResult:
    """The chosen row and what every stage kept."""

    chosen: int
    stages: tuple[StageOutcome, ...]


def _passes(
    stage: FilterStage, table: FeatureTable, rows: np.ndarray, good: np.ndarray
) -> np.ndarray:
    """Which of ``rows`` (the faces entering the stage; ``good`` their goodness in the stage's
    feature) pass it, as a mask over ``rows``."""
    value = table.column(stage.feature)[rows]
    measured = np.isfinite(value)
    if not measured.any():
        return np.ones(len(rows), dtype=bool)
    keep = np.zeros(len(rows), dtype=bool)
    if stage.threshold is not None:
        if stage.feature in SMALLER_BETTER:
            keep |= np.abs(value) < stage.threshold
        else:
            keep |= value > stage.threshold
    if stage.top is not None:  # the best ``top`` measured faces
        keep[_top(table, good, rows, stage.top)] = True
    if stage.percentile is not None:
        keep |= percentiles(good) >= stage.percentile
    keep &= measured
    if not keep.any():  # only a threshold nobody clears: keep the stage's best face
        keep[_best(table, good, rows)] = True
    return keep


def _filter(
    table: FeatureTable, stages: Sequence[FilterStage]
) -> Iterator[tuple[FilterStage, np.ndarray, np.ndarray]]:
    """Each stage in turn, on the previous stage's survivors: the stage, its surviving rows (in
    row order) and their goodness in its feature."""
    rows = np.arange(len(table))
    for stage in stages:
        good = goodness(table, stage.feature)
        rows = rows[_passes(stage, table, rows, good[rows])]
        yield stage, rows, good[rows]


def select_filtering(
    table: FeatureTable, stages: Sequence[FilterStage] = DEFAULT_STAGES
) -> FilterResult:
    """Run the stages in order, each on the previous stage's survivors; the best survivor by the
    last stage's feature wins."""
    _require_faces(table)
    if not stages:
        raise ValueError("filtering needs at least one stage")
    outcomes = [
        StageOutcome(stage, tuple(rows.tolist()), int(rows[_best(table, good, rows)]))
        for stage, rows, good in _filter(table, stages)
    ]
    return FilterResult(chosen=outcomes[-1].best, stages=tuple(outcomes))
