"""Actors from video: how well faces found in real clips are tracked and clustered, and how fast.

Each clip of the face data's ``video/`` folder is decoded once (every second frame), its faces
found by MTCNN in batches and aligned for dlib's descriptor. A test title is then made of the
clips' halves in a shuffled order (seeded), so that each person comes back after others, with a
cut between halves; shots are found from the colours, faces linked into tracks, three faces a
track embedded and the tracks clustered. The truth is the clip a face came from (eight people).

    .venv/bin/python bench/video_clusters.py [--every 2] [--seed 0] [--out figures.json]

Prints purity, the adjusted Rand index and clusters per person, the shot cuts found, the same for
``street_1080p`` and ``hamilton_short`` alone, and sampled frames per second per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scoring.actors import UNASSIGNED, cluster_tracks, is_background, track_embeddings  # noqa: E402
from scoring.detect import FaceDetector  # noqa: E402
from scoring.dlib_resnet import DlibFaceEmbedder  # noqa: E402
from scoring.tracks import TrackedFace, colour_signature, link_tracks, shot_numbers  # noqa: E402
from scoring.video import sampled_frames, video_info  # noqa: E402

DATA = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data")) / "video"
PEOPLE = (
    "talking_head_1",
    "talking_head_2",
    "talking_head_3",
    "talking_head_4",
    "talking_head_5",
    "obama_720p",
    "portrait_s18_720p",
    "portrait_s32_720p",
)
BATCH = 8


@dataclass
class Clip:
    name: str
    width: int
    height: int
    faces: list[list[TrackedFace]]  # per sample
    chips: dict[int, np.ndarray]  # id(face) -> aligned chip
    signatures: list[np.ndarray]
    seconds: dict[str, float]


def read_clip(name: str, every: int, detector: FaceDetector, embedder: DlibFaceEmbedder) -> Clip:
    """Decode, detect and align one clip, timing each stage."""
    path = DATA / f"{name}.mp4"
    info = video_info(path)
    seconds: dict[str, float] = defaultdict(float)
    faces: list[list[TrackedFace]] = []
    chips: dict[int, np.ndarray] = {}
    signatures: list[np.ndarray] = []
    frames = sampled_frames(path, every=every)
    while True:
        started = time.perf_counter()
        batch = [frame for _, frame in zip(range(BATCH), frames, strict=False)]
        seconds["decode"] += time.perf_counter() - started
        if not batch:
            break
        started = time.perf_counter()
        found = detector.detect([frame.pixels for frame in batch])
        seconds["detect"] += time.perf_counter() - started
        for frame, detections in zip(batch, found, strict=True):
            started = time.perf_counter()
            signatures.append(colour_signature(frame.pixels))
            sample = len(faces)
            row = [
                TrackedFace(sample, d.box, np.asarray(d.landmarks), d.confidence)
                for d in detections
                if d.confidence >= 0.9
            ]
            seconds["shots"] += time.perf_counter() - started
            started = time.perf_counter()
            if row:
                aligned = embedder.chips(frame.pixels, np.array([f.box for f in row]))
                chips.update({id(f): chip for f, chip in zip(row, aligned, strict=True)})
            seconds["align"] += time.perf_counter() - started
            faces.append(row)
    return Clip(name, info.width, info.height, faces, chips, signatures, dict(seconds))


def actors(faces: list[list[TrackedFace]], signatures, chips, embedder: DlibFaceEmbedder, seconds):
    """Shots, tracks, embeddings of a few faces a track, and the actor of each track."""
    started = time.perf_counter()
    shots = shot_numbers(signatures)
    tracks = link_tracks(faces, shots)
    seconds["track"] = seconds.get("track", 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    embeddings = track_embeddings(
        tracks, lambda _, chosen: embedder.embed_chips(np.stack([chips[id(f)] for f in chosen]))
    )
    seconds["embed"] = seconds.get("embed", 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    labels = cluster_tracks(tracks, embeddings)
    seconds["cluster"] = seconds.get("cluster", 0.0) + time.perf_counter() - started
    return shots, tracks, labels


def scores(truth: list[str], predicted: list[int]) -> dict:
    from sklearn.metrics import adjusted_rand_score

    assigned = [(t, p) for t, p in zip(truth, predicted, strict=True) if p != UNASSIGNED]
    by_cluster: dict[int, Counter] = defaultdict(Counter)
    by_person: dict[str, Counter] = defaultdict(Counter)
    for person, cluster in assigned:
        by_cluster[cluster][person] += 1
        by_person[person][cluster] += 1
    purity = sum(c.most_common(1)[0][1] for c in by_cluster.values()) / max(1, len(assigned))
    return {
        "faces": len(truth),
        "unassigned": len(truth) - len(assigned),
        "ari": round(adjusted_rand_score(*zip(*assigned, strict=True)), 4) if assigned else None,
        "purity": round(purity, 4),
        "clusters": len(by_cluster),
        "clusters_per_person": {p: len(c) for p, c in sorted(by_person.items())},
        "persons_in_one_cluster": sum(len(c) == 1 for c in by_person.values())
        / max(1, len(by_person)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"no video data at {DATA} (set FACE_DATA_DIR)")
    torch.set_num_threads(2)
    detector, embedder = FaceDetector(), DlibFaceEmbedder()

    clips = {name: read_clip(name, args.every, detector, embedder) for name in PEOPLE}
    halves = []
    for clip in clips.values():
        middle = len(clip.faces) // 2
        halves += [(clip, 0, middle), (clip, middle, len(clip.faces))]
    random.Random(args.seed).shuffle(halves)
    faces, signatures, truth_of, boundaries = [], [], {}, []
    for clip, start, end in halves:
        boundaries.append(len(faces))
        for sample in range(start, end):
            position = len(faces)
            row = [
                TrackedFace(position, f.box, f.landmarks, f.confidence) for f in clip.faces[sample]
            ]
            for old, new in zip(clip.faces[sample], row, strict=True):
                clip.chips[id(new)] = clip.chips[id(old)]
                truth_of[id(new)] = clip.name
            faces.append(row)
            signatures.append(clip.signatures[sample])
    seconds: dict[str, float] = {}
    shots, tracks, labels = actors(
        faces,
        signatures,
        {k: v for c in clips.values() for k, v in c.chips.items()},
        embedder,
        seconds,
    )
    truth = [truth_of[id(f)] for t in tracks for f in t.faces]
    predicted = [label for t, label in zip(tracks, labels, strict=True) for _ in t.faces]
    cuts = {i for i in range(1, len(shots)) if shots[i] != shots[i - 1]}
    title = scores(truth, predicted) | {
        "samples": len(faces),
        "tracks": len(tracks),
        "segments": len(halves),
        "cuts_true": len(boundaries) - 1,
        "cuts_found": len(cuts),
        "cuts_missed": len(set(boundaries[1:]) - cuts),
    }
    singles = {}
    for name in ("street_1080p", "hamilton_short"):
        clip = read_clip(name, args.every, detector, embedder)
        seconds_single: dict[str, float] = {}
        _, tracks_single, labels_single = actors(
            clip.faces, clip.signatures, clip.chips, embedder, seconds_single
        )
        singles[name] = {
            "samples": len(clip.faces),
            "faces": sum(len(row) for row in clip.faces),
            "tracks": len(tracks_single),
            "background_tracks": sum(is_background(t) for t in tracks_single),
            "actors": len(set(labels_single) - {UNASSIGNED}),
            "unassigned_faces": sum(
                len(t.faces)
                for t, label in zip(tracks_single, labels_single, strict=True)
                if label == UNASSIGNED
            ),
            "sampled_fps": round(
                len(clip.faces) / (sum(clip.seconds.values()) + sum(seconds_single.values())), 2
            ),
        }
    speed = {}
    for name in ("obama_720p", "portrait_s18_720p"):
        clip = clips[name]
        speed[name] = {
            "size": f"{clip.width}x{clip.height}",
            "sampled_fps_decode_detect_align": round(
                len(clip.faces) / sum(clip.seconds.values()), 2
            ),
            "seconds_per_stage": {k: round(v, 2) for k, v in clip.seconds.items()},
        }
    figures = {
        "title": title,
        "singles": singles,
        "speed_720p": speed,
        "title_stages": {k: round(v, 2) for k, v in seconds.items()},
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
