"""One pass over a video: from its file to faces with features, tracks and actors.

Each sampled frame is decoded once, on a thread of its own so that decoding overlaps detection.
Frames are detected in batches (MTCNN on torch's device). While a frame is in memory its faces'
features are measured, the frame's shot signature taken, its faces linked into tracks, and the
aligned chips kept of the few faces per track worth embedding (``actors.embed_priority``); a
track's chips are embedded as soon as the track ends, so memory holds only open tracks' chips.
``on_frame`` gets each frame with faces while its pixels are still there (to store face crops).
Once the video ends, tracks are clustered into actors.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scoring.actors import UNASSIGNED, ActorParams, cluster_tracks, embed_priority, is_background
from scoring.features import FEATURE_NAMES
from scoring.tracks import Track, TrackedFace, Tracker, TrackParams, colour_signature, is_cut
from scoring.video import Decoded, SampledFrame, VideoInfo, sampled_frames

# ``identity`` needs the face's cluster: it is measured once the clusters are known.
MEASURED = tuple(name for name in FEATURE_NAMES if name != "identity")


@dataclass(frozen=True)
class VideoParams:
    """``every``: the sampling of frames; ``min_confidence``: the least detector confidence of
    a face kept; ``batch``: frames detected at once."""

    every: int = 2
    min_confidence: float = 0.9
    batch: int = 16
    tracks: TrackParams = TrackParams()
    actors: ActorParams = ActorParams()


@dataclass
class VideoFace:
    frame: int  # position in ``VideoFaces.frames``
    box: tuple[float, float, float, float]
    landmarks: np.ndarray  # (5, 2)
    confidence: float
    features: dict[str, float]
    track: int = -1  # position in ``VideoFaces.tracks``


@dataclass(frozen=True)
class VideoFrame:
    index: int  # frame number in the video
    time: float  # seconds


@dataclass
class VideoTrack:
    shot: int
    start: float  # seconds
    end: float
    background: bool
    actor: int  # 0, 1, … or ``UNASSIGNED``


@dataclass
class VideoFaces:
    """What the pass found. Only frames with faces are listed; ``samples`` counts all."""

    info: VideoInfo
    decoded: Decoded
    frames: list[VideoFrame] = field(default_factory=list)
    faces: list[VideoFace] = field(default_factory=list)
    tracks: list[VideoTrack] = field(default_factory=list)
    samples: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def actors(self) -> int:
        return len({t.actor for t in self.tracks} - {UNASSIGNED})


OnFrame = Callable[[SampledFrame, list[tuple[int, "VideoFace"]]], None]  # (position, face)s
Progress = Callable[[int, int, int], None]  # samples done, samples expected, faces found


class _Chips:
    """The aligned chips of each open track's best faces, at most ``per_track`` each."""

    def __init__(self, per_track: int) -> None:
        self.per_track = per_track
        self._best: dict[int, list[tuple[float, int, np.ndarray]]] = defaultdict(list)
        self._order = 0

    def wants(self, track: Track, priority: float) -> bool:
        best = self._best.get(id(track), [])
        return len(best) < self.per_track or priority > best[0][0]

    def keep(self, track: Track, priority: float, chip: np.ndarray) -> None:
        best = self._best[id(track)]
        self._order += 1
        item = (priority, self._order, chip)
        if len(best) < self.per_track:
            heapq.heappush(best, item)
        else:
            heapq.heappushpop(best, item)

    def take(self, track: Track) -> list[np.ndarray]:
        return [chip for _, _, chip in self._best.pop(id(track), [])]


def video_faces(
    path: Path,
    info: VideoInfo,
    *,
    detector,
    extractor,
    embedder,
    params: VideoParams = VideoParams(),
    on_frame: OnFrame | None = None,
    progress: Progress | None = None,
) -> VideoFaces:
    """Read ``path`` once and return its faces, tracks and actors. ``detector``,
    ``extractor`` and ``embedder`` are a ``FaceDetector``, ``FeatureExtractor`` and
    ``DlibFaceEmbedder``."""
    result = VideoFaces(info=info, decoded=Decoded())
    expected = max(1, int(info.seconds * (info.fps or 25) / params.every))
    tracker = Tracker(params.tracks)
    chips = _Chips(params.actors.per_track)
    track_of: dict[int, list[int]] = {}  # id(track) -> face positions
    embeddings: dict[int, np.ndarray | None] = {}
    previous_signature: np.ndarray | None = None
    shot = 0

    def embed_finished(tracks: list[Track]) -> None:
        started = time.perf_counter()
        taken = [(track, chips.take(track)) for track in tracks]
        stacked = [chip for _, kept in taken for chip in kept]
        vectors = embedder.embed_chips(np.stack(stacked)) if stacked else np.empty((0, 128))
        at = 0
        for track, kept in taken:
            embeddings[id(track)] = vectors[at : at + len(kept)].mean(axis=0) if kept else None
            at += len(kept)
        result.seconds["embed"] += time.perf_counter() - started

    for batch in _batches(path, params, result):
        started = time.perf_counter()
        found = detector.detect([frame.pixels for frame in batch])
        result.seconds["detect"] += time.perf_counter() - started
        for frame, detections in zip(batch, found, strict=True):
            sample = result.samples
            result.samples += 1
            started = time.perf_counter()
            signature = colour_signature(frame.pixels)
            if previous_signature is not None and is_cut(
                previous_signature, signature, params.tracks
            ):
                shot += 1
            previous_signature = signature
            kept = [d for d in detections if d.confidence >= params.min_confidence]
            # Landmarks at 0.01 px, as they are stored: features measured now, or again later
            # from the stored face, must agree.
            faces = [
                TrackedFace(
                    sample, d.box, np.round(np.asarray(d.landmarks, np.float64), 2), d.confidence
                )
                for d in kept
            ]
            tracks = tracker.add(sample, shot, faces)
            result.seconds["track"] += time.perf_counter() - started
            if not faces:
                continue
            started = time.perf_counter()
            boxes = np.array([f.box for f in faces], dtype=np.float64)
            landmarks = np.array([f.landmarks for f in faces], dtype=np.float64)
            table = extractor.extract(frame.pixels, boxes, landmarks)
            result.seconds["features"] += time.perf_counter() - started
            started = time.perf_counter()
            wanted = []
            for position, (face, track) in enumerate(zip(faces, tracks, strict=True)):
                priority = embed_priority(face, params.actors)
                if priority is not None and chips.wants(track, priority):
                    wanted.append((position, track, priority))
            if wanted:
                aligned = embedder.chips(frame.pixels, boxes[[w[0] for w in wanted]])
                for (_, track, priority), chip in zip(wanted, aligned, strict=True):
                    chips.keep(track, priority, chip)
            result.seconds["align"] += time.perf_counter() - started
            frame_at = len(result.frames)
            result.frames.append(VideoFrame(frame.index, frame.time))
            found_here: list[tuple[int, VideoFace]] = []
            for face, track, row in zip(faces, tracks, range(len(faces)), strict=True):
                track_of.setdefault(id(track), []).append(len(result.faces))
                video_face = VideoFace(
                    frame=frame_at,
                    box=(face.box[0], face.box[1], face.box[2], face.box[3]),
                    landmarks=face.landmarks,
                    confidence=face.confidence,
                    features={name: float(table.column(name)[row]) for name in MEASURED},
                )
                found_here.append((len(result.faces), video_face))
                result.faces.append(video_face)
            if on_frame is not None:
                started = time.perf_counter()
                on_frame(frame, found_here)
                result.seconds["store"] += time.perf_counter() - started
        embed_finished(tracker.finished())
        if progress is not None:
            progress(result.samples, max(expected, result.samples), len(result.faces))
    embed_finished(tracker.finished(all_=True))

    started = time.perf_counter()
    labels = cluster_tracks(
        tracker.tracks, [embeddings.get(id(t)) for t in tracker.tracks], params.actors
    )
    for number, (track, label) in enumerate(zip(tracker.tracks, labels, strict=True)):
        faces_here = track_of[id(track)]
        for position in faces_here:
            result.faces[position].track = number
        result.tracks.append(
            VideoTrack(
                shot=track.shot,
                start=result.frames[result.faces[faces_here[0]].frame].time,
                end=result.frames[result.faces[faces_here[-1]].frame].time,
                background=is_background(track, params.actors),
                actor=label,
            )
        )
    result.seconds["cluster"] += time.perf_counter() - started
    return result


def _batches(path: Path, params: VideoParams, result: VideoFaces) -> Iterator[list[SampledFrame]]:
    """Batches of sampled frames, decoded ahead on a thread (FFmpeg decodes without the GIL)."""
    ready: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def decode() -> None:
        batch: list[SampledFrame] = []
        try:
            started = time.perf_counter()
            for frame in sampled_frames(path, every=params.every, report=result.decoded):
                batch.append(frame)
                if len(batch) == params.batch:
                    result.seconds["decode"] += time.perf_counter() - started
                    _put(ready, batch, stop)
                    batch = []
                    started = time.perf_counter()
                if stop.is_set():
                    return
            result.seconds["decode"] += time.perf_counter() - started
            if batch:
                _put(ready, batch, stop)
        except BaseException as error:  # handed to the reader, raised there
            _put(ready, error, stop)
        finally:
            _put(ready, done, stop)

    reader = threading.Thread(target=decode, name="video-decode", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=10)


def _put(ready: queue.Queue, item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
