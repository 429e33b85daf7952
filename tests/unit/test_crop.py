"""The headshot crop (§6.2) on every face of photos/, and its rules on made-up frames."""

import numpy as np
import pytest

from scoring.crop import CENTRE_TOLERANCE, CropParams, headshot_box, render_headshot
from tests.unit.facedata import load_rgb, photo_faces


def assert_rules_hold(crop, face_box, frame_size, aspect):
    x, y, w, h = face_box
    left, top, width, height = crop.box
    slack = 1.0
    assert left >= -slack and top >= -slack
    assert left + width <= frame_size[0] + slack and top + height <= frame_size[1] + slack
    assert width / height == pytest.approx(aspect)
    assert abs((x + w / 2) - (left + width / 2)) <= CENTRE_TOLERANCE * width + slack
    chin = y + h
    assert height / 3 - slack <= chin - top
    assert crop.head_top - slack <= top <= y + slack  # cuts through the hair
    assert crop.head_top < y
    if not crop.notes:  # a tight close-up has neither room below the chin nor shoulders
        assert chin - top <= height / 2 + slack
        assert top + height - chin >= h - slack  # shoulders


@pytest.mark.parametrize("aspect", [3 / 4, 4 / 5])
def test_every_photo_gets_a_crop_that_keeps_the_rules_or_says_why_not(aspect):
    params = CropParams(aspect=aspect)
    fitted = 0
    for face in photo_faces():
        size = load_rgb(face.path).shape[1::-1]
        crop = headshot_box(face.box, face.landmarks, size, params)
        left, top, width, height = crop.box
        assert left >= 0 and top >= 0 and left + width <= size[0] + 1e-6
        assert top + height <= size[1] + 1e-6
        if crop.fits:
            assert crop.reasons == ()
            assert_rules_hold(crop, face.box, size, aspect)
            fitted += 1
        else:
            assert crop.reasons and all(reason for reason in crop.reasons)
    assert fitted >= 20  # most photos/ are tight close-ups; the rest must fit


def frontal_face(x, y, size):
    box = np.array([x, y, size, size * 1.3])
    landmarks = np.array(
        [
            [x + 0.3 * size, y + 0.45 * size],
            [x + 0.7 * size, y + 0.45 * size],
            [x + 0.5 * size, y + 0.7 * size],
            [x + 0.35 * size, y + 0.95 * size],
            [x + 0.65 * size, y + 0.95 * size],
        ]
    )
    return box, landmarks


def test_a_face_with_room_around_it_fits_without_compromise():
    box, landmarks = frontal_face(900, 300, 200)
    crop = headshot_box(box, landmarks, (2000, 2000))
    assert crop.fits
    assert_rules_hold(crop, box, (2000, 2000), 3 / 4)


def test_a_face_at_the_frame_edge_is_shifted_inside_and_flagged():
    box, landmarks = frontal_face(0, 300, 200)
    crop = headshot_box(box, landmarks, (2000, 2000))
    assert crop.box[0] == 0
    assert not crop.fits
    assert any("centre" in reason for reason in crop.reasons)


def test_a_tight_close_up_is_noted_not_flagged_while_its_face_is_whole_and_centred():
    box, landmarks = frontal_face(100, 60, 200)
    crop = headshot_box(box, landmarks, (400, 400))
    assert crop.fits and crop.reasons == ()
    assert any("below the chin" in note for note in crop.notes)
    assert_rules_hold(crop, box, (400, 400), 3 / 4)


def test_a_face_cut_by_the_frame_top_is_flagged_however_tight():
    box, landmarks = frontal_face(100, -30, 200)  # the forehead is above the frame
    crop = headshot_box(box, landmarks, (400, 400))
    assert not crop.fits
    assert any("cuts the face" in reason for reason in crop.reasons)


def test_a_small_face_in_a_large_frame_fits_with_shoulders_and_no_notes():
    box, landmarks = frontal_face(900, 300, 120)
    crop = headshot_box(box, landmarks, (2000, 2000))
    assert crop.fits and crop.notes == ()


def test_the_headshot_comes_out_at_the_standard_size():
    face = photo_faces()[0]
    image = load_rgb(face.path)
    crop = headshot_box(face.box, face.landmarks, image.shape[1::-1])
    assert render_headshot(image, crop).shape == (800, 600, 3)
    small = CropParams(output_size=(300, 400))
    assert render_headshot(image, crop, small).shape == (400, 300, 3)
