"""The cost section of the method-quality benchmark: faces/s of each measure, the dlib
embedding, and an estimate for a 40,000-face title.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bench.method_clusters import Cluster
from scoring.bundled import FSANET_MODELS, LIGHTQNET_MODEL
from scoring.dlib_resnet import DlibFaceEmbedder
from scoring.exposure import exposure
from scoring.features import (
    FEATURE_NAMES,
    FeatureExtractor,
    FeatureTable,
    brightness,
    resolution,
)
from scoring.fiqa import LightQNet, aligned_faces
from scoring.identity import identity_scores
from scoring.pose import FsaNetPose
from scoring.quality import QualityParams, train_quality_model
from scoring.runtime import onnx_providers
from scoring.selectors import (
    DEFAULT_STAGES,
    candidate_priority,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_regression,
)
from scoring.sharpness import sharpness

TITLE_FACES, TITLE_CLUSTERS, TITLE_EMBEDDED = 40_000, 40, 32


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
