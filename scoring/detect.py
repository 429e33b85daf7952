"""Face detection with MTCNN (the paper's detector) and the rule that picks one face per image.

The weights ship inside the facenet-pytorch wheel, so nothing is downloaded at run time.
Images are RGB ``uint8`` arrays of shape (H, W, 3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoring.device import default_device


@dataclass(frozen=True)
class Detection:
    """One detected face.

    ``box`` is (x, y, w, h) in pixels of the source image, clipped to it; ``landmarks`` is a
    (5, 2) array of (x, y): left eye, right eye, nose, left mouth corner, right mouth corner
    (left/right as seen in the image); ``confidence`` is MTCNN's face probability in [0, 1].
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    confidence: float

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0


@dataclass(frozen=True)
class Choice:
    """The face chosen in one image, or ``None`` with the reason nothing was chosen."""

    detection: Detection | None
    reason: str = ""
    comparable_faces: int = 0

    @property
    def ambiguous(self) -> bool:
        return self.comparable_faces > 1


class FaceDetector:
    """Batched MTCNN over many images.

    Images of equal size are stacked and run as one batch; MTCNN itself cannot batch images of
    different sizes, so each size is its own batch.
    """

    def __init__(self, *, device: str | None = None, min_face_size: int = 20) -> None:
        from facenet_pytorch import MTCNN  # heavy import, only when a detector is made

        self.device = device or default_device()
        self._mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, device=self.device)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detect every face in each image; the result has one list per input image."""
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for index, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"image {index}: expected an RGB uint8 (H, W, 3) array")
            by_shape[image.shape].append(index)

        results: list[list[Detection]] = [[] for _ in images]
        for shape, indexes in by_shape.items():
            batch = np.stack([images[i] for i in indexes])
            boxes, probs, points = self._mtcnn.detect(batch, landmarks=True)
            height, width = shape[0], shape[1]
            for position, index in enumerate(indexes):
                results[index] = _to_detections(
                    boxes[position], probs[position], points[position], width, height
                )
        return results


def _to_detections(boxes, probs, points, width: int, height: int) -> list[Detection]:
    if boxes is None:
        return []
    detections = []
    for box, prob, marks in zip(boxes, probs, points, strict=True):
        x1 = float(np.clip(box[0], 0, width))
        y1 = float(np.clip(box[1], 0, height))
        x2 = float(np.clip(box[2], 0, width))
        y2 = float(np.clip(box[3], 0, height))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        detections.append(
            Detection(
                box=(x1, y1, x2 - x1, y2 - y1),
                landmarks=np.asarray(marks, dtype=np.float32).reshape(5, 2),
                confidence=float(prob),
            )
        )
    return detections


def choose_face(
    detections: Sequence[Detection],
    width: int,
    height: int,
    *,
    min_confidence: float = 0.9,
    comparable_ratio: float = 0.5,
) -> Choice:
    """Pick the one face that an image of an actor cluster is about.

    Rule: keep faces with confidence >= ``min_confidence``; faces whose area is at least
    ``comparable_ratio`` times the largest are *comparable*; of those, the one whose box centre
    is nearest the image centre wins (ties: the larger, then the more confident). Images with
    more than one comparable face are reported as ambiguous.
    """
    confident = [d for d in detections if d.confidence >= min_confidence]
    if not confident:
        if detections:
            best = max(d.confidence for d in detections)
            return Choice(
                None, f"no confident face (best confidence {best:.2f} < {min_confidence})"
            )
        return Choice(None, "no face found")
    largest = max(d.area for d in confident)
    comparable = [d for d in confident if d.area >= comparable_ratio * largest]
    cx, cy = width / 2.0, height / 2.0

    def order(d: Detection) -> tuple[float, float, float]:
        dx, dy = d.centre[0] - cx, d.centre[1] - cy
        return (dx * dx + dy * dy, -d.area, -d.confidence)

    return Choice(min(comparable, key=order), comparable_faces=len(comparable))
