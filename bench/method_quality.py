"""Method quality: how well each selector picks the face a person recognises most easily.

    .venv/bin/python bench/method_quality.py [--identities 32] [--real-identities 32]
        [--originals 6] [--real-photos 20] [--seed 0] [--max-face 150] [--timing-faces 300]
        [--skip-cost] [--write-images DIR] [--out FILE.json]

Real faces come from ``$FACE_DATA_DIR`` (default ``../shared/data`` from the repo root):
``lfw/<Person>/*.jpg`` and ``photos/person_NN/*.jpg``. Nothing of it is written into the repo.

1. Degraded clusters. ``--identities`` LFW people (seeded choice) and every ``photos`` person;
   each cluster holds up to ``--originals`` of the person's photos plus one copy per degradation
   of ``bench/degradations.py``, each made from a randomly chosen original of the cluster. Large
   photos are first scaled down whole so the face is at most ``--max-face`` px wide (LFW's faces
   measure about 57-70 px, so a degradation is about half as strong on a 150 px face), then cut
   to a square ``FRAME`` face widths wide around the face, as LFW frames its faces (MTCNN on a
   multi-megapixel frame takes seconds; no measure looks more than half a face width beyond the
   box); originals and copies come from the same scaled images. Every image gets a random name,
   the cluster a random order. Faces are found by MTCNN and the one-face rule
   (``scoring.detect``), on each image on its own; a copy whose face is not found, or whose
   chosen face is not the original's, is left out and counted. Features: ``FeatureExtractor()``;
   identity: dlib embeddings of the cluster's faces; quality: forests trained on all faces of
   all clusters (``QualityParams()`` and ``.paper()``).
   Reported: per selector, how often it picks an original, and how often each degradation's copy
   (against a random pick's expectation); per feature and quality, the AUC of originals against
   each degradation's copies and the share of copies scoring below their own original.
2. Real clusters (the paper's Table 3): ``--real-identities`` other LFW people with up to
   ``--real-photos`` photos each, not degraded: per selector the median features of its picks,
   and the dlib distance of each pick to the geometric median of the rest of its cluster.
3. Cost: faces/s of each measure on ``--timing-faces`` faces already decoded (decoding and
   detection not timed), the dlib embedding in ms/face, forest training on a 40,000-row table,
   and an estimate for a 40,000-face title of 40 clusters.

``--write-images DIR`` writes each degraded cluster as a folder of PNGs named at random, and
``key.csv`` saying which file is an original and which a degraded copy. ``--out`` writes every
figure as JSON; a Markdown report goes to stdout. Seeds make the run reproducible.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.stats import mannwhitneyu

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.degradations import DEGRADATIONS  # noqa: E402
from scoring.bundled import FSANET_MODELS, LIGHTQNET_MODEL  # noqa: E402
from scoring.detect import FaceDetector, choose_face  # noqa: E402
from scoring.dlib_resnet import DlibFaceEmbedder  # noqa: E402
from scoring.exposure import exposure  # noqa: E402
from scoring.features import (  # noqa: E402
    FEATURE_NAMES,
    SMALLER_BETTER,
    FeatureExtractor,
    FeatureTable,
    brightness,
    goodness,
    resolution,
)
from scoring.fiqa import LightQNet, aligned_faces  # noqa: E402
from scoring.identity import (  # noqa: E402
    SAMPLE,
    TOP,
    embedding_rows,
    geometric_median,
    identity_scores,
)
from scoring.pose import FsaNetPose  # noqa: E402
from scoring.quality import QualityParams, train_quality_model  # noqa: E402
from scoring.runtime import onnx_providers  # noqa: E402
from scoring.selectors import (  # noqa: E402
    DEFAULT_STAGES,
    PAPER_STAGES,
    candidate_priority,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_regression,
)
from scoring.sharpness import sharpness  # noqa: E402

DATA = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data"))
if not DATA.is_absolute():
    DATA = (REPO / DATA).resolve()
MAX_FACE = 150  # px: large photos are scaled so their face is at most this wide
PREVIEW_SIDE = 640  # px: large photos are first searched for their face at this size
FRAME = 3  # face widths: large photos are then cut to a square this wide around the face
ORIGINAL = "original"
SAME_PERSON = 0.6  # dlib's distance below which two faces are the same person
TITLE_FACES, TITLE_CLUSTERS, TITLE_EMBEDDED = 40_000, 40, 32

Selector = Callable[["Cluster"], int]


# ---------------------------------------------------------------------------------------------
# Faces and clusters


@dataclass
class Face:
    """One image of a cluster and its chosen face; ``kind`` is ORIGINAL or a degradation."""

    name: str
    kind: str
    source: str  # the photo it comes from, relative to the data folder
    image: np.ndarray
    box: np.ndarray  # (4,) x, y, w, h
    landmarks: np.ndarray  # (5, 2)


@dataclass
class Cluster:
    person: str
    faces: list[Face]
    table: FeatureTable | None = None
    embeddings: np.ndarray | None = None  # (N, 128), NaN rows where not embedded
    quality: dict[str, np.ndarray] = field(default_factory=dict)

    def kinds(self) -> list[str]:
        return [face.kind for face in self.faces]


def load_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def random_name(rng: np.random.Generator) -> str:
    """A version-4 UUID in hex, drawn from ``rng`` (so the run is reproducible)."""
    return uuid.UUID(bytes=rng.bytes(16), version=4).hex


def detect_one(detector: FaceDetector, images: Sequence[np.ndarray]) -> list:
    """The face the one-face rule picks in each image (a ``Detection``), or None."""
    chosen = []
    for start in range(0, len(images), 64):
        batch = images[start : start + 64]
        for image, found in zip(batch, detector.detect(batch), strict=True):
            chosen.append(choose_face(found, image.shape[1], image.shape[0]).detection)
    return chosen


def framed(
    detector: FaceDetector, images: list[np.ndarray], max_face: int = MAX_FACE
) -> list[np.ndarray]:
    """Large images scaled down whole (area interpolation) so that their face is at most
    ``max_face`` px wide, then cut to a square FRAME face widths wide around the face (clipped to
    the image). Small images (LFW's) and images without a face stay as they are."""
    large = [i for i, image in enumerate(images) if max(image.shape[:2]) > FRAME * max_face // 2]
    previews, zooms = [], []
    for i in large:
        zoom = min(1.0, PREVIEW_SIDE / max(images[i].shape[:2]))
        zooms.append(zoom)
        previews.append(cv2.resize(images[i], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA))
    result = list(images)
    for i, zoom, found in zip(large, zooms, detect_one(detector, previews), strict=True):
        if found is None:
            continue
        box = np.asarray(found.box) / zoom
        scale = min(1.0, max_face / box[2])
        image = images[i]
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        (cx, cy), half = box_centre(box * scale), FRAME * max(box[2], box[3]) * scale / 2
        height, width = image.shape[:2]
        top, left = max(0, round(cy - half)), max(0, round(cx - half))
        result[i] = np.ascontiguousarray(
            image[top : min(height, round(cy + half)), left : min(width, round(cx + half))]
        )
    return result


def expected_centre(degrade, image: np.ndarray, centre: np.ndarray, box_width: float) -> np.ndarray:
    """Where the face centre lands after ``degrade``: a bright disc at the centre of a black
    image of the same size is degraded too (a geometric degradation moves it, a photometric one
    leaves it) and found again."""
    height, width = image.shape[:2]
    marker = np.zeros((height, width, 3), np.uint8)
    radius = max(3, round(0.1 * box_width))
    cv2.circle(marker, (round(centre[0]), round(centre[1])), radius, (255, 255, 255), -1)
    far = np.array([[-1e4, -1e4]] * 5, dtype=np.float64)  # landmarks off the image
    moved = degrade(marker, far, np.random.default_rng(0)).mean(axis=2).astype(np.float32)
    moved = cv2.GaussianBlur(moved, (0, 0), 2.0)
    ys, xs = np.nonzero(moved >= 0.5 * moved.max())
    return np.array([xs.mean(), ys.mean()]) if len(xs) else centre


def box_centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0])


@dataclass
class DegradedSet:
    clusters: list[Cluster]
    made: dict[str, int]  # copies made per degradation
    undetected: dict[str, int]  # no face found in the copy
    other_face: dict[str, int]  # the rule chose another face than the original's
    originals_undetected: int
    people: list[str]


def choose_people(seed: int, lfw_count: int, exclude: Sequence[str] = ()) -> list[str]:
    people = sorted(
        p.name for p in (DATA / "lfw").iterdir() if p.is_dir() and p.name not in exclude
    )
    rng = np.random.default_rng([seed, 1])
    picked = rng.choice(len(people), size=min(lfw_count, len(people)), replace=False)
    return [f"lfw/{people[i]}" for i in sorted(picked)]


def choose_files(person: str, count: int, rng: np.random.Generator) -> list[Path]:
    files = sorted((DATA / person).glob("*.jpg"))
    picked = rng.choice(len(files), size=min(count, len(files)), replace=False)
    return [files[i] for i in sorted(picked)]


def build_degraded(
    detector: FaceDetector, seed: int, identities: int, originals: int, max_face: int = MAX_FACE
) -> DegradedSet:
    people = choose_people(seed, identities)
    people += sorted(f"photos/{p.name}" for p in (DATA / "photos").iterdir() if p.is_dir())
    made = dict.fromkeys(DEGRADATIONS, 0)
    undetected = dict.fromkeys(DEGRADATIONS, 0)
    other_face = dict.fromkeys(DEGRADATIONS, 0)
    missing_originals = 0
    clusters = []
    for index, person in enumerate(people):
        rng = np.random.default_rng([seed, 2, index])
        files = choose_files(person, originals, rng)
        images = framed(detector, [load_rgb(path) for path in files], max_face)
        found = detect_one(detector, images)
        members = [
            Face("", ORIGINAL, str(path.relative_to(DATA)), image, np.array(hit.box), hit.landmarks)
            for path, image, hit in zip(files, images, found, strict=True)
            if hit is not None
        ]
        missing_originals += len(files) - len(members)
        if not members:
            continue
        copies, sources, centres = [], [], []
        for name, degrade in DEGRADATIONS.items():
            source = members[int(rng.integers(len(members)))]
            copies.append(degrade(source.image, source.landmarks, rng))
            sources.append((name, source))
            centres.append(
                expected_centre(degrade, source.image, box_centre(source.box), source.box[2])
            )
            made[name] += 1
        for copy, (name, source), centre, hit in zip(
            copies, sources, centres, detect_one(detector, copies), strict=True
        ):
            if hit is None:
                undetected[name] += 1
            elif np.hypot(*(box_centre(np.array(hit.box)) - centre)) > 0.5 * source.box[2]:
                other_face[name] += 1
            else:
                members.append(
                    Face("", name, source.source, copy, np.array(hit.box), hit.landmarks)
                )
        for face in members:
            face.name = random_name(rng)
        order = rng.permutation(len(members))
        clusters.append(Cluster(person, [members[i] for i in order]))
    return DegradedSet(clusters, made, undetected, other_face, missing_originals, people)


def build_real(
    detector: FaceDetector, seed: int, identities: int, photos: int, exclude
) -> list[Cluster]:
    clusters = []
    for index, person in enumerate(choose_people(seed + 1, identities, exclude)):
        rng = np.random.default_rng([seed, 3, index])
        files = choose_files(person, photos, rng)
        images = [load_rgb(path) for path in files]
        faces = [
            Face(
                random_name(rng),
                ORIGINAL,
                str(path.relative_to(DATA)),
                image,
                np.array(hit.box),
                hit.landmarks,
            )
            for path, image, hit in zip(files, images, detect_one(detector, images), strict=True)
            if hit is not None
        ]
        if len(faces) >= 2:
            clusters.append(Cluster(person, faces))
    return clusters


# ---------------------------------------------------------------------------------------------
# Measures


def measure(
    clusters: list[Cluster], extractor: FeatureExtractor, embedder: DlibFaceEmbedder
) -> None:
    """Features of every face, then identity per cluster (the faces ``embedding_rows`` picks)."""
    for cluster in clusters:
        table = FeatureTable.concat(
            extractor.extract(face.image, face.box[None], face.landmarks[None])
            for face in cluster.faces
        )
        rows = embedding_rows(candidate_priority(table))
        chips = np.concatenate(
            [embedder.chips(cluster.faces[r].image, cluster.faces[r].box[None]) for r in rows]
        )
        embeddings = np.full((len(table), 128), np.nan)
        embeddings[rows] = embedder.embed_chips(chips)
        identity = np.full(len(table), np.nan)
        identity[rows] = identity_scores(embeddings[rows])
        cluster.table = table.replace(identity=identity)
        cluster.embeddings = embeddings


QUALITY_MODELS = {"default": QualityParams(), "paper": QualityParams.paper()}


def fit_quality(clusters: list[Cluster]) -> dict[str, dict]:
    """Train each quality model on all faces of ``clusters`` and score every face."""
    population = FeatureTable.concat(cluster.table for cluster in clusters)
    summaries = {}
    for name, params in QUALITY_MODELS.items():
        model = train_quality_model(population, params)
        for cluster in clusters:
            cluster.quality[name] = model.predict(cluster.table)
        summaries[name] = {
            "faces": model.summary.faces,
            "r2_held_out": round(model.summary.r2_held_out, 3),
            "bucket_counts": list(model.summary.bucket_counts),
            "feature_importances": {
                k: round(v, 3) for k, v in model.summary.feature_importances.items()
            },
        }
    return summaries


SELECTORS: dict[str, Selector] = {
    "baseline (face cost)": lambda c: select_baseline(c.table),
    "fiqa (FaceQNet column)": lambda c: select_fiqa(c.table),
    "fiqa, paper (plain argmax)": lambda c: select_fiqa(c.table, guards=()),
    "filtering": lambda c: select_filtering(c.table, DEFAULT_STAGES).chosen,
    "regression": lambda c: select_regression(c.table, c.quality["default"]),
    "filtering, paper stages": lambda c: select_filtering(c.table, PAPER_STAGES).chosen,
    "regression, paper model": lambda c: select_regression(c.table, c.quality["paper"]),
    "sharpness only": lambda c: select_regression(c.table, c.table.sharpness),
}


# ---------------------------------------------------------------------------------------------
# Part 1: picks in degraded clusters


def pick_report(clusters: list[Cluster]) -> dict:
    count = len(clusters)
    kinds = [ORIGINAL, *DEGRADATIONS]
    rows = {}
    for name, selector in SELECTORS.items():
        picked = [cluster.kinds()[selector(cluster)] for cluster in clusters]
        rows[name] = {kind: picked.count(kind) for kind in kinds}
        rows[name]["picked_rows"] = [cluster.faces[selector(cluster)].name for cluster in clusters]
    random = {
        kind: float(np.mean([c.kinds().count(kind) / len(c.faces) for c in clusters]))
        for kind in kinds
    }
    flags = [
        f"{name} picks {kind} in {row[kind]}/{count} clusters (random: {random[kind] * count:.1f})"
        for name, row in rows.items()
        for kind in DEGRADATIONS
        if row[kind] / count > random[kind]
    ]
    return {"clusters": count, "selectors": rows, "random": random, "flags": flags}


# ---------------------------------------------------------------------------------------------
# Part 2: separation of originals and copies


def scores_of(cluster: Cluster, measure_name: str) -> np.ndarray:
    if measure_name.startswith("quality"):
        return cluster.quality[measure_name.split()[-1].strip("()")]
    return goodness(cluster.table, measure_name)


MEASURES = (*FEATURE_NAMES, "quality (default)", "quality (paper)")


BY_SOURCE = ("fiqa", "quality (default)")


def separation_report(clusters: list[Cluster]) -> dict:
    """AUC (P(original scores above a copy), ties half) over all clusters, and the share of
    copies scoring strictly below the original they were made from; for ``BY_SOURCE`` also
    within the LFW clusters and within the web-photo clusters alone."""
    report: dict[str, dict] = {}
    rows = [(name, name, clusters) for name in MEASURES]
    for source, label in (("lfw/", "LFW"), ("photos/", "photos")):
        part = [cluster for cluster in clusters if cluster.person.startswith(source)]
        rows += [(f"{name}, {label} only", name, part) for name in BY_SOURCE if part]
    for title, name, group in rows:
        originals, copies, paired = [], {k: [] for k in DEGRADATIONS}, {k: [] for k in DEGRADATIONS}
        for cluster in group:
            scores = scores_of(cluster, name)
            by_source = {
                face.source: scores[i]
                for i, face in enumerate(cluster.faces)
                if face.kind == ORIGINAL
            }
            for i, face in enumerate(cluster.faces):
                if face.kind == ORIGINAL:
                    originals.append(scores[i])
                else:
                    copies[face.kind].append(scores[i])
                    paired[face.kind].append((scores[i], by_source[face.source]))
        clean = np.asarray(originals)
        clean = clean[np.isfinite(clean)]
        row = {}
        for kind in DEGRADATIONS:
            bad = np.asarray(copies[kind])
            bad = bad[np.isfinite(bad)]
            pairs = [(a, b) for a, b in paired[kind] if np.isfinite(a) and np.isfinite(b)]
            auc = (
                float(mannwhitneyu(clean, bad).statistic / (len(clean) * len(bad)))
                if len(clean) and len(bad)
                else float("nan")
            )
            below = float(np.mean([a < b for a, b in pairs])) if pairs else float("nan")
            row[kind] = {
                "auc": round(auc, 3),
                "paired_below": round(below, 3),
                "copies": len(pairs),
            }
        report[title] = row
    return report


# ---------------------------------------------------------------------------------------------
# Part 3: real clusters (Table 3) and the face matcher


def table3_report(clusters: list[Cluster], seed: int) -> dict:
    columns = (*FEATURE_NAMES, "quality (default)")

    def value(cluster: Cluster, column: str, rows) -> np.ndarray:
        if column.startswith("quality"):
            values = cluster.quality["default"][rows]
        else:
            values = cluster.table.column(column)[rows]
        return np.abs(values) if column in SMALLER_BETTER else values

    medians = {}
    everyone = {c: np.concatenate([value(k, c, slice(None)) for k in clusters]) for c in columns}
    medians["all faces"] = {c: float(np.nanmedian(v)) for c, v in everyone.items()}
    picks = {
        name: [selector(cluster) for cluster in clusters] for name, selector in SELECTORS.items()
    }
    for name, rows in picks.items():
        medians[name] = {
            c: float(
                np.nanmedian([value(k, c, [r])[0] for k, r in zip(clusters, rows, strict=True)])
            )
            for c in columns
        }

    # dlib distance of a face to the geometric median of the rest of its cluster
    distances = []
    for cluster in clusters:
        points = cluster.embeddings
        everyone_else = np.arange(len(points))
        distances.append(
            np.array(
                [
                    np.linalg.norm(points[i] - geometric_median(points[everyone_else != i]))
                    for i in everyone_else
                ]
            )
        )
    rng = np.random.default_rng([seed, 4])
    matcher = {
        "random face (expected)": {
            "mean_distance": float(np.mean([d.mean() for d in distances])),
            "beyond_0.6": float(np.mean([(d >= SAME_PERSON).mean() for d in distances])),
            "nearer_than_random": float("nan"),
        },
        "one random face (seeded draw)": _matcher_row(
            distances, [int(rng.integers(len(d))) for d in distances]
        ),
    }
    for name, rows in picks.items():
        matcher[name] = _matcher_row(distances, rows)
    return {
        "clusters": len(clusters),
        "faces": int(sum(len(c.faces) for c in clusters)),
        "medians": medians,
        "matcher": matcher,
    }


def _matcher_row(distances: list[np.ndarray], rows: list[int]) -> dict:
    picked = np.array([d[r] for d, r in zip(distances, rows, strict=True)])
    return {
        "mean_distance": float(picked.mean()),
        "beyond_0.6": float((picked >= SAME_PERSON).mean()),
        "nearer_than_random": float(
            np.mean([d[r] < d.mean() for d, r in zip(distances, rows, strict=True)])
        ),
    }


# ---------------------------------------------------------------------------------------------
# Part 4: cost


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def cost_report(
    clusters: list[Cluster],
    population: FeatureTable,
    extractor: FeatureExtractor,
    embedder: DlibFaceEmbedder,
    count: int,
    seed: int,
) -> dict:
    faces = [face for cluster in clusters for face in cluster.faces][:count]
    n = len(faces)
    providers = onnx_providers("cpu")
    pose = FsaNetPose([str(p) for p in FSANET_MODELS], providers)
    lightqnet = LightQNet(str(LIGHTQNET_MODEL), providers)
    groups = [(f.image, f.box[None], f.landmarks[None]) for f in faces]
    crops = [aligned_faces(image, marks) for image, _, marks in groups]
    for image, boxes, marks in groups[:5]:  # warm the sessions up
        extractor.extract(image, boxes, marks)
    seconds = {
        "brightness": _timed(lambda: [brightness(i, b) for i, b, _ in groups]),
        "resolution": _timed(lambda: [resolution(b) for _, b, _ in groups]),
        "sharpness (edge width)": _timed(lambda: [sharpness(i, b) for i, b, _ in groups]),
        "pose (FSA-Net, 2 models)": _timed(lambda: [pose(i, b, m) for i, b, m in groups]),
        "fiqa (alignment + LightQNet)": _timed(
            lambda: [lightqnet.score_crops(aligned_faces(i, m)) for i, _, m in groups]
        ),
        "exposure (from the aligned crop)": _timed(lambda: [exposure(c) for c in crops]),
        "all per-face measures (FeatureExtractor.extract)": _timed(
            lambda: [extractor.extract(i, b, m) for i, b, m in groups]
        ),
    }
    per_face = {
        name: {"faces_per_s": round(n / s, 1), "seconds": round(s, 3)}
        for name, s in seconds.items()
    }

    chip_seconds = _timed(lambda: [embedder.chips(i, b) for i, b, _ in groups])
    chips = np.concatenate([embedder.chips(i, b) for i, b, _ in groups])
    embed_seconds = _timed(lambda: embedder.embed_chips(chips))
    embeddings = embedder.embed_chips(chips[:TITLE_EMBEDDED])
    identity_seconds = _timed(lambda: identity_scores(embeddings))
    embedding = {
        "landmarks + chip (dlib 5-point), ms/face": round(1000 * chip_seconds / n, 2),
        "ResNet (torch, batches of 32), ms/face": round(1000 * embed_seconds / n, 2),
        f"identity_scores of {TITLE_EMBEDDED} faces, ms": round(1000 * identity_seconds, 1),
    }

    # a 40,000-face title: resample the measured faces (with a little jitter) into 40 clusters
    rng = np.random.default_rng([seed, 5])
    matrix = population.matrix()
    big = matrix[rng.integers(len(matrix), size=TITLE_FACES)]
    spread = np.nanstd(matrix, axis=0)
    big = big + rng.normal(0.0, 0.02, big.shape) * spread
    big[:, FEATURE_NAMES.index("identity")] = np.where(
        rng.random(TITLE_FACES) < TITLE_CLUSTERS * TITLE_EMBEDDED / TITLE_FACES,
        big[:, FEATURE_NAMES.index("identity")],
        np.nan,
    )
    table = FeatureTable.from_matrix(big)
    train_start = time.perf_counter()
    model = train_quality_model(table, QualityParams())
    train_seconds = time.perf_counter() - train_start
    predict_start = time.perf_counter()
    quality = model.predict(table)
    predict_seconds = time.perf_counter() - predict_start
    size = TITLE_FACES // TITLE_CLUSTERS
    select_start = time.perf_counter()
    for k in range(TITLE_CLUSTERS):
        rows = np.arange(k * size, (k + 1) * size)
        part = table.take(rows)
        select_baseline(part)
        select_fiqa(part)
        select_filtering(part, DEFAULT_STAGES)
        select_regression(part, quality[rows])
        candidate_priority(part)
    select_seconds = time.perf_counter() - select_start

    features_s = TITLE_FACES * seconds["all per-face measures (FeatureExtractor.extract)"] / n
    embedded = TITLE_CLUSTERS * TITLE_EMBEDDED
    identity_s = embedded * (chip_seconds + embed_seconds) / n + TITLE_CLUSTERS * identity_seconds
    estimate = {
        "features (all per-face measures)": features_s,
        f"identity ({embedded} embeddings + landmarks + scores)": identity_s,
        "quality: weak labels + forest fit (200 trees, 32,000 rows) + held-out R2": train_seconds,
        "quality: predict 40,000 faces": predict_seconds,
        f"selectors (4 + priority, {TITLE_CLUSTERS} clusters of {size})": select_seconds,
    }
    estimate = {k: round(v, 1) for k, v in estimate.items()}
    estimate["total"] = round(sum(estimate.values()), 1)
    return {
        "faces_timed": n,
        "per_face": per_face,
        "embedding": embedding,
        "title_estimate_seconds": estimate,
    }


# ---------------------------------------------------------------------------------------------
# Output


def write_images(degraded: DegradedSet, folder: Path) -> None:
    """Each cluster as a folder of PNGs under random names; ``key.csv`` gives each file's
    person, kind (original or the degradation), source photo and the selectors that picked it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "key.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cluster", "file", "person", "kind", "source", "picked_by"])
        for index, cluster in enumerate(degraded.clusters):
            target = folder / f"cluster_{index:02d}"
            target.mkdir(exist_ok=True)
            picks = {name: selector(cluster) for name, selector in SELECTORS.items()}
            for row, face in enumerate(cluster.faces):
                cv2.imwrite(str(target / f"{face.name}.png"), face.image[:, :, ::-1])
                picked_by = "; ".join(name for name, pick in picks.items() if pick == row)
                writer.writerow(
                    [target.name, f"{face.name}.png", cluster.person, face.kind, face.source]
                    + [picked_by]
                )


def pct(part: float, whole: float = 1.0) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "–"


def markdown(figures: dict) -> str:
    lines = []
    setup = figures["setup"]
    lines += [
        f"Degraded clusters: {setup['clusters']} ({setup['lfw_identities']} LFW + "
        f"{setup['photo_identities']} web-photo identities), {setup['faces']} faces "
        f"({setup['originals']} originals, {setup['copies']} detected copies; "
        f"{setup['originals_undetected']} originals without a face left out).",
        "",
        "| degradation | copies made | no face found | other face chosen | in clusters |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, row in setup["copies_by_degradation"].items():
        cells = (row["made"], row["undetected"], row["other_face"], row["kept"])
        lines.append(f"| {kind} | " + " | ".join(str(c) for c in cells) + " |")

    picks = figures["picks"]
    count = picks["clusters"]
    kinds = list(DEGRADATIONS)
    lines += [
        "",
        "### Picks in degraded clusters",
        "",
        "Share of clusters whose pick is an original, and per degradation the share whose pick is "
        "that degradation's copy; **bold** = more often than a random pick.",
        "",
        "| selector | original | " + " | ".join(kinds) + " |",
        "|---|---:|" + "---:|" * len(kinds),
    ]
    for name, row in picks["selectors"].items():
        cells = [f"{row[ORIGINAL]}/{count} ({pct(row[ORIGINAL], count)})"]
        for kind in kinds:
            cell = pct(row[kind], count)
            cells.append(f"**{cell}**" if row[kind] / count > picks["random"][kind] else cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    random = picks["random"]
    lines.append(
        f"| random (expected) | {random[ORIGINAL] * count:.1f}/{count} ({pct(random[ORIGINAL])}) | "
        + " | ".join(pct(random[k]) for k in kinds)
        + " |"
    )
    lines += ["", "Flags: " + ("; ".join(picks["flags"]) if picks["flags"] else "none") + "."]

    for key, title, note in (
        (
            "auc",
            "AUC of originals against each degradation's copies",
            "P(an original scores better than a copy), ties half, unpaired over all clusters "
            "(Mann–Whitney); features oriented by `goodness` (larger = better).",
        ),
        (
            "paired_below",
            "Paired: share of copies scoring below their own original",
            "Strictly below; a tie counts as not below.",
        ),
    ):
        lines += ["", f"### {title}", "", note, "", "| measure | " + " | ".join(kinds) + " |"]
        lines.append("|---|" + "---:|" * len(kinds))
        for name, row in figures["separation"].items():
            cells = [f"{row[k][key]:.2f}" if key == "auc" else pct(row[k][key]) for k in kinds]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")

    real = figures["real"]
    columns = list(next(iter(real["medians"].values())))
    lines += [
        "",
        f"### Real clusters (Table 3): {real['clusters']} LFW identities, {real['faces']} faces",
        "",
        "Median over clusters of each feature of the picked face (|angle| for pose, |exposure|); "
        "resolution in px² of the box.",
        "",
        "| selector | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, row in real["medians"].items():
        cells = [f"{row[c]:.0f}" if c == "resolution" else f"{row[c]:.3g}" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Face matcher: dlib distance of the pick to the geometric median of the other faces of "
        "its cluster, mean over clusters; the share of picks at 0.6 or more (dlib's "
        "different-person threshold) and of clusters where the pick is nearer than the cluster's "
        "mean face. Identity uses the same matcher, so this check is not independent.",
        "",
        "| selector | mean distance | picks ≥ 0.6 | nearer than the mean face |",
        "|---|---:|---:|---:|",
    ]
    for name, row in real["matcher"].items():
        nearer = "–" if np.isnan(row["nearer_than_random"]) else pct(row["nearer_than_random"])
        lines.append(
            f"| {name} | {row['mean_distance']:.3f} | {pct(row['beyond_0.6'])} | {nearer} |"
        )

    if "cost" in figures:
        cost = figures["cost"]
        lines += [
            "",
            f"### Cost on {figures['machine']} ({cost['faces_timed']} faces, images already "
            "decoded, detection not timed)",
            "",
            "| measure | faces/s | seconds |",
            "|---|---:|---:|",
        ]
        for name, row in cost["per_face"].items():
            lines.append(f"| {name} | {row['faces_per_s']} | {row['seconds']} |")
        lines += ["", "| dlib embedding | |", "|---|---:|"]
        lines += [f"| {name} | {value} |" for name, value in cost["embedding"].items()]
        lines += [
            "",
            f"Estimate for a {TITLE_FACES:,}-face title of {TITLE_CLUSTERS} clusters "
            "(detection and decoding not included):",
            "",
            "| step | seconds |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v} |" for k, v in cost["title_estimate_seconds"].items()]
    return "\n".join(lines)


def prepare(args: argparse.Namespace) -> tuple[DegradedSet, list[Cluster], dict[str, float]]:
    """The degraded and the real clusters, measured (features and identity); seconds per step."""
    torch.set_num_threads(2)
    stages, clock = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        stages[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    detector = FaceDetector(device="cpu")
    extractor = FeatureExtractor()
    embedder = DlibFaceEmbedder(device="cpu")
    lap("load models")
    max_face = getattr(args, "max_face", MAX_FACE)
    degraded = build_degraded(detector, args.seed, args.identities, args.originals, max_face)
    lap("degraded: read, scale, degrade, detect")
    measure(degraded.clusters, extractor, embedder)
    lap("degraded: features + identity")
    exclude = [p.split("/")[-1] for p in degraded.people]
    real = build_real(detector, args.seed, args.real_identities, args.real_photos, exclude)
    lap("real: read, detect")
    measure(real, extractor, embedder)
    lap("real: features + identity")
    return degraded, real, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=32, help="LFW people degraded")
    parser.add_argument("--real-identities", type=int, default=32, help="LFW people, Table 3")
    parser.add_argument("--originals", type=int, default=6, help="originals per degraded cluster")
    parser.add_argument("--real-photos", type=int, default=20, help="photos per real cluster")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-face", type=int, default=MAX_FACE, help="px: widest face of a scaled web photo"
    )
    parser.add_argument("--timing-faces", type=int, default=300)
    parser.add_argument("--skip-cost", action="store_true", help="leave the cost section out")
    parser.add_argument("--write-images", type=Path, metavar="DIR")
    parser.add_argument("--out", type=Path, metavar="FILE.json")
    args = parser.parse_args()

    if not (DATA / "lfw").is_dir() or not (DATA / "photos").is_dir():
        sys.exit(f"method quality: face data not found at {DATA} (set FACE_DATA_DIR)")

    if not 2 <= args.real_photos <= TOP + SAMPLE:
        parser.error(f"--real-photos: 2 to {TOP + SAMPLE} (so that every face is embedded)")
    started = time.perf_counter()
    degraded, real, stages = prepare(args)
    quality_degraded, quality_real = fit_quality(degraded.clusters), fit_quality(real)
    if args.write_images:
        write_images(degraded, args.write_images)
    stages["quality forests (2 x 2 models)"] = time.perf_counter() - started - sum(stages.values())

    kept = {k: sum(c.kinds().count(k) for c in degraded.clusters) for k in DEGRADATIONS}
    originals = sum(c.kinds().count(ORIGINAL) for c in degraded.clusters)
    figures = {
        "command": "bench/method_quality.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}",
        "setup": {
            "clusters": len(degraded.clusters),
            "lfw_identities": sum(p.startswith("lfw/") for p in degraded.people),
            "photo_identities": sum(p.startswith("photos/") for p in degraded.people),
            "faces": sum(len(c.faces) for c in degraded.clusters),
            "originals": originals,
            "copies": sum(kept.values()),
            "originals_undetected": degraded.originals_undetected,
            "copies_by_degradation": {
                k: {
                    "made": degraded.made[k],
                    "undetected": degraded.undetected[k],
                    "other_face": degraded.other_face[k],
                    "kept": kept[k],
                }
                for k in DEGRADATIONS
            },
            "quality_models": quality_degraded,
        },
        "picks": pick_report(degraded.clusters),
        "separation": separation_report(degraded.clusters),
        "real": table3_report(real, args.seed) | {"quality_models": quality_real},
    }
    if not args.skip_cost:
        cost_started = time.perf_counter()
        population = FeatureTable.concat(c.table for c in [*degraded.clusters, *real])
        figures["cost"] = cost_report(
            real,
            population,
            FeatureExtractor(),
            DlibFaceEmbedder(device="cpu"),
            args.timing_faces,
            args.seed,
        )
        stages["cost"] = time.perf_counter() - cost_started
    figures["stage_seconds"] = {k: round(v, 1) for k, v in stages.items()}
    figures["runtime_s"] = round(time.perf_counter() - started, 1)

    print(markdown(figures))
    stage_list = ", ".join(f"{k} {v} s" for k, v in figures["stage_seconds"].items())
    print(f"\nRuntime: {figures['runtime_s']} s ({stage_list}).")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
