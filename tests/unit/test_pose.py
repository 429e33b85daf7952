"""Head pose on real faces: in-plane rotation, mirroring, and AFLW2000 labels (issue 3)."""

import cv2
import numpy as np
import pytest

from scoring.pose import FsaNetPose, landmark_pose
from tests.unit.facedata import aflw_faces, fsanet_models, lfw_faces, load_rgb

ANGLES = (-30, -20, -10, 10, 20, 30)


@pytest.fixture(scope="module")
def fsanet():
    return FsaNetPose(fsanet_models(), ["CPUExecutionProvider"])


def by_landmarks(image, boxes, landmarks):
    return landmark_pose(boxes, landmarks)


@pytest.fixture(scope="module", params=["fsanet", "landmarks"])
def estimator(request):
    return request.getfixturevalue("fsanet") if request.param == "fsanet" else by_landmarks


@pytest.fixture(scope="module")
def faces():
    return [(load_rgb(face.path), face.box, face.landmarks) for face in lfw_faces(60)[:20]]


def rotated(image, box, landmarks, degrees):
    """The image turned ``degrees`` counter-clockwise on screen about the box centre."""
    centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    turned = cv2.warpAffine(
        image, matrix, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
    )
    points = np.c_[landmarks, np.ones(5)] @ matrix.T
    return turned, points


def roll_errors(estimate, faces):
    errors = []
    for image, box, landmarks in faces:
        base = estimate(image, box[None], landmarks[None])[0, 2]
        for degrees in ANGLES:
            turned, points = rotated(image, box, landmarks, degrees)
            roll = estimate(turned, box[None], points[None])[0, 2]
            errors.append(abs((roll - base) - (-degrees)))  # counter-clockwise is negative roll
    return np.array(errors)


def test_roll_follows_in_plane_rotation(estimator, faces):
    assert roll_errors(estimator, faces).mean() <= 3.0


def mirrored(image, box, landmarks):
    width = image.shape[1]
    flipped = np.ascontiguousarray(image[:, ::-1])
    new_box = np.array([width - box[0] - box[2], box[1], box[2], box[3]])
    points = landmarks[[1, 0, 2, 4, 3]].copy()  # left and right swap in a mirror
    points[:, 0] = width - 1 - points[:, 0]
    return flipped, new_box, points


def test_mirroring_flips_the_sign_of_yaw_and_roll(estimator, faces):
    sums = []
    for image, box, landmarks in faces:
        pose = estimator(image, box[None], landmarks[None])[0]
        flipped, new_box, points = mirrored(image, box, landmarks)
        pose_mirrored = estimator(flipped, new_box[None], points[None])[0]
        sums.append(np.abs(pose[[0, 2]] + pose_mirrored[[0, 2]]))
    sums = np.array(sums)
    assert np.median(sums[:, 0]) <= 3.0
    assert np.median(sums[:, 1]) <= 3.0


def aflw_mae(estimate):
    errors = []
    for face, truth in aflw_faces():
        image = load_rgb(face.path)
        errors.append(np.abs(estimate(image, face.box[None], face.landmarks[None])[0] - truth))
    assert len(errors) == 16
    return np.mean(errors, axis=0)  # yaw, pitch, roll


def test_fsanet_matches_aflw2000_labels(fsanet):
    yaw, pitch, roll = aflw_mae(fsanet)
    assert yaw <= 5.0 and roll <= 4.0 and pitch <= 9.0


def test_landmark_fallback_stays_near_aflw2000_labels():
    # Measured: yaw 5.4, pitch 7.2, roll 5.8; the bounds only catch regressions.
    yaw, pitch, roll = aflw_mae(by_landmarks)
    assert yaw <= 7.0 and roll <= 7.0 and pitch <= 9.0


def test_landmark_pose_of_a_symmetric_frontal_face_is_zero():
    box = np.array([[100.0, 100.0, 100.0, 130.0]])
    points = np.array([[[118, 150], [182, 150], [150, 185], [125, 215], [175, 215]]], float)
    assert np.allclose(landmark_pose(box, points)[0, [0, 2]], 0.0, atol=0.5)
