"""The method-quality figures: what each selector picks in the degraded clusters, how well each
measure separates originals from degraded copies, and the real clusters of the paper's Table 3.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

from bench.degradations import DEGRADATIONS
from bench.method_clusters import ORIGINAL, Cluster
from bench.method_scoring import SELECTORS
from scoring.features import FEATURE_NAMES, SMALLER_BETTER, goodness
from scoring.identity import geometric_median

SAME_PERSON = 0.6  # dlib's distance below which two faces are the same person


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
