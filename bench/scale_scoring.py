"""Scoring and import at catalogue scale (issue 15): the quality model's training on 400,000 and
4,000,000 faces, every selector for 284,000 faces in 991 clusters (alone, and through the
selection step on PostgreSQL), and the rows of a 40,000-face video title.

    .venv/bin/python bench/scale_scoring.py [--only training selectors step import limits]
                                            [--runs 3] [--larger 200000]

- ``training``: synthetic faces (numpy arrays; the features drawn from one hidden quality, with
  ties, clipped ends and ``identity`` measured on a tenth of them, as on real titles), trained
  as the app trains (weak labels over every face, the forest on at most
  ``QUALITY_TRAIN_MAX_FACES`` = 100,000, stratified by label, 200 trees, all cores).
- ``limits`` (run only when asked: about 7 minutes on an idle machine): the 400,000 faces
  trained with fit limits of 25,000, 50,000, 100,000 and ``--larger``, every R² on the same
  25,000 held-out faces: what the limit costs.
- ``selectors``: the five selectors (baseline, fiqa with its guards, filtering with the default
  stages, regression, learned) on each of 991 clusters of synthetic faces (lognormal sizes,
  2–13,818 faces, median 143), ``--runs`` times, medians.
- ``step``: the selection step (``steps.selections_replace``) on a catalogue of one title of
  991 clusters of 287 faces (``bench/catalogue.py``, a throwaway database beside
  ``DATABASE_URL``'s), with a weak model and a learned model: every selector's pick for every
  cluster, read and written. The learned picks use the faces' stored quality, as after the
  quality step; once more with the weak model's forest run again, as when the learned model
  refines an older weak model. Also: reading the 284,417 faces' features for a training.
- ``import``: the rows of a 40,000-face video title (5,000 sampled frames of 8 faces, 54 tracks,
  8 actors and the unassigned) through ``video_save``, by COPY as the import does on
  PostgreSQL, and by ``bulk_create`` as it did before. Detection, features and thumbnails are
  not timed: bench/README.md, "Video titles through the app", measures them.

Prints Markdown tables with the machine's load (``uptime``) before and after each part, and
hands its figures to ``bench/scale.py``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Where the models it trains are stored; removed at the end.
SCRATCH = Path(tempfile.mkdtemp(prefix="scale-scoring-"))
os.environ.setdefault("FACE_CURATION_DATA_DIR", str(SCRATCH))

from bench.catalogue import FEATURE_VERSION, Spec, catalogue, record_figures  # noqa: E402
from scoring.features import FEATURE_NAMES, FeatureTable  # noqa: E402
from scoring.quality import QualityParams, train_quality_model, weak_labels  # noqa: E402
from scoring.selectors import (  # noqa: E402
    DEFAULT_STAGES,
    FIQA_GUARDS,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_learned,
    select_regression,
)

FIT_LIMIT = 100_000  # QUALITY_TRAIN_MAX_FACES
CLUSTERS, FACES = 991, 284_000
STEP_FACES_PER_CLUSTER = 287  # 991 × 287 = 284,417
VIDEO_FRAMES, FACES_PER_FRAME, TRACKS, ACTORS = 5_000, 8, 54, 8
T = TypeVar("T")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def cpu_timed(work: Callable[[], T]) -> tuple[float, float, T]:
    """Wall seconds, CPU seconds of this process (every thread) and the result: on a machine
    shared with other work, CPU seconds over the cores used say what an idle machine takes."""
    cpu = time.process_time()
    seconds, result = timed(work)
    return seconds, time.process_time() - cpu, result


def median_seconds(work: Callable[[], object], runs: int) -> float:
    return statistics.median(timed(work)[0] for _ in range(runs))


def population(faces: int, seed: int = 0) -> FeatureTable:
    """Faces whose features all follow one hidden quality, with noise: sizes log-normal, pose
    wider on worse faces, sharpness and fiqa clipped, artifacts 0 on about half, identity only
    on a tenth (the faces a cluster embeds)."""
    rng = np.random.default_rng(seed)
    hidden = rng.normal(0, 1, faces)

    def noisy() -> np.ndarray:
        return 0.6 * hidden + rng.normal(0, 1, faces)

    side = np.clip(np.exp(4.3 + 0.6 * noisy()), 20, 600)
    return FeatureTable(
        brightness=np.clip(50 + 15 * noisy(), 0, 100),
        resolution=side**2,
        sharpness=np.clip(0.45 + 0.2 * noisy(), 0, 1),
        roll=rng.normal(0, 1, faces) * np.exp(1.8 - 0.3 * noisy()),
        pitch=rng.normal(0, 1, faces) * np.exp(2.0 - 0.3 * noisy()),
        yaw=rng.normal(0, 1, faces) * np.exp(2.6 - 0.4 * noisy()),
        fiqa=np.clip(0.5 + 0.06 * noisy(), 0.01, 0.99),
        exposure=np.clip(rng.normal(0, 0.3, faces) - 0.1 * noisy(), -1, 1),
        artifacts=np.clip(0.05 - 0.08 * noisy(), 0, 1),
        identity=np.where(rng.random(faces) < 0.1, np.clip(0.6 + 0.1 * noisy(), 0, 1), np.nan),
    )


def peak_memory_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# --- training ------------------------------------------------------------------------------


def training() -> dict:
    params = QualityParams()
    figures: dict = {}
    print(f"\n### Quality model training (load before: {uptime()})\n")
    print(
        "| faces | labels (s) | whole training (s) | its CPU seconds / 2 | forest fitted on "
        "| R² held out | faces R² on |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for faces in (400_000, 4_000_000):
        table = population(faces)
        labels_seconds, _ = timed(functools.partial(weak_labels, table, params))
        seconds, cpu, model = cpu_timed(
            functools.partial(train_quality_model, table, params, fit_at_most=FIT_LIMIT)
        )
        summary = model.summary
        figures[faces] = {
            "labels_seconds": round(labels_seconds, 1),
            "training_seconds": round(seconds, 1),
            "training_cpu_seconds": round(cpu, 1),
            "trained_on": summary.trained_on,
            "held_out": summary.held_out,
            "r2_held_out": round(summary.r2_held_out, 4),
        }
        print(
            f"| {faces:,} | {labels_seconds:.1f} | {seconds:.1f} | {cpu / 2:.1f} "
            f"| {summary.trained_on:,} | {summary.r2_held_out:.4f} | {summary.held_out:,} |",
            flush=True,
        )
        del table, model
    figures["peak_memory_gb"] = round(peak_memory_gb(), 2)
    print(f"\nPeak memory (the 4,000,000-face training): {figures['peak_memory_gb']} GB.")
    print(f"\n(load after: {uptime()})")
    return figures


def limits(larger: int) -> dict:
    """What the fit limit costs: the same 400,000 faces trained with the forest on 25,000 to
    ``larger`` of them, every R² on the same held-out faces."""
    params = QualityParams()
    faces = 400_000
    table = population(faces)
    labels = weak_labels(table, params).label
    # Every training with seed 0 holds out the same first fifth of this permutation: its first
    # 25,000 faces were fitted by none of them.
    common = np.random.default_rng(params.seed).permutation(faces)[:25_000]
    print(f"\n### Fit limits on {faces:,} faces (load before: {uptime()})\n")
    print("R² on the same 25,000 held-out faces.\n")
    print("| forest fitted on | training (s) | its CPU seconds / 2 | R² | R² − R² of the largest |")
    print("|---:|---:|---:|---:|---:|")
    rows = []
    for limit in (25_000, 50_000, FIT_LIMIT, larger):
        seconds, cpu, model = cpu_timed(
            functools.partial(train_quality_model, table, params, fit_at_most=limit)
        )
        predicted = model.predict(table.take(common))
        residual = np.sum((labels[common] - predicted) ** 2)
        r2 = 1 - residual / np.sum((labels[common] - labels[common].mean()) ** 2)
        rows.append((limit, seconds, cpu, float(r2)))
        print(f"  fitted on {limit:,}: {seconds:.1f} s", flush=True)
    figures = {}
    for limit, seconds, cpu, r2 in rows:
        figures[limit] = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "r2": r2}
        print(f"| {limit:,} | {seconds:.1f} | {cpu / 2:.1f} | {r2:.4f} | {r2 - rows[-1][3]:+.4f} |")
    print(f"\n(load after: {uptime()})")
    return figures


# --- selectors -----------------------------------------------------------------------------


def cluster_bounds(rng: np.random.Generator) -> np.ndarray:
    """Boundaries of 991 clusters of lognormal sizes summing to 284,000."""
    sizes = rng.lognormal(0, 1.2, CLUSTERS)
    sizes = np.maximum(1, np.floor(sizes / sizes.sum() * FACES)).astype(int)
    sizes[np.argmax(sizes)] += FACES - sizes.sum()
    return np.r_[0, np.cumsum(sizes)]


def selectors(runs: int) -> dict:
    rng = np.random.default_rng(1)
    table = population(FACES, seed=1)
    bounds = cluster_bounds(rng)
    quality = np.round(rng.random(FACES), 3)  # forests tie often
    learned = rng.normal(0, 1, FACES)
    clusters = [(table.take(np.arange(a, b)), slice(a, b)) for a, b in itertools.pairwise(bounds)]
    work = {
        "baseline": lambda: [select_baseline(t) for t, _ in clusters],
        "fiqa (with its guards)": lambda: [select_fiqa(t, FIQA_GUARDS) for t, _ in clusters],
        "filtering (default stages)": lambda: [
            select_filtering(t, DEFAULT_STAGES) for t, _ in clusters
        ],
        "regression": lambda: [select_regression(t, quality[s]) for t, s in clusters],
        "learned": lambda: [select_learned(t, learned[s]) for t, s in clusters],
    }
    sizes = np.diff(bounds)
    print(
        f"\n### Selectors, {FACES:,} faces in {CLUSTERS} clusters of {sizes.min()}–{sizes.max()}"
        f" (median {int(np.median(sizes))}) (load before: {uptime()})\n"
    )
    print(f"| selector | seconds (median of {runs}) |\n|---|---:|")
    figures = {name: round(median_seconds(run, runs), 2) for name, run in work.items()}
    for name, seconds in figures.items():
        print(f"| {name} | {seconds:.2f} |")
    figures["total"] = round(sum(figures.values()), 2)
    print(f"| **all five** | **{figures['total']:.2f}** |\n\n(load after: {uptime()})")
    return figures


# --- the selection step on PostgreSQL ------------------------------------------------------


def learned_models(faces: np.ndarray, quality: np.ndarray, clusters: np.ndarray):
    """A weak model and a learned model on top of it, stored as the app stores them."""
    from curation.models import QualityModel
    from curation.scoring_runs.learned_models import LearnedModel
    from curation.scoring_runs.quality_models import quality_model_store
    from scoring.preference import Judged, train_preference_model

    table = FeatureTable.from_matrix(faces)
    weak = train_quality_model(
        table, QualityParams(), feature_version=FEATURE_VERSION, fit_at_most=25_000
    )
    weak_record = quality_model_store(
        record=QualityModel(feature_version=FEATURE_VERSION, features=list(weak.features)),
        trained=weak,
    )
    judged = np.flatnonzero(clusters < clusters.min() + 100)  # 100 clusters' faces
    rng = np.random.default_rng(2)
    pairs = []
    for cluster in np.unique(clusters[judged]):
        rows = np.flatnonzero(clusters[judged] == cluster)
        for a, b in rng.choice(rows, (3, 2)):
            if a != b and quality[judged][a] != quality[judged][b]:
                pairs.append((a, b, 1) if quality[judged][a] > quality[judged][b] else (b, a, 1))
    learned = train_preference_model(
        table.take(judged),
        Judged(clusters[judged], np.full(len(judged), -1), np.array(pairs)),
        weak,
    )
    learned_record = quality_model_store(
        record=QualityModel(
            labels=QualityModel.Labels.PEOPLE,
            feature_version=FEATURE_VERSION,
            params={"prior": {"version": weak_record.version}},
        ),
        trained=learned,
    )
    return weak_record, LearnedModel(learned_record, learned, weak)


def step(runs: int) -> dict:
    spec = Spec(faces=CLUSTERS * STEP_FACES_PER_CLUSTER, faces_per_cluster=287, titles=1)
    with catalogue("curation_scale_scoring", spec) as built:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from curation.models import Face, ScoringRun, Title
        from curation.scoring_runs import quality_models, steps

        print(f"\n### The selection step on PostgreSQL (load before: {uptime()})\n")
        read_seconds, (features, _) = timed(
            lambda: quality_models._training_faces(Face.objects.all())
        )
        values = np.array(
            Face.objects.order_by("pk").values_list("cluster_id", "quality"), dtype=np.float64
        )
        weak_record, learned = learned_models(
            features.matrix(), values[:, 1], values[:, 0].astype(int)
        )
        Face.objects.update(quality_version=f"v{weak_record.version}")
        run = ScoringRun.objects.create(
            title=Title.objects.get(pk=built.titles[0]), quality_model=weak_record
        )
        with CaptureQueriesContext(connection) as queries:
            picks = steps.selections_replace(run=run, learned=learned)
        seconds = median_seconds(lambda: steps.selections_replace(run=run, learned=learned), runs)
        Face.objects.update(quality_version="v0")  # the learned model's weak model runs again
        forest_seconds, _ = timed(lambda: steps.selections_replace(run=run, learned=learned))
        figures = {
            "faces": built.faces,
            "clusters": built.clusters,
            "picks": picks,
            "queries": len(queries),
            "step_seconds": round(seconds, 2),
            "step_seconds_forest_again": round(forest_seconds, 2),
            "training_read_seconds": round(read_seconds, 2),
        }
        print("| | seconds |\n|---|---:|")
        print(
            f"| every selector's pick for {built.clusters} clusters, {built.faces:,} faces "
            f"({picks} picks, {len(queries)} queries), median of {runs} | {seconds:.2f} |"
        )
        print(f"| the same, the learned model's weak model run again | {forest_seconds:.2f} |")
        print(
            f"| reading the {built.faces:,} faces' features for a training | {read_seconds:.2f} |"
        )
        print(f"\n(load after: {uptime()})")
    return figures


# --- import rows ---------------------------------------------------------------------------


def video_found():
    """What reading a 400 s 720p video of eight people side by side finds."""
    from scoring.actors import UNASSIGNED
    from scoring.video import Decoded, VideoInfo
    from scoring.video_faces import VideoFace, VideoFaces, VideoFrame, VideoTrack

    rng = np.random.default_rng(3)
    info = VideoInfo(width=1280, height=720, seconds=400.0, fps=25.0, rotation=0)
    found = VideoFaces(info=info, decoded=Decoded(frames_read=2 * VIDEO_FRAMES))
    found.frames = [VideoFrame(index=2 * i, time=0.08 * i) for i in range(VIDEO_FRAMES)]
    found.tracks = [
        VideoTrack(
            shot=k // 6,
            start=0.0,
            end=info.seconds,
            background=False,
            actor=k % ACTORS if k < TRACKS - 2 else UNASSIGNED,
        )
        for k in range(TRACKS)
    ]
    measured = [name for name in FEATURE_NAMES if name != "identity"]
    for frame in range(VIDEO_FRAMES):
        for place in range(FACES_PER_FRAME):
            x, y = 320.0 * (place % 4) + 60, 360.0 * (place // 4) + 60
            found.faces.append(
                VideoFace(
                    frame=frame,
                    box=(x, y, 120.0, 150.0),
                    landmarks=rng.uniform([x, y], [x + 120, y + 150], (5, 2)),
                    confidence=float(rng.uniform(0.9, 1.0)),
                    features=dict(zip(measured, rng.random(len(measured)).tolist(), strict=True)),
                    track=(place * (TRACKS // FACES_PER_FRAME) + frame // 1000) % TRACKS,
                )
            )
    return found


def bulk_created(objects: list) -> list:
    """The rows as the import inserted them before: ``bulk_create``, 1,000 a statement."""
    return type(objects[0]).objects.bulk_create(objects, batch_size=1000)


def import_rows(runs: int) -> dict:
    from unittest import mock

    with catalogue("curation_scale_scoring_import", Spec(faces=10, faces_per_cluster=10)):
        from django.db import connection

        from curation.imports import video
        from curation.models import Face

        found = video_found()
        thumbnails = {k: f"titles/bench/thumbnails.pack:{5000 * k}:5000" for k in range(40_000)}

        def save() -> None:
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE curation_title CASCADE")
            video.video_save(
                name="bench",
                source="bench",
                found=found,
                video="titles/bench/video.mp4",
                thumbnails=thumbnails,
                stored_bytes=0,
            )

        print(f"\n### Rows of a 40,000-face video title (load before: {uptime()})\n")
        copy_seconds = median_seconds(save, runs)
        faces = Face.objects.count()
        with mock.patch.object(video, "rows_insert", bulk_created):
            bulk_seconds = median_seconds(save, runs)
        figures = {
            "faces": faces,
            "frames": VIDEO_FRAMES,
            "copy_seconds": round(copy_seconds, 2),
            "bulk_create_seconds": round(bulk_seconds, 2),
        }
        print(
            f"| {faces:,} faces, {VIDEO_FRAMES:,} frames, {TRACKS} tracks, {ACTORS + 1} "
            f"clusters | seconds (median of {runs}) |\n|---|---:|"
        )
        print(f"| COPY (the import now) | {copy_seconds:.2f} |")
        print(f"| bulk_create, 1,000 rows a statement (before) | {bulk_seconds:.2f} |")
        print(f"\n(load after: {uptime()})")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["training", "selectors", "step", "import", "limits"]
    parser.add_argument("--only", nargs="+", choices=parts, default=parts[:4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--larger", type=int, default=200_000, help="limits: the largest fit")
    args = parser.parse_args()
    figures: dict = {"load before": uptime()}
    try:
        run_parts(args, figures)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    figures["load after"] = uptime()
    record_figures("scoring", figures)


def run_parts(args: argparse.Namespace, figures: dict) -> None:
    if "selectors" in args.only:
        figures["selectors"] = selectors(args.runs)
    if "step" in args.only:
        figures["step"] = step(args.runs)
    if "import" in args.only:
        figures["import"] = import_rows(args.runs)
    if "training" in args.only:
        figures["training"] = training()
    if "limits" in args.only:
        figures["limits"] = limits(args.larger)


if __name__ == "__main__":
    main()
