"""dlib's face-recognition ResNet in torch (scoring.dlib_resnet) against dlib's own, real faces."""

import numpy as np
import pytest

from scoring.dlib_resnet import RESNET_MODEL, DlibFaceEmbedder, load_dlib_resnet, model_path
from tests.unit.facedata import lfw_faces, load_rgb

dlib = pytest.importorskip("dlib", reason="dlib-bin is not installed")

SAME_PERSON = 0.6  # dlib's threshold on the Euclidean distance


@pytest.fixture(scope="module")
def embedder():
    try:
        return DlibFaceEmbedder(device="cpu")
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def faces(embedder):
    """Names and chips (N, 150, 150, 3) of 16 LFW faces; the last three are Gerhard Schroeder."""
    found = lfw_faces(16)
    chips = np.concatenate([embedder.chips(load_rgb(face.path), face.box[None]) for face in found])
    return [face.path.parent.name for face in found], chips


def test_descriptors_equal_dlibs(embedder, faces):
    _, chips = faces
    assert len(chips) >= 8
    reference = dlib.face_recognition_model_v1(str(model_path(RESNET_MODEL)))
    theirs = np.array([reference.compute_face_descriptor(chip) for chip in chips])
    ours = embedder.embed_chips(chips)
    assert ours.shape == (len(chips), 128) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-4


def test_same_person_is_closer_than_other_people(embedder, faces):
    names, chips = faces
    descriptors = embedder.embed_chips(chips)
    distance = np.linalg.norm(descriptors[:, None] - descriptors[None], axis=2)
    same = np.array(names)[:, None] == np.array(names)[None]
    pairs = same & ~np.eye(len(names), dtype=bool)
    assert pairs.sum() >= 2
    people = pairs.any(axis=1)  # faces with another photo of the same person
    assert distance[pairs].max() < SAME_PERSON
    assert distance[pairs].max() < distance[people][~same[people]].min()


def test_a_file_that_is_not_the_network_is_refused(tmp_path):
    whole = model_path(RESNET_MODEL).read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(whole[: len(whole) // 2])
    for path in (truncated, model_path("shape_predictor_5_face_landmarks.dat")):
        with pytest.raises(ValueError):
            load_dlib_resnet(path)
