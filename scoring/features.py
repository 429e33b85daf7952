"""The paper's face features (§4), batched over many faces: brightness, resolution, sharpness, pose.

Faces come grouped by source image: an RGB uint8 image (H, W, 3), its face boxes (N, 4) as
(x, y, w, h) in pixels, and the faces' MTCNN landmarks (N, 5, 2). The result is a
:class:`FeatureTable` of (N,) float64 columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from scoring.device import default_device
from scoring.pose import FsaNetPose, landmark_pose
from scoring.runtime import onnx_providers
from scoring.sharpness import OnnxQuality, OnnxQualitySpec, sharpness

FEATURE_NAMES = ("brightness", "resolution", "sharpness", "roll", "pitch", "yaw")
POSE_FEATURES = frozenset({"yaw", "pitch", "roll"})


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Features of N faces, one read-only (N,) float64 array each.

    ``brightness`` in [0, 100], ``resolution`` in square pixels, ``sharpness`` in [0, 1],
    ``yaw``/``pitch``/``roll`` in degrees (see ``scoring.pose`` for the signs).
    """

    brightness: np.ndarray
    resolution: np.ndarray
    sharpness: np.ndarray
    roll: np.ndarray
    pitch: np.ndarray
    yaw: np.ndarray

    def __post_init__(self) -> None:
        lengths = set()
        for name in FEATURE_NAMES:
            column = np.array(getattr(self, name), dtype=np.float64).reshape(-1)
            column.setflags(write=False)
            object.__setattr__(self, name, column)
            lengths.add(len(column))
        if len(lengths) != 1:
            raise ValueError(f"feature columns differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.brightness)

    def column(self, name: str) -> np.ndarray:
        if name not in FEATURE_NAMES:
            raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")
        return getattr(self, name)

    def matrix(self, names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
        """The features as an (N, len(names)) array, columns in the order of ``names``."""
        return np.stack([self.column(name) for name in names], axis=1)

    def take(self, indices: Sequence[int] | np.ndarray) -> FeatureTable:
        """The rows ``indices``, in that order."""
        rows = np.asarray(indices, dtype=np.intp)
        return FeatureTable(**{name: self.column(name)[rows] for name in FEATURE_NAMES})

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, names: Sequence[str] = FEATURE_NAMES) -> FeatureTable:
        """A table from an (N, 6) array whose columns are ``names``."""
        matrix = np.asarray(matrix, dtype=np.float64).reshape(-1, len(names))
        return cls(**{name: matrix[:, i] for i, name in enumerate(names)})

    @classmethod
    def concat(cls, tables: Iterable[FeatureTable]) -> FeatureTable:
        tables = list(tables)
        return cls(
            **{
                name: np.concatenate([np.empty(0)] + [t.column(name) for t in tables])
                for name in FEATURE_NAMES
            }
        )


def box_pixels(image: np.ndarray, box: Sequence[float] | np.ndarray) -> np.ndarray:
    """The pixels of ``box`` (x, y, w, h): rows round(y)..round(y + h), clipped to the image."""
    x, y, w, h = box
    height, width = image.shape[:2]
    x0, y0 = min(max(round(x), 0), width - 1), min(max(round(y), 0), height - 1)
    x1, y1 = max(min(round(x + w), width), x0 + 1), max(min(round(y + h), height), y0 + 1)
    return image[y0:y1, x0:x1]


def brightness(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mean HSV value of each face box's pixels / 255 × 100 (the paper's definition); shape (N,)."""
    values = []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        hsv = cv2.cvtColor(box_pixels(image, box), cv2.COLOR_RGB2HSV)
        values.append(hsv[:, :, 2].mean() / 255.0 * 100.0)
    return np.asarray(values, dtype=np.float64)


def resolution(boxes: np.ndarray) -> np.ndarray:
    """Box area in square pixels; shape (N,)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, 2] * boxes[:, 3]


@dataclass(frozen=True)
class FeatureConfig:
    """Which models compute the features.

    ``pose_models``: FSA-Net ONNX files, averaged; empty means pose from landmark geometry.
    ``quality_model``: a FaceQNet-style ONNX model replacing the built-in sharpness; None keeps it.
    ``device``: "cuda" or "cpu"; None picks CUDA when present.
    """

    pose_models: tuple[str, ...] = ()
    quality_model: OnnxQualitySpec | None = None
    device: str | None = None


@dataclass
class FeatureExtractor:
    """Computes a :class:`FeatureTable` for many faces; build once, reuse (models load once)."""

    config: FeatureConfig = field(default_factory=FeatureConfig)

    def __post_init__(self) -> None:
        device = self.config.device or default_device()
        providers = (
            onnx_providers(device) if (self.config.pose_models or self.config.quality_model) else []
        )
        self._pose = (
            FsaNetPose(self.config.pose_models, providers) if (self.config.pose_models) else None
        )
        self._quality = (
            OnnxQuality(self.config.quality_model, providers)
            if (self.config.quality_model)
            else None
        )

    @property
    def version(self) -> str:
        """Names what produced the features, to store beside them."""
        sharp = (
            "onnx:" + _stem(self.config.quality_model.path)
            if self.config.quality_model
            else ("edge-blur-1")
        )
        pose = (
            "fsanet:" + "+".join(_stem(p) for p in self.config.pose_models)
            if (self.config.pose_models)
            else "landmarks-1"
        )
        return f"sharpness={sharp};pose={pose}"

    def extract(self, image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray) -> FeatureTable:
        """Features of the faces of one RGB uint8 image (H, W, 3).

        ``boxes`` (N, 4) as (x, y, w, h); ``landmarks`` (N, 5, 2). Returns N rows, in order.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("expected an RGB uint8 (H, W, 3) image")
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
        if len(boxes) != len(landmarks):
            raise ValueError(f"{len(boxes)} boxes but {len(landmarks)} landmark sets")
        if self._pose is not None:
            pose = self._pose(image, boxes, landmarks)
        else:
            pose = landmark_pose(boxes, landmarks)
        sharp = self._quality(image, boxes) if self._quality else sharpness(image, boxes)
        return FeatureTable(
            brightness=brightness(image, boxes),
            resolution=resolution(boxes),
            sharpness=sharp,
            yaw=pose[:, 0],
            pitch=pose[:, 1],
            roll=pose[:, 2],
        )

    def extract_many(
        self, faces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> FeatureTable:
        """Features of (image, boxes, landmarks) groups, concatenated in the order given."""
        return FeatureTable.concat(self.extract(*group) for group in faces)


def _stem(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".onnx")
