"""A zip uploaded in the admin is imported by a real worker process over the real broker."""

import io
import time
import zipfile

import pytest
from django.urls import reverse

from curation.accounts.users import user_create
from curation.models import Face, ImportJob, Title
from tests.conftest import SMALL_CLUSTERS, face_data


def cluster_zip(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for cluster in SMALL_CLUSTERS:
            for path in sorted(face_data("lfw", cluster).iterdir())[:count]:
                archive.writestr(f"{cluster}/{path.name}", path.read_bytes())
        archive.writestr("Bill_Gates/readme.txt", b"not a photo")
    return buffer.getvalue()


def wait_for(job_id: int, seconds: float = 120) -> ImportJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            return job
        time.sleep(0.3)
    pytest.fail(f"import job still {job.status} after {seconds} s")


def upload(client, name: str, data: bytes, filename: str = "title.zip"):
    file = io.BytesIO(data)
    file.name = filename
    return client.post(reverse("admin:curation_importjob_add"), {"name": name, "upload": file})


def test_an_uploaded_zip_is_imported_on_the_worker(client, celery_worker_process, media_root):
    admin, _ = user_create(username="boss", role="admin")
    client.force_login(admin)

    response = upload(client, "uploaded", cluster_zip(4))

    assert response.status_code == 302, response.content.decode()[-2000:]
    job = wait_for(ImportJob.objects.get().pk)
    assert job.status == ImportJob.Status.DONE, job.error
    title = Title.objects.get(name="uploaded")
    assert job.title == title
    assert job.images_done == job.images_total == 13
    assert Face.objects.filter(title=title).count() == 12
    assert job.summary["rejected"] == [
        {"file": "Bill_Gates/readme.txt", "reason": "not an image (unrecognised format)"}
    ]
    assert not job.upload  # the archive is removed once imported
    page = client.get(reverse("admin:curation_importjob_change", args=[job.pk])).content.decode()
    assert "13/13" in page


def test_an_upload_that_is_neither_zip_nor_video_is_refused_in_the_form(client, db, media_root):
    admin, _ = user_create(username="boss", role="admin")
    client.force_login(admin)

    response = upload(client, "bad", b"hello", filename="title.zip")
    assert response.status_code == 200
    assert "not a valid zip file" in response.content.decode()
    response = upload(client, "bad", b"hello", filename="movie.mp4")
    assert "movie.mp4 is neither a video nor a .zip of cluster folders" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_an_upload_over_the_size_limit_is_refused_in_the_form(client, db, media_root, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    admin, _ = user_create(username="boss", role="admin")
    client.force_login(admin)

    response = upload(client, "big", cluster_zip(1))

    assert "over the limit of 1000" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_import_page_uploads_a_zip_and_its_job_page_reports_it(
    client, lfw_small, media_root, celery_worker_process
):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((lfw_small / "Bill_Gates").iterdir())[:4]:
            out.write(path, f"Bill_Gates/{path.name}")
        out.writestr("Bill_Gates/notes.txt", "not a picture")
    archive.seek(0)
    archive.name = "title.zip"

    refused = client.post(reverse("import-list"), {"name": "page", "upload": io.BytesIO(b"nope")})
    assert refused.status_code == 400
    response = client.post(reverse("import-list"), {"name": "page", "upload": archive})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("import-job", args=[job.pk])
    deadline = time.monotonic() + 120
    while job.status not in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.3)
        job.refresh_from_db()

    page = client.get(reverse("import-job", args=[job.pk])).content.decode()
    assert job.status == ImportJob.Status.DONE, job.error
    assert "Imported" in page and "Bill_Gates/notes.txt" in page and "not an image" in page
    assert "hx-trigger" not in page  # the page stops polling once the job ended
    assert "page" in client.get(reverse("import-list")).content.decode()
