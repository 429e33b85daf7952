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

This script is the command line; the parts live beside it: ``method_clusters`` (reading,
framing, degrading, detecting), ``method_scoring`` (features, identity, quality forests and
the selectors compared), ``method_figures`` (parts 1 and 2 and Table 3), ``method_cost``
(part 3) and ``method_report`` (the Markdown report and the image folders).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.degradations import DEGRADATIONS  # noqa: E402
from bench.method_clusters import (  # noqa: E402
    DATA,
    MAX_FACE,
    ORIGINAL,
    Cluster,
    DegradedSet,
    build_degraded,
    build_real,
)
from bench.method_cost import cost_report  # noqa: E402
from bench.method_figures import pick_report, separation_report, table3_report  # noqa: E402
from bench.method_report import markdown, write_images  # noqa: E402
from bench.method_scoring import fit_quality, measure  # noqa: E402
from scoring.detect import FaceDetector  # noqa: E402
from scoring.dlib_resnet import DlibFaceEmbedder  # noqa: E402
from scoring.features import FeatureExtractor, FeatureTable  # noqa: E402
from scoring.identity import SAMPLE, TOP  # noqa: E402


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
