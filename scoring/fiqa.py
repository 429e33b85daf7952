"""``fiqa``: a learned face image quality, LightQNet-dm100 fed exactly as it was trained.

LightQNet (Chen et al., IEEE SPL 2021) predicts how useful a face is to a face recogniser; it
fills the role FaceQNet played in the paper. Its input is the upstream ``face_normalizer``'s:

1. a least-squares similarity transform takes the two eye centres and the mouth centre (the mean
   of the two mouth corners) to (34.19, 46.16), (65.65, 45.98) and (50.12, 82.40) percent of a
   160 x 160 crop; ``cv2.warpAffine`` with bilinear sampling and black outside the image;
2. ``cv2.resize`` to 96 x 96 (bilinear);
3. BGR channel order, ``(x - 128) / 128``, NHWC, any batch size.

The output is a sigmoid in (0, 1), higher better; clean LFW faces average about 0.6. It sees blur,
noise, JPEG blocks, low resolution and occlusion of the eyes, and barely sees darkening (that is
``exposure``'s job) or in-plane rotation (the alignment removes it; ``roll`` measures it).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from scoring.runtime import onnx_session

ALIGNED_SIZE = 160
INPUT_SIZE = 96
BATCH = 64
# Eye centres and mouth centre, in percent of the aligned crop (upstream's "mxnet" template).
_TEMPLATE = np.array([[34.19, 46.16], [65.65, 45.98], [50.12, 82.40]]) / 100.0 * ALIGNED_SIZE


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity (rotation, uniform scale, shift; no reflection) taking the (K, 2)
    ``source`` points closest to ``target`` in least squares.

    With ``a = s cos t`` and ``b = s sin t`` the map ``(x, y) -> (a x - b y + c, b x + a y + d)``
    is linear in ``(a, b, c, d)``, so one least-squares solve finds it.
    """
    source = np.asarray(source, dtype=np.float64).reshape(-1, 2)
    target = np.asarray(target, dtype=np.float64).reshape(-1, 2)
    x, y = source[:, 0], source[:, 1]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    system = np.concatenate(
        [np.stack([x, -y, ones, zeros], axis=1), np.stack([y, x, zeros, ones], axis=1)]
    )
    (a, b, c, d), *_ = np.linalg.lstsq(system, target.T.reshape(-1), rcond=None)
    return np.array([[a, -b, c], [b, a, d]])


def aligned_faces(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """LightQNet's input crops of the faces of one RGB uint8 image: (N, 96, 96, 3) uint8, BGR.

    ``landmarks`` (N, 5, 2): left eye, right eye, nose, left and right mouth corner (MTCNN's).
    """
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    crops = np.empty((len(landmarks), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for index, points in enumerate(landmarks):
        anchors = np.stack([points[0], points[1], points[3:5].mean(axis=0)])
        matrix = similarity_transform(anchors, _TEMPLATE)
        aligned = cv2.warpAffine(bgr, matrix, (ALIGNED_SIZE, ALIGNED_SIZE))
        crops[index] = cv2.resize(aligned, (INPUT_SIZE, INPUT_SIZE))
    return crops


class LightQNet:
    """LightQNet-dm100 from its ONNX file; scores aligned crops in batches of ``BATCH``."""

    def __init__(self, path: str, providers: Sequence[str]) -> None:
        self._session = onnx_session(path, providers)
        model_input = self._session.get_inputs()[0]
        if list(model_input.shape[1:]) != [INPUT_SIZE, INPUT_SIZE, 3]:
            raise ValueError(
                f"{path}: expected a LightQNet model with input [N, 96, 96, 3], "
                f"found {model_input.shape}"
            )
        self._input_name = model_input.name

    def score_crops(self, crops: np.ndarray) -> np.ndarray:
        """Quality in (0, 1) of (N, 96, 96, 3) uint8 BGR crops from :func:`aligned_faces`; (N,)."""
        scores = np.empty(len(crops))
        for start in range(0, len(crops), BATCH):
            batch = (crops[start : start + BATCH].astype(np.float32) - 128.0) / 128.0
            output = self._session.run(None, {self._input_name: batch})[0]
            scores[start : start + BATCH] = np.ravel(output)
        return scores

    def __call__(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Quality in (0, 1) of the faces of one RGB image, given their (N, 5, 2) landmarks."""
        if len(landmarks) == 0:
            return np.empty(0)
        return self.score_crops(aligned_faces(image, landmarks))
