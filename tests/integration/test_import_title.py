"""import_title on real faces with the real MTCNN, against the real database."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from curation.imports.service import ImportFailed, title_import
from curation.models import Cluster, Face, Frame, Title
from tests.conftest import REPO, SMALL_CLUSTERS, face_data, files_under

pytestmark = pytest.mark.django_db


def run_import(src: Path, name: str) -> tuple[int, dict]:
    """Run the command as a user would; returns (exit code, parsed JSON summary)."""
    out = io.StringIO()
    try:
        call_command("import_title", str(src), "--name", name, "--quiet", stdout=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code)
    return code, json.loads(out.getvalue())


def table_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Title, Frame, Cluster, Face)}


def test_import_of_real_clusters_stores_frames_clusters_and_faces(lfw_small, media_root):
    code, summary = run_import(lfw_small, "small")

    assert code == 0, summary["rejected"]
    title = Title.objects.get(name="small")
    assert summary["title_id"] == title.pk
    assert title.status == Title.Status.IMPORTED
    assert sorted(Cluster.objects.values_list("label", flat=True)) == list(SMALL_CLUSTERS)
    images = sum(len(list((lfw_small / name).iterdir())) for name in SMALL_CLUSTERS)
    assert summary["images"] == images == Frame.objects.count()
    assert summary["faces"] == Face.objects.count() >= 0.98 * images
    for face in Face.objects.select_related("frame", "cluster"):
        frame = face.frame
        assert face.box_x >= 0 and face.box_x + face.box_w <= frame.width
        assert face.box_y >= 0 and face.box_y + face.box_h <= frame.height
        assert len(face.landmarks) == 5
        assert face.confidence >= 0.9
        assert frame.source_name.startswith(face.cluster.label + "/")
        assert (media_root / frame.image.name).is_file()
    assert title.import_summary["faces"] == summary["faces"]


def test_bad_files_are_each_rejected_with_a_reason_and_the_rest_imported(lfw_small, media_root):
    cluster = lfw_small / "Bill_Gates"
    good = next(iter(sorted(cluster.iterdir()))).read_bytes()
    (cluster / "notes.txt").write_text("not an image")
    (cluster / "empty.jpg").write_bytes(b"")
    (cluster / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (cluster / "corrupt.jpg").write_bytes(good[:20] + bytes(range(256)) * 20)
    Image.new("RGB", (200, 200), (128, 128, 128)).save(cluster / "wall.png")
    Image.new("1", (10_000, 10_000)).save(cluster / "bomb.png")
    (cluster / "movie.gif").write_bytes(_gif())
    (lfw_small / "loose.jpg").write_bytes(good)
    (lfw_small / ("L" * 220)).mkdir()
    (lfw_small / ("L" * 220) / "face.jpg").write_bytes(good)

    code, summary = run_import(lfw_small, "with-bad-files")

    assert code == 3
    reasons = {item["file"]: item["reason"] for item in summary["rejected"]}
    assert reasons["Bill_Gates/notes.txt"].startswith("not an image")
    assert reasons["Bill_Gates/empty.jpg"] == "empty file (0 bytes)"
    assert reasons["Bill_Gates/truncated.jpg"].startswith("truncated or corrupt image")
    assert "corrupt" in reasons["Bill_Gates/corrupt.jpg"]
    assert reasons["Bill_Gates/wall.png"] == "no face found"
    assert "decompression bomb" in reasons["Bill_Gates/bomb.png"]
    assert reasons["Bill_Gates/movie.gif"].startswith("unsupported image format GIF")
    assert reasons["loose.jpg"] == "not inside a cluster folder"
    long_name = reasons[f"{'L' * 220}/face.jpg"]
    assert long_name == "cluster folder name longer than 200 characters"
    assert all("\n" not in reason for reason in reasons.values())
    assert summary["faces"] >= 50
    assert Cluster.objects.count() == 3


def test_grayscale_cmyk_16_bit_alpha_and_rotated_images_are_converted(tmp_path, media_root):
    source = Image.open(face_data("lfw", "Bill_Gates", "Bill_Gates_0001.jpg")).convert("RGB")
    cluster = tmp_path / "src" / "Bill_Gates"
    cluster.mkdir(parents=True)
    source.convert("L").save(cluster / "gray.jpg")
    source.convert("CMYK").save(cluster / "cmyk.jpg")
    (Image.fromarray(_as_uint16(source.convert("L")))).save(cluster / "deep.png")
    rgba = source.convert("RGBA")
    rgba.putalpha(200)
    rgba.save(cluster / "alpha.png")
    rotated = source.rotate(90, expand=True)  # stored sideways; EXIF 6 says "turn right to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(cluster / "rotated.jpg", exif=exif.tobytes(), quality=95)
    source.save(cluster / "plain.jpg", quality=95)

    code, summary = run_import(tmp_path / "src", "converted")

    assert code == 0, summary["rejected"]
    faces = {
        face.frame.source_name.split("/")[1]: face for face in Face.objects.select_related("frame")
    }
    assert set(faces) == {
        "gray.jpg",
        "cmyk.jpg",
        "deep.png",
        "alpha.png",
        "rotated.jpg",
        "plain.jpg",
    }
    plain, upright = faces["plain.jpg"], faces["rotated.jpg"]
    assert (upright.frame.width, upright.frame.height) == (plain.frame.width, plain.frame.height)
    assert upright.box_x == pytest.approx(plain.box_x, abs=4)
    assert upright.box_y == pytest.approx(plain.box_y, abs=4)


def test_importing_a_name_twice_fails_cleanly_and_changes_nothing(lfw_small, media_root):
    run_import(lfw_small, "twice")
    before, stored = table_counts(), files_under(media_root)

    with pytest.raises(CommandError, match="a title named 'twice' already exists"):
        call_command("import_title", str(lfw_small), "--name", "twice", "--quiet")

    assert table_counts() == before
    assert files_under(media_root) == stored


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: _write(root / "plain.txt", b"hello"), "neither a video nor a .zip"),
        (lambda root: _write(root / "broken.zip", b"PK\x03\x04 garbage"), "not a valid zip"),
        (lambda root: _mkdir(root / "empty"), "no images found"),
    ],
)
def test_unusable_sources_fail_with_one_line_and_store_nothing(
    tmp_path, media_root, make_source, message
):
    src = make_source(tmp_path)
    with pytest.raises(CommandError) as raised:
        call_command("import_title", str(src), "--name", "nope", "--quiet")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert table_counts() == {"Title": 0, "Frame": 0, "Cluster": 0, "Face": 0}
    assert files_under(media_root) == []


def test_a_source_without_any_face_fails_and_leaves_zero_rows_and_zero_files(tmp_path, media_root):
    cluster = tmp_path / "src" / "Nobody"
    cluster.mkdir(parents=True)
    for shade in (40, 120, 200):
        Image.new("RGB", (160, 160), (shade, shade, shade)).save(cluster / f"{shade}.png")

    with pytest.raises(ImportFailed, match="no face found in any of the 3 readable images"):
        title_import(source=tmp_path / "src", name="faceless")

    assert table_counts() == {"Title": 0, "Frame": 0, "Cluster": 0, "Face": 0}
    assert files_under(media_root) == []


def test_an_import_that_fails_while_saving_leaves_zero_rows_and_zero_files(lfw_small, media_root):
    """Another import takes the name while this one is detecting faces: the insert fails after
    every frame file was written, and all of them are removed again."""
    files_seen = []

    def other_import_takes_the_name(done: int, total: int, faces: int) -> None:
        files_seen.append(len(files_under(media_root)))
        if done == total:
            Title.objects.create(name="race", status=Title.Status.IMPORTED)

    with pytest.raises(ImportFailed, match="a title named 'race' already exists"):
        title_import(source=lfw_small, name="race", progress=other_import_takes_the_name)

    assert files_seen[-1] == 52  # every frame had been stored before the failure
    assert table_counts() == {"Title": 1, "Frame": 0, "Cluster": 0, "Face": 0}
    assert files_under(media_root) == []


@pytest.mark.slow
def test_the_whole_lfw_set_imports_106_clusters_with_a_face_for_98_percent(media_root):
    lfw = face_data("lfw")
    code, summary = run_import(lfw, "lfw-dev")

    assert summary["clusters"] == Cluster.objects.count() == 106
    assert summary["faces"] >= 0.98 * summary["images"]
    assert code in (0, 3)
    assert all(item["reason"] for item in summary["rejected"])
    print(
        f"\nlfw import: {summary['images']} images, {summary['faces']} faces in "
        f"{summary['seconds']} s = {summary['faces_per_second']} faces/s"
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (32, 32)).save(buffer, format="GIF")
    return buffer.getvalue()


def _as_uint16(image: Image.Image):
    import numpy as np

    return (np.asarray(image, dtype=np.uint16) * 257).astype(np.uint16)


def test_import_title_on_a_fresh_data_folder_sets_the_database_up_or_says_what_to_run(
    lfw_small, tmp_path
):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEDIA_ROOT")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "curation.settings",
        "FACE_CURATION_DATA_DIR": str(tmp_path / "fresh"),
    }

    def import_title(name, **extra):
        return subprocess.run(
            [
                sys.executable,
                "manage.py",
                "import_title",
                str(lfw_small),
                "--name",
                name,
                "--quiet",
            ],
            cwd=REPO,
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=300,
        )

    # The embedded default (no DATABASE_URL): migrated on first use, then imported.
    embedded = import_title("fresh")
    assert embedded.returncode == 0, embedded.stderr
    assert json.loads(embedded.stdout)["faces"] >= 50
    # Any other database that is not set up: one line saying what to run, nothing imported.
    elsewhere = import_title("elsewhere", DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}")
    assert elsewhere.returncode == 1
    assert (
        elsewhere.stderr.strip().splitlines()
        == [
            "CommandError: the database is not set up (28 migrations to apply): "
            "run `manage.py migrate` first"
        ]
        or "run `manage.py migrate` first" in elsewhere.stderr
    )
    assert "Traceback" not in elsewhere.stderr
    assert len(elsewhere.stderr.strip().splitlines()) == 1
