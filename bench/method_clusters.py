"""The clusters of the method-quality benchmark: real photos read from the face data folder,
framed, degraded (``bench/degradations.py``) and their faces found by MTCNN and the one-face rule.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bench.degradations import DEGRADATIONS
from scoring.detect import FaceDetector, choose_face
from scoring.features import FeatureTable

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data"))
if not DATA.is_absolute():
    DATA = (REPO / DATA).resolve()
MAX_FACE = 150  # px: large photos are scaled so their face is at most this wide
PREVIEW_SIDE = 640  # px: large photos are first searched for their face at this size
FRAME = 3  # face widths: large photos are then cut to a square this wide around the face
ORIGINAL = "original"


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
