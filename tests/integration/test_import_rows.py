"""An import's rows go into PostgreSQL by COPY: with the ids ``bulk_create`` would have set, every
kind of value as the ORM writes it, and the database's checks still enforced."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from curation.imports.rows import rows_insert, rows_update
from curation.models import Cluster, Face, Frame, Title

pytestmark = pytest.mark.django_db


def faces_of(title: Title, count: int) -> tuple[list[Frame], Cluster, list[Face]]:
    frames = rows_insert(
        [Frame(title=title, source_name=f"f{k}", width=640, height=480) for k in range(count)]
    )
    (cluster,) = rows_insert([Cluster(title=title, label="actor 1")])
    faces = [
        Face(
            title=title,
            cluster=cluster,
            frame=frame,
            box_x=10.5,
            box_y=20,
            box_w=100,
            box_h=120,
            landmarks=[[40.25, 50], [80, 50], [60, 70], [45, 90], [75, 90]],
            confidence=0.99,
            sharpness=None if k % 2 else 0.5,
            embedding=bytes(range(256)) if k == 0 else None,
            feature_version="v-1",
        )
        for k, frame in enumerate(frames)
    ]
    return frames, cluster, rows_insert(faces)


def test_rows_get_their_ids_and_read_back_as_the_orm_wrote_them():
    title = Title.objects.create(name="copied")
    frames, cluster, faces = faces_of(title, 3)

    assert [face.pk for face in faces] == sorted(face.pk for face in faces)
    assert {face.frame_id for face in faces} == {frame.pk for frame in frames}
    stored = list(Face.objects.filter(title=title).order_by("pk"))
    assert [face.pk for face in stored] == [face.pk for face in faces]
    assert stored[0].landmarks == [[40.25, 50], [80, 50], [60, 70], [45, 90], [75, 90]]
    assert [face.sharpness for face in stored] == [0.5, None, 0.5]
    assert bytes(stored[0].embedding) == bytes(range(256)) and stored[1].embedding is None
    assert stored[0].cluster_id == cluster.pk and stored[0].box_x == 10.5
    # The sequence moved past the copied ids: the next row the ORM makes gets a fresh one.
    later = Frame.objects.create(title=title, source_name="later", width=640, height=480)
    assert later.pk > max(frame.pk for frame in frames)
    assert not any(face._state.adding for face in faces)


def test_a_row_the_database_refuses_fails_the_insert_as_an_integrity_error():
    title = Title.objects.create(name="refused")
    frame = Frame.objects.create(title=title, source_name="f", width=64, height=64)
    cluster = Cluster.objects.create(title=title, label="actor 1")
    outside = Face(
        title=title,
        cluster=cluster,
        frame=frame,
        box_x=10,
        box_y=10,
        box_w=500,  # past the frame's right edge
        box_h=20,
        landmarks=[],
        confidence=0.9,
    )
    with pytest.raises(IntegrityError, match="face_box_inside_frame"), transaction.atomic():
        rows_insert([outside])
    assert not Face.objects.exists()


def test_rows_update_stores_the_fields_given_and_nothing_else():
    title = Title.objects.create(name="updated")
    _, cluster, faces = faces_of(title, 4)
    other = Cluster.objects.create(title=title, label="actor 2")
    for k, face in enumerate(faces):
        face.sharpness = None if k == 0 else 0.1 * k
        face.embedding = bytes([k]) * 256 if k % 2 else None
        face.cluster = other
        face.confidence = 0.5  # not among the fields written: stays as stored
    with transaction.atomic():
        rows_update(faces, ["sharpness", "embedding", "cluster"])
        rows_update(faces[:1], ["feature_version"])  # twice in one transaction
    stored = list(Face.objects.filter(title=title).order_by("pk"))
    assert [f.sharpness for f in stored] == [None, pytest.approx(0.1), 0.2, pytest.approx(0.3)]
    assert [bytes(f.embedding) if f.embedding else None for f in stored] == [
        None,
        bytes([1]) * 256,
        None,
        bytes([3]) * 256,
    ]
    assert {f.cluster_id for f in stored} == {other.pk} and cluster.faces.count() == 0
    assert {f.confidence for f in stored} == {0.99}
    with pytest.raises(ValueError, match="not all of"):
        rows_update(faces, ["sharpness", "no such field"])


def test_a_row_update_the_database_refuses_changes_nothing():
    title = Title.objects.create(name="refused update")
    _, _, faces = faces_of(title, 2)
    faces[1].box_w = -5  # the box check refuses it
    faces[0].sharpness = 0.9
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_update(faces, ["box_w", "sharpness"])
    assert list(Face.objects.filter(title=title).values_list("box_w", "sharpness")) == [
        (100, 0.5),
        (100, None),
    ]
