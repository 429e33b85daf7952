"""Video titles: a real clip becomes actors, tracks and faces from one pass, against the real
database; every bad video is refused in one line and leaves nothing behind."""

from __future__ import annotations

import io
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curation.catalog.frames import frame_pixels
from curation.catalog.thumbnails import packed_thumbnail, thumbnail_jpeg, thumbnail_name
from curation.imports.service import ImportFailed, title_import
from curation.models import Cluster, Face, Frame, ScoringRun, Selection, Title, Track
from curation.scoring_runs import quality_models, steps
from curation.scoring_runs.extractors import feature_extractor
from scoring.video import sampled_frames
from tests.conftest import broken_off_stream, face_data, files_under

pytestmark = pytest.mark.django_db


def write_video(path: Path, frames: list[np.ndarray], *, times: list[float] | None = None) -> Path:
    """An H.264 video of RGB ``frames``; ``times`` (seconds) makes its frame rate variable."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for number, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = round((times[number] if times else number / 25) * 1000)
            frame.time_base = Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def nothing_stored(media_root: Path) -> bool:
    counts = [model.objects.count() for model in (Title, Frame, Cluster, Face, Track)]
    return counts == [0] * 5 and files_under(media_root) == []


def test_a_real_clip_becomes_actors_tracks_and_faces_from_one_pass(media_root, settings):
    clip = face_data("video", "hamilton_short.mp4")
    summary = title_import(source=clip, name="Hamilton")

    title = Title.objects.get(pk=summary.title_id)
    report = summary.video
    assert title.video and (media_root / title.video.name).read_bytes() == clip.read_bytes()
    assert title.seconds == pytest.approx(9.18, abs=0.05)
    assert report["frames_read"] == 275 and report["samples"] == 138 and not report["truncated"]
    # Frames: only those with faces, each with its number and true time; no pixels stored.
    frames = list(Frame.objects.filter(title=title).order_by("index"))
    assert 0 < len(frames) <= 138 and all(f.index % 2 == 0 and not f.image for f in frames)
    assert [f.time for f in frames] == sorted(f.time for f in frames)
    # Every face is in a track and a cluster; the unassigned ones are kept, not dropped.
    faces = Face.objects.filter(title=title)
    assert (
        faces.count()
        == summary.faces
        == report["unassigned_faces"] + faces.filter(cluster__role=Cluster.Role.ACTOR).count()
    )
    assert not faces.filter(track=None).exists()
    actors = Cluster.objects.filter(title=title, role=Cluster.Role.ACTOR)
    assert actors.count() == report["actors"] >= 2
    assert Cluster.objects.filter(title=title, role=Cluster.Role.UNASSIGNED).count() == 1
    assert Track.objects.filter(title=title).count() == report["tracks"]
    for track in Track.objects.filter(title=title):
        assert track.start <= track.end
        assert set(track.faces.values_list("background", flat=True)) == {track.background}
    # Features were measured in the pass, with the extractors scoring uses.
    assert not faces.filter(sharpness=None).exists() and not faces.filter(fiqa=None).exists()
    assert len(set(faces.values_list("feature_version", flat=True))) == 1
    # A thumbnail per face was packed while its frame was decoded: the face, at 160 px.
    packs = {f.name for f in (media_root / title.video.name).parent.glob("thumbnails-*.pack")}
    assert packs and {face.thumbnail.split(":")[0].rsplit("/", 1)[-1] for face in faces} == packs
    for face in faces.select_related("frame__title")[:: max(1, summary.faces // 10)]:
        remade = thumbnail_jpeg(frame_pixels(face.frame), face.box, 160)
        with (
            Image.open(io.BytesIO(packed_thumbnail(face.thumbnail))) as packed,
            Image.open(io.BytesIO(remade)) as expected,
        ):
            assert packed.size == expected.size and max(packed.size) <= 160
            difference = np.abs(np.asarray(packed, float) - np.asarray(expected, float))
        assert difference.mean() < 1.0
    assert not (media_root / thumbnail_name(faces.first(), 160)).exists()
    # A frame read again from the video is the frame the pass saw, pixel for pixel.
    frame = frames[len(frames) // 2]
    seen = next(f for f in sampled_frames(clip, every=2) if f.index == frame.index)
    assert np.array_equal(frame_pixels(frame), seen.pixels)
    # Features measured in the pass are those scoring would measure from the stored face.
    extractor = feature_extractor()
    for face in faces.select_related("frame__title")[:: max(1, summary.faces // 8)]:
        again = extractor.extract(
            frame_pixels(face.frame), np.array([face.box]), np.array([face.landmarks])
        )
        for name in ("sharpness", "fiqa", "yaw", "exposure", "brightness"):
            assert getattr(face, name) == pytest.approx(float(again.column(name)[0]), abs=1e-4)
    # Storage beyond the video: thumbnails only.
    assert report["stored_bytes"] < 20_000 * summary.faces

    # Scoring takes the pass's features as they are, and picks only among actors' faces.
    run = ScoringRun.objects.create(title=title, faces_total=summary.faces)
    before = dict(faces.values_list("pk", "sharpness"))
    steps.features_compute(run=run, face_ids=list(before))
    assert dict(faces.values_list("pk", "sharpness")) == before
    steps.identity_compute(run=run, cluster_ids=list(actors.values_list("pk", flat=True)))
    quality_models.quality_assign(run=run)
    steps.selections_replace(run=run)
    steps.crops_make(run=run)
    picks = Selection.objects.filter(cluster__title=title)
    assert set(picks.values_list("cluster", flat=True)) == set(actors.values_list("pk", flat=True))
    assert not picks.filter(face__background=True).exists()
    for pick in picks:
        with Image.open(media_root / pick.crop) as crop:
            assert crop.size == (600, 800)


def _sine(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    return path


def _noise_video(path: Path) -> Path:
    rng = np.random.default_rng(0)
    return write_video(path, [rng.integers(0, 255, (96, 128, 3), np.uint8) for _ in range(12)])


def _photo(path: Path) -> Path:
    Image.open(next(face_data("lfw", "Jason_Kidd").iterdir())).save(path)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "notes.mp4", "neither a video nor a .zip"),
        (lambda d: _sine(d / "sound.mp4"), "audio only"),
        (lambda d: _photo(d / "photo.jpg"), "a single image"),
        (lambda d: _noise_video(d / "noise.mp4"), "no face found in its 6 sampled frames"),
        (
            lambda d: (
                Path(d / "cut.mp4").write_bytes(
                    face_data("video", "hamilton_short.mp4").read_bytes()[:40_000]
                )
                and d / "cut.mp4"
            ),
            "not a readable video",
        ),
    ],
)
def test_bad_videos_fail_in_one_line_and_leave_nothing(tmp_path, media_root, make, message):
    (tmp_path / "notes.mp4").write_text("not frames at all")
    source = make(tmp_path)
    with pytest.raises(ImportFailed, match=message) as raised:
        title_import(source=source, name="bad")
    assert "\n" not in str(raised.value)
    assert nothing_stored(media_root)


def test_videos_over_the_limits_are_refused_before_reading(tmp_path, media_root, settings):
    clip = face_data("video", "street_1080p.mp4")
    settings.VIDEO_MAX_PIXELS = 1280 * 720
    with pytest.raises(ImportFailed, match="1920×1080 are over the limit"):
        title_import(source=clip, name="big")
    settings.VIDEO_MAX_PIXELS = 1920 * 1088
    settings.VIDEO_MAX_SECONDS = 3
    with pytest.raises(ImportFailed, match="4 s long, over the limit of 3 s"):
        title_import(source=clip, name="long")
    assert nothing_stored(media_root)


def test_variable_frame_rate_keeps_true_times(tmp_path, media_root, settings):
    """Frames shown at uneven times: each sampled frame keeps the time it is shown at, and
    reading a frame again by its time finds that very frame."""
    face = np.asarray(Image.open(next(face_data("lfw", "Jason_Kidd").iterdir())).convert("RGB"))
    times = [0.0, 0.04, 0.3, 0.34, 1.5, 1.54, 1.6, 2.9, 3.0, 3.04]
    shades = [face // (1 + n % 3) for n in range(len(times))]
    path = write_video(tmp_path / "vfr.mp4", shades, times=times)
    settings.VIDEO_EVERY = 1
    summary = title_import(source=path, name="uneven")
    frames = Frame.objects.filter(title_id=summary.title_id).order_by("index")
    assert [round(f.time, 3) for f in frames] == [times[f.index] for f in frames]
    assert len(frames) >= 8
    for frame in frames:
        assert np.abs(frame_pixels(frame).astype(int) - shades[frame.index]).mean() < 6


def test_rotation_metadata_is_honoured(tmp_path, media_root, settings):
    """A phone video stored on its side, with a display matrix saying to turn it a quarter
    clockwise: the faces are found upright, in the frame as shown."""
    import struct

    face = np.asarray(Image.open(next(face_data("lfw", "Jason_Kidd").iterdir())).convert("RGB"))
    height, width = face.shape[:2]
    upright = np.zeros((height + 40, width + 100, 3), np.uint8)  # wider than high
    upright[20 : 20 + height, 50 : 50 + width] = face
    sideways = np.ascontiguousarray(np.rot90(upright, 1))  # as the camera stored it
    path = write_video(tmp_path / "phone.mp4", [sideways] * 6)
    data = bytearray(path.read_bytes())
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    at = data.index(identity, data.index(b"tkhd"))
    data[at : at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))

    summary = title_import(source=path, name="phone")
    assert summary.video["rotation"] == 90
    assert summary.video["size"] == f"{width + 100}×{height + 40}"
    frame = Frame.objects.filter(title_id=summary.title_id).first()
    assert (frame.width, frame.height) == (width + 100, height + 40)
    assert np.abs(frame_pixels(frame).astype(int) - upright).mean() < 4
    box = Face.objects.filter(frame=frame).get()
    assert 50 <= box.box_x + box.box_w / 2 <= 50 + width and box.box_h > height / 3


def test_a_stream_that_breaks_off_keeps_what_decoded_before_the_break(tmp_path, media_root):
    """An MPEG-TS stream cut in half (a copy that stopped): the faces of the first half are
    imported; an MP4 cut the same way cannot be opened at all (its index is at the end)."""
    _, half = broken_off_stream(tmp_path)

    summary = title_import(source=half, name="half")
    assert 50 < summary.video["frames_read"] < 275
    times = Frame.objects.filter(title_id=summary.title_id).values_list("time", flat=True)
    assert summary.faces > 0 and max(times) < 9.2 * 0.75
