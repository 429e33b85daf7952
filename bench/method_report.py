"""Output of the method-quality benchmark: the Markdown report of its figures and the degraded
clusters written as image folders.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from bench.degradations import DEGRADATIONS
from bench.method_clusters import ORIGINAL, DegradedSet
from bench.method_cost import TITLE_CLUSTERS, TITLE_FACES
from bench.method_scoring import SELECTORS


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
