"""Importing a .zip of cluster folders: hostile archives are refused entry by entry, or whole."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from curation.models import Cluster, Face, Frame
from tests.conftest import SMALL_CLUSTERS, face_data, files_under
from tests.integration.test_import_title import run_import, table_counts

pytestmark = pytest.mark.django_db


def real_photos(cluster: str, count: int) -> list[tuple[str, bytes]]:
    folder = face_data("lfw", cluster)
    return [(path.name, path.read_bytes()) for path in sorted(folder.iterdir())[:count]]


def make_zip(path: Path, members: list[tuple[str, bytes]], *, symlinks=()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_a_zip_of_cluster_folders_under_one_top_folder_imports(tmp_path, media_root):
    members = [
        (f"export/{cluster}/{name}", data)
        for cluster in SMALL_CLUSTERS
        for name, data in real_photos(cluster, 4)
    ]
    code, summary = run_import(make_zip(tmp_path / "title.zip", members), "zipped")

    assert code == 0, summary["rejected"]
    assert sorted(Cluster.objects.values_list("label", flat=True)) == list(SMALL_CLUSTERS)
    assert Frame.objects.count() == 12
    assert Face.objects.count() == 12


def test_hostile_entries_are_reported_and_nothing_is_written_outside_media(tmp_path, media_root):
    photos = real_photos("Bill_Gates", 3)
    nested = make_zip(tmp_path / "inner.zip", photos)
    archive = make_zip(
        tmp_path / "evil.zip",
        [
            *[(f"Bill_Gates/{name}", data) for name, data in photos],
            ("../evil.jpg", photos[0][1]),
            ("Bill_Gates/../../evil2.jpg", photos[0][1]),
            ("/tmp/absolute-evil.jpg", photos[0][1]),
            ("Bill_Gates/inner.zip", nested.read_bytes()),
            ("Bill_Gates/disguised.jpg", nested.read_bytes()),
        ],
        symlinks=[("Bill_Gates/link.jpg", "/etc/passwd")],
    )
    before = set(tmp_path.parent.rglob("evil*"))

    code, summary = run_import(archive, "hostile")

    assert code == 3
    reasons = {item["file"]: item["reason"] for item in summary["rejected"]}
    assert "'..'" in reasons["../evil.jpg"]
    assert "'..'" in reasons["Bill_Gates/../../evil2.jpg"]
    assert "absolute path" in reasons["/tmp/absolute-evil.jpg"]
    assert "symbolic link" in reasons["Bill_Gates/link.jpg"]
    assert "nested archive" in reasons["Bill_Gates/inner.zip"]
    assert "nested archive" in reasons["Bill_Gates/disguised.jpg"]
    assert summary["faces"] == 3
    assert set(tmp_path.parent.rglob("evil*")) == before
    assert not Path("/tmp/absolute-evil.jpg").exists()
    stored = files_under(media_root)
    assert len(stored) == 3
    assert all(path.resolve().is_relative_to(media_root.resolve()) for path in stored)


def test_a_zip_with_more_entries_than_allowed_is_refused_whole(tmp_path, media_root, settings):
    settings.IMPORT_MAX_ZIP_ENTRIES = 3
    archive = make_zip(
        tmp_path / "many.zip",
        [(f"Bill_Gates/{name}", data) for name, data in real_photos("Bill_Gates", 5)],
    )
    with pytest.raises(CommandError, match="5 entries, over the limit of 3"):
        call_command("import_title", str(archive), "--name", "many", "--quiet")
    assert table_counts() == {"Title": 0, "Frame": 0, "Cluster": 0, "Face": 0}
    assert files_under(media_root) == []


def test_a_zip_bomb_over_the_uncompressed_limit_is_refused_whole(tmp_path, media_root, settings):
    settings.IMPORT_MAX_ZIP_BYTES = 50 * 1024**2
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Bill_Gates/big.jpg", b"\0" * (60 * 1024**2))
    assert path.stat().st_size < 1024**2

    with pytest.raises(CommandError, match="over the limit of 52428800"):
        call_command("import_title", str(path), "--name", "bomb", "--quiet")
    assert table_counts() == {"Title": 0, "Frame": 0, "Cluster": 0, "Face": 0}


def test_a_member_bigger_than_the_file_limit_is_rejected_without_reading_it_all(
    tmp_path, media_root, settings
):
    settings.IMPORT_MAX_IMAGE_BYTES = 1024**2
    photos = real_photos("Bill_Gates", 2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in photos:
            archive.writestr(f"Bill_Gates/{name}", data)
        archive.writestr("Bill_Gates/huge.jpg", b"\xff\xd8" + b"\0" * (5 * 1024**2))
    (tmp_path / "huge.zip").write_bytes(buffer.getvalue())

    code, summary = run_import(tmp_path / "huge.zip", "huge")

    assert code == 3
    assert summary["rejected"] == [
        {"file": "Bill_Gates/huge.jpg", "reason": "file is over the limit of 1048576 bytes"}
    ]
    assert summary["faces"] == 2
