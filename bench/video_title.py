"""Video titles through the app: import speed, disk per hour of video, and a 40,000-face title.

Runs the app's own import (``title_import``) and scoring steps on the embedded default (SQLite,
in this process, one worker's worth of CPU), in a scratch data folder.

    .venv/bin/python bench/video_title.py clips [--out clips.json]
    .venv/bin/python bench/video_title.py large [--faces 40000] [--out large.json]

``clips`` imports real clips of the face data's ``video/`` folder and reports sampled frames per
second end to end (decode, detect, features, thumbnails, embed, track, cluster, save), where the
time goes, and the disk written beside the video, projected to an hour of video.

``large`` builds a 720p video of eight real people side by side (a 4×2 grid of the one-person
clips, each looping), long enough for ``--faces`` faces at every second frame, imports it, scores
it (features, identity, quality, picks, headshots) and reports the time and disk of each part,
and how well the tracks were clustered (the truth is each face's place in the grid).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data")) / "video"
SCRATCH = Path(tempfile.mkdtemp(prefix="video-title-bench-"))
os.environ["FACE_CURATION_DATA_DIR"] = str(SCRATCH)
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from video_clusters import PEOPLE  # noqa: E402  (this folder is on the path of a script)

from curation.imports.service import title_import  # noqa: E402
from curation.models import Cluster, Face, ScoringRun, Title  # noqa: E402
from curation.scoring_runs import quality_models, steps  # noqa: E402

CLIPS = ("obama_720p", "portrait_s18_720p", "street_1080p", "hamilton_short")
GRID = PEOPLE  # the eight one-person clips
SAMPLES_PER_HOUR = 25 * 3600 / 2  # 25 fps, every second frame


def disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def database_bytes() -> int:
    return Path(settings.DATABASES["default"]["NAME"]).stat().st_size


def warm_up() -> None:
    """Load the models and run each once, so that no clip pays for it."""
    from curation.scoring_runs.extractors import face_detector, face_embedder, feature_extractor

    pixels = np.full((720, 1280, 3), 128, np.uint8)
    face_detector().detect([pixels])
    feature_extractor().extract(pixels, np.array([[600, 300, 120, 150]]), np.zeros((1, 5, 2)))
    face_embedder().embed_chips(np.zeros((1, 150, 150, 3), np.uint8))


def clips() -> dict:
    warm_up()
    figures = {}
    for name in CLIPS:
        before = database_bytes()
        started = time.perf_counter()
        summary = title_import(source=DATA / f"{name}.mp4", name=name)
        seconds = time.perf_counter() - started
        video = summary.video
        samples = int(video["samples"])
        per_sample = (int(video["stored_bytes"]) + database_bytes() - before) / samples
        figures[name] = {
            "size": video["size"],
            "video_seconds": video["seconds"],
            "samples": samples,
            "faces": summary.faces,
            "faces_per_sample": round(summary.faces / samples, 2),
            "sampled_per_second": round(samples / seconds, 2),
            "real_time_factor": round(float(video["seconds"]) / seconds, 2),
            "stage_seconds": video["stage_seconds"],
            "thumbnail_bytes_per_face": round(int(video["stored_bytes"]) / summary.faces),
            "disk_per_hour_gb": round(per_sample * SAMPLES_PER_HOUR / 1e9, 3),
            "actors": video["actors"],
            "tracks": video["tracks"],
        }
        print(name, json.dumps(figures[name]), flush=True)
    return figures


def grid_video(path: Path, samples: int) -> dict[int, str]:
    """A 1280×720 video of the eight clips in a 4×2 grid, ``2 * samples`` frames long; returns
    which person each grid cell shows."""
    import av
    import cv2

    from scoring.video import sampled_frames

    frames = {
        name: [
            cv2.resize(f.pixels, (320, 360), interpolation=cv2.INTER_AREA)
            for f in sampled_frames(DATA / f"{name}.mp4", every=1)
        ]
        for name in GRID
    }
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        canvas = np.zeros((720, 1280, 3), np.uint8)
        for number in range(2 * samples):
            for cell, name in enumerate(GRID):
                clip = frames[name]
                # Each clip plays forward then backward, so no cell jumps at a loop.
                position = number % (2 * len(clip) - 2)
                tile = clip[position if position < len(clip) else 2 * len(clip) - 2 - position]
                row, column = divmod(cell, 4)
                canvas[row * 360 : (row + 1) * 360, column * 320 : (column + 1) * 320] = tile
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts = number
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return dict(enumerate(GRID))


def cluster_scores(title: Title, cells: dict[int, str]) -> dict:
    from sklearn.metrics import adjusted_rand_score

    truth, found = [], []
    by_person: dict[str, Counter] = defaultdict(Counter)
    by_cluster: dict[int, Counter] = defaultdict(Counter)
    unassigned = 0
    for face in Face.objects.filter(title=title).select_related("cluster").iterator():
        column = min(3, int((face.box_x + face.box_w / 2) // 320))
        row = min(1, int((face.box_y + face.box_h / 2) // 360))
        person = cells[row * 4 + column]
        if face.cluster.role != Cluster.Role.ACTOR:
            unassigned += 1
            continue
        truth.append(person)
        found.append(face.cluster_id)
        by_person[person][face.cluster_id] += 1
        by_cluster[face.cluster_id][person] += 1
    purity = sum(c.most_common(1)[0][1] for c in by_cluster.values()) / max(1, len(found))
    return {
        "ari": round(adjusted_rand_score(truth, found), 4),
        "purity": round(purity, 4),
        "clusters_per_person": {p: len(c) for p, c in sorted(by_person.items())},
        "unassigned_faces": unassigned,
    }


def large(faces: int) -> dict:
    samples = -(-faces // len(GRID))
    video = SCRATCH / "grid.mp4"
    started = time.perf_counter()
    cells = grid_video(video, samples)
    built = time.perf_counter() - started
    print(f"built a {2 * samples / 25:.0f} s grid video in {built:.0f} s", flush=True)

    media = Path(settings.MEDIA_ROOT)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    summary = title_import(source=video, name="forty thousand")
    timings["import"] = time.perf_counter() - started
    title = Title.objects.get(pk=summary.title_id)
    print("imported", summary.faces, "faces in", round(timings["import"]), "s", flush=True)
    disk_after_import = disk(media) - video.stat().st_size  # beside the copy of the video

    run = ScoringRun.objects.create(title=title, faces_total=summary.faces)
    face_ids = list(title.faces.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    for chunk in range(0, len(face_ids), 1000):
        steps.features_compute(run=run, face_ids=face_ids[chunk : chunk + 1000])
    timings["features (taken from the import)"] = time.perf_counter() - started
    started = time.perf_counter()
    clusters = list(
        title.clusters.filter(faces__isnull=False).distinct().values_list("pk", flat=True)
    )
    steps.identity_compute(run=run, cluster_ids=clusters)
    timings["identity"] = time.perf_counter() - started
    started = time.perf_counter()
    quality_models.quality_assign(run=run)
    timings["quality"] = time.perf_counter() - started
    started = time.perf_counter()
    picks = steps.selections_replace(run=run)
    timings["picks"] = time.perf_counter() - started
    started = time.perf_counter()
    steps.crops_make(run=run)
    timings["headshots"] = time.perf_counter() - started
    return {
        "faces": summary.faces,
        "video_seconds": summary.video["seconds"],
        "samples": summary.video["samples"],
        "tracks": summary.video["tracks"],
        "actors": summary.video["actors"],
        "picks": picks,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "import_stage_seconds": summary.video["stage_seconds"],
        "sampled_per_second": summary.video["sampled_per_second"],
        "disk_beside_video_mb": round(disk_after_import / 1e6, 1),
        "disk_after_scoring_mb": round((disk(media) - video.stat().st_size) / 1e6, 1),
        "database_mb": round(database_bytes() / 1e6, 1),
        "clustering": cluster_scores(title, cells),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("clips", "large"))
    parser.add_argument("--faces", type=int, default=40_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"no video data at {DATA} (set FACE_DATA_DIR)")
    torch.set_num_threads(2)
    call_command("migrate", verbosity=0)
    figures = clips() if args.what == "clips" else large(args.faces)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
