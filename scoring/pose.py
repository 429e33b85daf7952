"""Head pose (yaw, pitch, roll) in degrees: FSA-Net from ONNX files, or landmark geometry.

Sign convention (FSA-Net's, and AFLW2000's labels), angles in degrees, image y pointing down:

- ``yaw`` > 0: the face turns towards the image's left (its nose points left in the picture).
- ``pitch`` > 0: the face tilts up (chin raised).
- ``roll`` > 0: the face rotates clockwise on screen (the right-hand eye in the image is lower).

Both estimators take boxes (N, 4) as (x, y, w, h) and landmarks (N, 5, 2) from MTCNN (left eye,
right eye, nose, left mouth corner, right mouth corner, as seen in the image) and return an (N, 3)
array of (yaw, pitch, roll).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from scoring.runtime import onnx_session

FSANET_SIZE = 64
FSANET_MARGIN = 0.4

# A generic face, in millimetres, camera axes (x right, y down, z away from the camera), with the
# nose tip at the origin: eye centres, nose tip, mouth corners. The nose depth was set against
# FSA-Net on LFW and web photos (not against AFLW2000, which the tests score it on).
_FACE_MODEL = np.array(
    [
        [-32.0, -35.0, 30.0],
        [32.0, -35.0, 30.0],
        [0.0, 0.0, 0.0],
        [-25.0, 30.0, 30.0],
        [25.0, 30.0, 30.0],
    ]
)


def fsanet_crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The FSA-Net input for one face: a (1, 3, 64, 64) float32 BGR tensor, ``(x - 127.5) / 128``.

    The crop is a square around the box centre, ``FSANET_MARGIN`` larger than the box's longer
    side, with the edge pixels repeated where it leaves the image.
    """
    x, y, w, h = box
    side = max(w, h) * (1.0 + FSANET_MARGIN)
    zoom = FSANET_SIZE / side
    left, top = x + w / 2.0 - side / 2.0, y + h / 2.0 - side / 2.0
    matrix = np.array([[zoom, 0.0, -left * zoom], [0.0, zoom, -top * zoom]], dtype=np.float32)
    interpolation = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(
        image,
        matrix,
        (FSANET_SIZE, FSANET_SIZE),
        flags=interpolation,
        borderMode=cv2.BORDER_REPLICATE,
    )
    bgr = crop[:, :, ::-1].astype(np.float32)
    return np.ascontiguousarray(((bgr - 127.5) / 128.0).transpose(2, 0, 1)[None])


class FsaNetPose:
    """FSA-Net head pose: the mean of the given ONNX variants (the paper averages two)."""

    def __init__(self, model_paths: Sequence[str], providers: Sequence[str]) -> None:
        if not model_paths:
            raise ValueError("FSA-Net needs at least one ONNX model path")
        self._sessions = [onnx_session(path, providers) for path in model_paths]

    def __call__(self, image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(yaw, pitch, roll) of the faces ``boxes`` (N, 4) of one RGB image; shape (N, 3)."""
        poses = np.zeros((len(boxes), 3))
        for index, box in enumerate(np.asarray(boxes, dtype=np.float64)):
            tensor = fsanet_crop(image, box)
            outputs = [
                session.run(None, {session.get_inputs()[0].name: tensor})[0]
                for session in self._sessions
            ]
            poses[index] = np.mean([np.ravel(output)[:3] for output in outputs], axis=0)
        return poses


def landmark_pose(
    boxes: np.ndarray, landmarks: np.ndarray, *, focal_in_face_widths: float = 6.0
) -> np.ndarray:
    """(yaw, pitch, roll) from the 5 landmarks alone; shape (N, 3).

    Fits the generic 3D face to the landmarks (perspective-n-point) with a camera centred on the
    face, then reads the Euler angles of the rotation, converted to FSA-Net's convention. The
    camera's focal length is unknown: ``focal_in_face_widths`` assumes one in face box widths
    (the default, 6, is a moderate telephoto, as in portraits and films).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    poses = np.zeros((len(boxes), 3))
    for index, ((x, y, w, h), points) in enumerate(zip(boxes, landmarks, strict=True)):
        focal = focal_in_face_widths * w
        camera = np.array([[focal, 0.0, x + w / 2.0], [0.0, focal, y + h / 2.0], [0.0, 0.0, 1.0]])
        _, rotation, translation = cv2.solvePnP(
            _FACE_MODEL, points, camera, None, flags=cv2.SOLVEPNP_EPNP
        )
        _, rotation, _ = cv2.solvePnP(
            _FACE_MODEL,
            points,
            camera,
            None,
            rotation,
            translation,
            useExtrinsicGuess=True,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )
        angles = cv2.RQDecomp3x3(cv2.Rodrigues(rotation)[0])[0]  # about camera x, y, z
        poses[index] = (angles[1], -angles[0], angles[2])
    return poses
