"""Stored media reach only admins, only as a title's images; thumbnails are made once."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from curation.accounts.users import user_create
from curation.imports.service import title_import
from curation.models import Face, Title


@pytest.fixture
def title(lfw_small, media_root, db) -> Title:
    summary = title_import(source=lfw_small, name="small")
    return Title.objects.get(pk=summary.title_id)


@pytest.fixture
def admin_client(client, db):
    user, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(user)
    return client


def test_an_admin_gets_a_titles_images_and_nothing_else_of_the_media(admin_client, title):
    frame = title.frames.first()
    response = admin_client.get(reverse("media", args=[frame.image.name]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    assert b"".join(response.streaming_content) == frame.image.read()

    default_storage.save("imports/upload.zip", ContentFile(b"PK"))
    default_storage.save("quality-models/model.joblib", ContentFile(b"x"))
    folder = frame.image.name.rsplit("/", 2)[0]
    for path in (
        "imports/upload.zip",
        "quality-models/model.joblib",
        f"{folder}/../../imports/upload.zip",
        f"{folder}/frames/missing.jpg",
        f"{folder}/frames/../../../quality-models/model.joblib",
    ):
        assert admin_client.get(f"/media/{path}").status_code == 404, path


def test_a_face_thumbnail_is_made_once_and_then_read_from_storage(admin_client, title):
    face = Face.objects.filter(title=title).select_related("frame").first()
    first = admin_client.get(reverse("face-crop", args=[face.pk]))
    assert first.status_code == 200
    thumbnail = b"".join(first.streaming_content)
    assert thumbnail[:2] == b"\xff\xd8"  # a JPEG
    default_storage.delete(face.frame.image.name)  # the frame is not read again
    second = admin_client.get(reverse("face-crop", args=[face.pk]))
    assert b"".join(second.streaming_content) == thumbnail


def test_the_title_page_shows_eight_faces_per_cluster_without_loading_the_others(
    admin_client, title, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20):
        response = admin_client.get(reverse("title-detail", args=[title.pk]))
    for row in response.context["rows"]:
        total = row["cluster"].faces.count()
        expected = list(row["cluster"].faces.order_by("pk")[:8])
        assert row["faces"] == expected
        assert row["hidden"] == total - len(expected)
    assert any(row["hidden"] for row in response.context["rows"])
