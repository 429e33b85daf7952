"""Real faces for the scoring tests: images from FACE_DATA_DIR and their MTCNN faces, detected once.

Tests skip, saying where they looked, when the data is absent. Nothing here is copied into the
repository.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FACE_DATA_DIR = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data"))
DETECTION_SIDE = 480  # large photos are detected at this size: MTCNN is slow on 4,000 px frames


@dataclass(frozen=True)
class Face:
    """The main face of one image: box (4,) as (x, y, w, h) and landmarks (5, 2), source pixels."""

    path: Path
    box: np.ndarray
    landmarks: np.ndarray


def data_path(*parts: str) -> Path:
    path = FACE_DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real face data not found at {path} (set FACE_DATA_DIR)")
    return path


def load_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@cache
def _detector():
    from scoring.detect import FaceDetector

    return FaceDetector(device="cpu")


@cache
def _faces(paths: tuple[Path, ...]) -> tuple[Face, ...]:
    from scoring.detect import choose_face

    faces = []
    for path in paths:
        image = load_rgb(path)
        zoom = min(1.0, DETECTION_SIDE / max(image.shape[:2]))
        small = (
            image
            if zoom == 1.0
            else cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
        )
        choice = choose_face(_detector().detect([small])[0], small.shape[1], small.shape[0])
        if choice.detection is not None:
            faces.append(
                Face(
                    path,
                    np.asarray(choice.detection.box) / zoom,
                    choice.detection.landmarks.astype(np.float64) / zoom,
                )
            )
    return tuple(faces)


def lfw_faces(count: int) -> tuple[Face, ...]:
    """The main face of ``count`` LFW photos, spread over the identities (one every 35th file)."""
    paths = sorted(data_path("lfw").glob("*/*.jpg"))[::35][:count]
    return _faces(tuple(paths))


def photo_faces() -> tuple[Face, ...]:
    """The main face of every full-resolution photo in photos/."""
    return _faces(tuple(sorted(data_path("photos").glob("*/*.jpg"))))


def aflw_faces() -> tuple[tuple[Face, np.ndarray], ...]:
    """The 16 AFLW2000 faces with their labelled (yaw, pitch, roll) in degrees."""
    folder = data_path("headpose", "aflw2000")
    with open(folder / "pose_degrees.csv", newline="") as handle:
        labels = {
            row["file"]: np.array(
                [float(row["yaw_deg"]), float(row["pitch_deg"]), float(row["roll_deg"])]
            )
            for row in csv.DictReader(handle)
        }
    faces = _faces(tuple(folder / name for name in sorted(labels)))
    return tuple((face, labels[face.path.name]) for face in faces)


def lfw_clusters(identities: int, per_identity: int) -> list[list[Face]]:
    """Real clusters: the main faces of the first ``per_identity`` photos of ``identities``
    LFW people (in name order) who have that many photos with a detected face."""
    clusters = []
    for person in sorted(data_path("lfw").iterdir()):
        photos = sorted(person.glob("*.jpg"))[: per_identity + 2]
        faces = _faces(tuple(photos))[:per_identity]
        if len(faces) == per_identity:
            clusters.append(list(faces))
        if len(clusters) == identities:
            break
    return clusters


def fsanet_models() -> tuple[str, ...]:
    """The FSA-Net pair shipped with the scoring package."""
    from scoring.bundled import FSANET_MODELS

    return tuple(str(path) for path in FSANET_MODELS)
