"""Scoring the benchmark's clusters (features, identity, quality forests) and the selectors
compared on them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.method_clusters import Cluster
from scoring.dlib_resnet import DlibFaceEmbedder
from scoring.features import FeatureExtractor, FeatureTable
from scoring.identity import embedding_rows, identity_scores
from scoring.quality import QualityParams, train_quality_model
from scoring.selectors import (
    DEFAULT_STAGES,
    PAPER_STAGES,
    candidate_priority,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_regression,
)

Selector = Callable[[Cluster], int]


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
