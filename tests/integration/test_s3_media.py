"""Media in an S3-compatible bucket (django-storages' S3 backend) against moto's S3 server, over
HTTP: imports, the views, the model files and a scoring run on a real worker read and write the
bucket, and nothing lands under MEDIA_ROOT."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from curation.accounts.users import user_create
from curation.catalog.frames import frame_pixels
from curation.catalog.thumbnails import face_crop_response, response_bytes, thumbnail_name
from curation.imports.jobs import import_job_run
from curation.imports.service import ImportFailed, title_import
from curation.media import open_ranged
from curation.models import Face, Frame, ImportJob, QualityModel, ScoringRun, Selection, Title
from curation.scoring_runs import tuning
from curation.scoring_runs.quality_models import load_quality_model
from curation.scoring_runs.records import quality_model_record
from curation.scoring_runs.service import scoring_start
from curation.scoring_runs.steps import feature_table
from tests.conftest import SMALL_CLUSTERS, face_data, files_under
from tests.integration.test_import_video import write_video
from tests.integration.test_scoring_pipeline import wait_for_run

REGION = "us-east-1"
KEY, SECRET = "media-test-key", "media-test-secret"
PREFIX = "media"


@dataclass
class Bucket:
    name: str
    client: Any
    env: dict[str, str]  # what points a worker's settings at the bucket

    def keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=f"{PREFIX}/{name}")["Body"].read()


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    requests = logging.getLogger("werkzeug")  # the server logs every request at INFO
    level = requests.level
    requests.setLevel(logging.WARNING)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
    requests.setLevel(level)


@pytest.fixture
def bucket(s3_endpoint, settings, media_root) -> Bucket:
    """A fresh bucket, with the media storage of this process pointed at it (under a prefix)."""
    import boto3

    name = f"media-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=name)
    settings.STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "access_key": KEY,
                "secret_key": SECRET,
                "location": PREFIX,
                "file_overwrite": False,
            },
        },
        "staticfiles": settings.STORAGES["staticfiles"],
    }
    env = {
        "MEDIA_BUCKET": name,
        "MEDIA_ENDPOINT_URL": s3_endpoint,
        "MEDIA_REGION": REGION,
        "MEDIA_ACCESS_KEY_ID": KEY,
        "MEDIA_SECRET_ACCESS_KEY": SECRET,
        "MEDIA_PREFIX": PREFIX,
    }
    return Bucket(name, client, env)


@pytest.fixture
def admin_client(client, db):
    user, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(user)
    return client


def pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def body(response) -> bytes:
    assert response.status_code == 200
    return response_bytes(response)


@pytest.mark.django_db
def test_an_imported_title_lives_in_the_bucket_and_its_images_are_served_from_it(
    bucket, lfw_small, media_root, admin_client
):
    summary = title_import(source=lfw_small, name="small")

    frames = list(Frame.objects.filter(title_id=summary.title_id))
    assert len(frames) == summary.frames > 0
    assert bucket.keys() == sorted(f"{PREFIX}/{frame.image.name}" for frame in frames)
    assert files_under(media_root) == []
    frame = frames[0]
    assert body(admin_client.get(reverse("media", args=[frame.image.name]))) == bucket.read(
        frame.image.name
    )
    assert (
        admin_client.get(reverse("media", args=["titles/x/frames/missing.jpg"])).status_code == 404
    )

    face = Face.objects.filter(title_id=summary.title_id).select_related("frame").first()
    thumbnail = body(admin_client.get(reverse("face-crop", args=[face.pk])))
    assert thumbnail[:2] == b"\xff\xd8"  # a JPEG, made from the frame and kept in the bucket
    assert bucket.read(thumbnail_name(face, 160)) == thumbnail
    bucket.client.delete_object(Bucket=bucket.name, Key=f"{PREFIX}/{face.frame.image.name}")
    assert body(admin_client.get(reverse("face-crop", args=[face.pk]))) == thumbnail
    assert files_under(media_root) == []


@pytest.mark.django_db
def test_a_failed_import_leaves_nothing_in_the_bucket(bucket, tmp_path, media_root):
    cluster = tmp_path / "clusters" / "nobody"
    cluster.mkdir(parents=True)
    for shade in (40, 200):
        Image.new("RGB", (120, 120), (shade, shade, shade)).save(cluster / f"{shade}.jpg")

    with pytest.raises(ImportFailed, match="no face found"):
        title_import(source=tmp_path / "clusters", name="empty")
    assert bucket.keys() == [] and not Title.objects.exists()


@pytest.mark.django_db
def test_an_uploaded_zip_is_read_from_the_bucket_and_removed_after(bucket, media_root):
    from django.core.files.base import ContentFile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for cluster in SMALL_CLUSTERS:
            for path in sorted(face_data("lfw", cluster).iterdir())[:3]:
                archive.writestr(f"{cluster}/{path.name}", path.read_bytes())
    job = ImportJob.objects.create(name="uploaded", upload=ContentFile(buffer.getvalue(), "t.zip"))
    assert bucket.keys() == [f"{PREFIX}/{job.upload.name}"]

    import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.error
    assert job.summary["faces"] == 9 and not job.upload
    frames = Frame.objects.filter(title=job.title)
    assert bucket.keys() == sorted(f"{PREFIX}/{frame.image.name}" for frame in frames)
    assert files_under(media_root) == []


@pytest.mark.django_db
def test_a_video_title_is_stored_packed_and_read_back_from_the_bucket(
    bucket, tmp_path, media_root, settings, admin_client
):
    face = np.asarray(Image.open(next(face_data("lfw", "Jason_Kidd").iterdir())).convert("RGB"))
    shades = [face // (1 + n % 3) for n in range(8)]
    path = write_video(tmp_path / "clip.mp4", shades)
    settings.VIDEO_EVERY = 1

    summary = title_import(source=path, name="clip")

    title = Title.objects.get(pk=summary.title_id)
    assert bucket.read(title.video.name) == path.read_bytes()
    faces = list(Face.objects.filter(title=title).select_related("frame__title", "title"))
    packs = {face.thumbnail.rsplit(":", 2)[0] for face in faces}
    assert bucket.keys() == sorted(f"{PREFIX}/{name}" for name in {title.video.name, *packs})
    assert summary.video["stored_bytes"] == sum(len(bucket.read(name)) for name in packs)
    assert files_under(media_root) == []
    # The list thumbnail is a byte range of its pack; a larger one is made from the video.
    face = faces[0]
    pack, offset, length = face.thumbnail.rsplit(":", 2)
    packed = body(admin_client.get(reverse("face-crop", args=[face.pk])))
    assert packed == bucket.read(pack)[int(offset) : int(offset) + int(length)]
    with open_ranged(pack) as stored:  # read by ranges, to its end
        stored.seek(-2, io.SEEK_END)
        assert stored.read(10) == bucket.read(pack)[-2:] and stored.read(10) == b""
    again = response_bytes(face_crop_response(face, size=320))
    assert bucket.read(thumbnail_name(face, 320)) == again
    assert np.abs(pixels(again).astype(int) - pixels(packed)).mean() < 3  # the same frame
    frame = face.frame
    assert np.abs(frame_pixels(frame).astype(int) - shades[frame.index]).mean() < 6
    assert files_under(media_root) == []


def test_filter_tuning_records_are_kept_in_the_bucket(bucket):
    search_id = uuid.uuid4().hex
    record = {"id": search_id, "status": "queued", "created_at": "2026-01-01T00:00:00"}
    tuning._write(record)
    tuning._update(search_id, status="running")
    tuning._update(search_id, status="done")

    assert tuning.tuning_read(search_id) == record | {"status": "done"}
    assert tuning.tuning_list() == [record | {"status": "done"}]
    assert bucket.keys() == [f"{PREFIX}/tuning/{search_id}.json"]
    assert tuning.tuning_read(uuid.uuid4().hex) is None


def test_a_title_is_scored_on_a_worker_that_reads_and_writes_the_bucket(
    bucket, lfw_small, media_root, start_worker, admin_client
):
    """The worker's settings point at the bucket by environment (MEDIA_BUCKET and the rest)."""
    title_import(source=lfw_small, name="small")
    title = Title.objects.get(name="small")
    start_worker(**bucket.env)

    run = wait_for_run(scoring_start(title=title, chunk_size=16))

    assert run.status == ScoringRun.Status.DONE, run.error
    assert files_under(media_root) == []
    keys = bucket.keys()
    crops = set(Selection.objects.filter(cluster__title=title).values_list("crop", flat=True))
    assert crops and all(f"{PREFIX}/{crop}" in keys for crop in crops)
    headshot = sorted(crops)[0]
    assert body(admin_client.get(reverse("media", args=[headshot]))) == bucket.read(headshot)
    # The model the worker trained and stored is read back here, whole.
    model = QualityModel.objects.get()
    artifact = bucket.read(model.artifact.name)
    assert quality_model_record(model)["sha256"] == hashlib.sha256(artifact).hexdigest()
    faces = list(Face.objects.filter(title=title).order_by("pk"))
    predicted = load_quality_model(model.artifact.name).predict(
        feature_table(faces), feature_version=faces[0].feature_version
    )
    assert np.allclose(predicted, [face.quality for face in faces])
