"""Per-face features, batched over many faces: the paper's six (§4) and three learned ones.

Faces come grouped by source image: an RGB uint8 image (H, W, 3), its face boxes (N, 4) as
(x, y, w, h) in pixels, and the faces' MTCNN landmarks (N, 5, 2). The result is a
:class:`FeatureTable` of (N,) float64 columns. ``identity`` needs the face's cluster, so the
extractor leaves it NaN and ``scoring.identity`` fills it in per cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from scoring.artifacts import artifacts
from scoring.bundled import FSANET_MODELS, LIGHTQNET_MODEL
from scoring.exposure import exposure, exposure_goodness
from scoring.fiqa import LightQNet, aligned_faces
from scoring.identity import VERSION as IDENTITY_VERSION
from scoring.pose import FsaNetPose, landmark_pose
from scoring.runtime import onnx_providers
from scoring.sharpness import sharpness

PAPER_FEATURES = ("brightness", "resolution", "sharpness", "roll", "pitch", "yaw")
FEATURE_NAMES = (*PAPER_FEATURES, "fiqa", "exposure", "artifacts", "identity")
POSE_FEATURES = frozenset({"yaw", "pitch", "roll"})
# Features where a smaller |value| is better (a sign, where there is one, says a direction).
SMALLER_BETTER = POSE_FEATURES | {"exposure", "artifacts"}
# How the features are named for people; |x| where a signed value's size is what counts.
FEATURE_LABELS = {
    "brightness": "Brightness",
    "resolution": "Size/Resolution",
    "sharpness": "Sharpness",
    "roll": "|Roll|",
    "pitch": "|Pitch|",
    "yaw": "|Yaw|",
    "fiqa": "Learned quality",
    "exposure": "|Exposure|",
    "artifacts": "Artifacts",
    "identity": "Identity",
}


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Features of N faces, one read-only (N,) float64 array each; NaN = not measured.

    - ``brightness`` in [0, 100]: mean HSV value of the box (the paper's);
    - ``resolution`` in square pixels: the box area;
    - ``sharpness`` in [0, 1]: edge width (``scoring.sharpness``);
    - ``yaw``/``pitch``/``roll`` in degrees (see ``scoring.pose`` for the signs);
    - ``fiqa`` in (0, 1): LightQNet's learned quality (``scoring.fiqa``);
    - ``exposure`` in [-1, 1]: 0 well exposed, < 0 dark, > 0 burnt (``scoring.exposure``);
    - ``artifacts`` in [0, 1]: visible noise or compression blocks (``scoring.artifacts``);
    - ``identity`` in [0, 1]: likeness to the cluster's person (``scoring.identity``).

    The columns beyond the paper's six may be omitted (all NaN), as for tables of the paper's
    features.
    """

    brightness: np.ndarray
    resolution: np.ndarray
    sharpness: np.ndarray
    roll: np.ndarray
    pitch: np.ndarray
    yaw: np.ndarray
    fiqa: np.ndarray | None = None
    exposure: np.ndarray | None = None
    artifacts: np.ndarray | None = None
    identity: np.ndarray | None = None

    def __post_init__(self) -> None:
        length = len(np.reshape(self.brightness, -1))
        for name in FEATURE_NAMES:
            value = getattr(self, name)
            column = (
                np.full(length, np.nan)
                if value is None
                else np.array(value, dtype=np.float64).reshape(-1)
            )
            if len(column) != length:
                raise ValueError(f"feature {name} has {len(column)} rows, brightness {length}")
            column.setflags(write=False)
            object.__setattr__(self, name, column)

    def __len__(self) -> int:
        return len(self.brightness)

    def column(self, name: str) -> np.ndarray:
        if name not in FEATURE_NAMES:
            raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")
        return getattr(self, name)

    def matrix(self, names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
        """The features as an (N, len(names)) array, columns in the order of ``names``."""
        return np.stack([self.column(name) for name in names], axis=1).reshape(
            len(self), len(names)
        )

    def take(self, indices: Sequence[int] | np.ndarray) -> FeatureTable:
        """The rows ``indices``, in that order."""
        rows = np.asarray(indices, dtype=np.intp)
        return FeatureTable(**{name: self.column(name)[rows] for name in FEATURE_NAMES})

    def replace(self, **columns: np.ndarray) -> FeatureTable:
        """A copy with some columns replaced."""
        return FeatureTable(**{name: self.column(name) for name in FEATURE_NAMES} | columns)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, names: Sequence[str] = FEATURE_NAMES) -> FeatureTable:
        """A table from an (N, len(names)) array whose columns are ``names``."""
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


def goodness(table: FeatureTable, feature: str) -> np.ndarray:
    """The feature oriented so that larger is better; shape (N,), NaN where not measured.

    Pose: ``-|angle|``; exposure: ``-(|exposure| - tolerance)``, 0 within it; artifacts:
    ``-artifacts``; else the value.
    """
    values = table.column(feature)
    if feature in POSE_FEATURES or feature == "artifacts":
        return -np.abs(values)
    if feature == "exposure":
        return exposure_goodness(values)
    return values


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
    """Which models compute the features; the defaults are the models shipped in this package.

    ``pose_models``: FSA-Net ONNX files, averaged; empty means pose from landmark geometry.
    ``fiqa_model``: a LightQNet ONNX file; None leaves ``fiqa`` unmeasured (NaN).
    ``device``: "cuda" or "cpu"; None picks CUDA when present.
    """

    pose_models: tuple[str, ...] = tuple(str(path) for path in FSANET_MODELS)
    fiqa_model: str | None = str(LIGHTQNET_MODEL)
    device: str | None = None

    @property
    def version(self) -> str:
        """Names what produces the features (not the device: it does not change them)."""
        pose = (
            "fsanet:" + "+".join(_stem(p) for p in self.pose_models)
            if self.pose_models
            else "landmarks-1"
        )
        fiqa = _stem(self.fiqa_model) if self.fiqa_model else "none"
        return (
            f"sharpness=edge-blur-1;pose={pose};fiqa={fiqa};exposure=key-clip-1;"
            f"artifacts=noise-block-1;identity={IDENTITY_VERSION}"
        )


@dataclass
class FeatureExtractor:
    """Computes a :class:`FeatureTable` for many faces; build once, reuse (models load once)."""

    config: FeatureConfig = field(default_factory=FeatureConfig)

    def __post_init__(self) -> None:
        providers = onnx_providers(self.config.device)
        pose_models, fiqa_model = self.config.pose_models, self.config.fiqa_model
        self._pose = FsaNetPose(pose_models, providers) if pose_models else None
        self._fiqa = LightQNet(fiqa_model, providers) if fiqa_model else None

    @property
    def version(self) -> str:
        """Names what produced the features, to store beside them."""
        return self.config.version

    def extract(self, image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray) -> FeatureTable:
        """Features of the faces of one RGB uint8 image (H, W, 3); ``identity`` is NaN.

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
        aligned = aligned_faces(image, landmarks)
        return FeatureTable(
            brightness=brightness(image, boxes),
            resolution=resolution(boxes),
            sharpness=sharpness(image, boxes),
            yaw=pose[:, 0],
            pitch=pose[:, 1],
            roll=pose[:, 2],
            fiqa=self._fiqa.score_crops(aligned) if self._fiqa else None,
            exposure=exposure(aligned),
            artifacts=artifacts(image, boxes),
        )

    def extract_many(
        self, faces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> FeatureTable:
        """Features of (image, boxes, landmarks) groups, concatenated in the order given."""
        return FeatureTable.concat(self.extract(*group) for group in faces)


def _stem(path: str) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".onnx")
