"""Video: one decode pass with true times, bad files refused in a line, faces linked into tracks
within shots, tracks clustered into actors with background and unassigned faces kept."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from scoring.actors import UNASSIGNED, ActorParams, cluster_tracks
from scoring.tracks import (
    Track,
    TrackedFace,
    Tracker,
    colour_signature,
    link_tracks,
    shot_numbers,
)
from scoring.video import Decoded, VideoRejected, frame_at, sampled_frames, video_info
from tests.conftest import broken_off_stream, face_data


def test_every_second_frame_is_read_once_with_its_time():
    path = face_data("video", "hamilton_short.mp4")
    info = video_info(path)
    report = Decoded()
    frames = list(sampled_frames(path, every=2, report=report))
    assert (info.width, info.height, info.rotation) == (640, 360, 0)
    assert report.frames_read == 275 and not report.truncated
    assert [f.index for f in frames] == list(range(0, 275, 2))
    times = [f.time for f in frames]
    assert times == sorted(times) and times[1] - times[0] == pytest.approx(2 / info.fps, rel=0.05)
    assert frames[0].pixels.shape == (360, 640, 3) and frames[0].pixels.dtype == np.uint8


def test_a_file_that_is_not_a_video_is_refused_in_one_line(tmp_path):
    fake = tmp_path / "movie.mp4"
    fake.write_text("these are not frames")
    with pytest.raises(VideoRejected, match="not a readable video"):
        video_info(fake)
    sound = tmp_path / "sound.mp4"
    with wave.open(str(sound), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    with pytest.raises(VideoRejected, match="audio only"):
        video_info(sound)


def test_limits_and_truncated_videos(tmp_path):
    path = face_data("video", "street_1080p.mp4")
    with pytest.raises(VideoRejected, match="over the limit"):
        video_info(path, max_pixels=1280 * 720)
    # An MP4 cut in half loses its index (at the end): refused in a line.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(VideoRejected, match="not a readable video"):
        video_info(cut)
    # A stream without an index (MPEG-TS) cut in half: what decoded before the cut is kept.
    stream, half = broken_off_stream(tmp_path)
    report = Decoded()
    frames = list(sampled_frames(half, every=1, report=report))
    assert 100 < len(frames) < 275 == len(list(sampled_frames(stream, every=1)))


def face(sample: int, x: float, y: float = 100, size: float = 80) -> TrackedFace:
    eyes = [[x + 0.3 * size, y + 0.4 * size], [x + 0.7 * size, y + 0.4 * size]]
    rest = [[x + 0.5 * size, y + 0.6 * size], [x + 0.35 * size, y + 0.8 * size]]
    landmarks = np.array([*eyes, *rest, [x + 0.65 * size, y + 0.8 * size]])
    return TrackedFace(sample, (x, y, size, size), landmarks, 0.99)


def test_faces_link_into_tracks_that_end_at_cuts_and_after_a_gap():
    samples = [
        [face(0, 100), face(0, 500)],
        [face(1, 105), face(1, 505)],
        [face(2, 110)],  # the second face missed once
        [face(3, 115), face(3, 512)],
        [face(4, 118)],  # a cut before this sample
    ]
    tracks = link_tracks(samples, shots=[0, 0, 0, 0, 1])
    assert [[f.sample for f in t.faces] for t in tracks] == [[0, 1, 2, 3], [0, 1, 3], [4]]
    assert [t.shot for t in tracks] == [0, 0, 1]


def test_the_tracker_hands_over_each_ended_track_once_as_the_video_is_read():
    tracker = Tracker()
    tracker.add(0, 0, [face(0, 100), face(0, 500)])
    tracker.add(1, 0, [face(1, 105)])
    assert tracker.finished() == []  # the second face may come back after a blink
    for sample in (2, 3, 4):
        tracker.add(sample, 0, [face(sample, 100 + 5 * sample)])
    ended = tracker.finished()
    assert [[f.sample for f in t.faces] for t in ended] == [[0]]  # missed more than max_gap
    tracker.add(5, 1, [face(5, 130)])  # a cut: the open track ends
    assert [[f.sample for f in t.faces] for t in tracker.finished()] == [[0, 1, 2, 3, 4]]
    assert tracker.finished() == []
    assert [[f.sample for f in t.faces] for t in tracker.finished(all_=True)] == [[5]]
    assert len(tracker.tracks) == 3


def test_a_frame_is_read_again_by_its_time_exactly():
    path = face_data("video", "portrait_s18_720p.mp4")
    wanted = {0, 58, 150, 270}
    seen = {f.index: f for f in sampled_frames(path, every=2) if f.index in wanted}
    assert set(seen) == wanted
    for frame in seen.values():
        assert np.array_equal(frame_at(path, frame.time), frame.pixels)


def test_a_still_image_is_not_a_video(tmp_path):
    from PIL import Image

    still = tmp_path / "still.mp4"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(still, format="PNG")
    with pytest.raises(VideoRejected, match="a single image"):
        video_info(still)


def test_a_shot_cut_is_found_where_the_colours_jump():
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 0] = 200
    blue = np.zeros((90, 160, 3), np.uint8)
    blue[..., 2] = 200
    signatures = [colour_signature(frame) for frame in (red, red, blue, blue)]
    assert shot_numbers(signatures) == [0, 0, 1, 1]


def test_tracks_cluster_into_actors_and_background_joins_only_when_close():
    rng = np.random.default_rng(0)
    people = rng.normal(size=(2, 128))
    people *= 1.5 / np.linalg.norm(people, axis=1, keepdims=True)

    def track(n: int, size: float = 80) -> Track:
        return Track(shot=0, faces=[face(i, 100, size=size) for i in range(n)])

    tracks = [track(5), track(5), track(5), track(2), track(5, size=20), track(5)]
    embeddings = [
        people[0] + rng.normal(scale=0.02, size=128),
        people[0] + rng.normal(scale=0.02, size=128),
        people[1] + rng.normal(scale=0.02, size=128),
        people[1] + rng.normal(scale=0.02, size=128),  # brief: background, close to person 1
        rng.normal(size=128) * 3,  # small and like nobody: unassigned
        None,  # nothing could be embedded: unassigned
    ]
    labels = cluster_tracks(tracks, embeddings, ActorParams())
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert labels[4] == labels[5] == UNASSIGNED
