"""A video file becomes a title: its faces, tracks and actor clusters, from one decode pass.

Like a folder import, it works in two phases so that a failure leaves no partial title: the
video is read once, packing a small thumbnail per face while its frame is decoded, and stored
with its packs under a fresh folder of the media storage (it stays the title's source); then
every row is inserted in one transaction. Full frames are not stored: the few that need their
pixels again are read from the video at their time (``catalog.frames``).

A video that breaks off mid-way keeps the faces of what decoded; the report says where it
stopped.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from curation.catalog.thumbnails import SIZES, thumbnail_jpeg
from curation.imports.rows import rows_insert
from curation.models import Cluster, Face, Frame, Title, Track
from curation.scoring_runs.extractors import face_detector, face_embedder, feature_extractor
from scoring.actors import UNASSIGNED
from scoring.video import SampledFrame, VideoInfo, VideoRejected, video_info
from scoring.video_faces import VideoFace, VideoFaces, VideoParams, video_faces

THUMBNAIL = SIZES[0]  # the size lists show; larger ones are made from the video when asked
PACK_FACES = 5000
UNASSIGNED_LABEL = "unassigned"


class VideoImportFailed(Exception):
    """Nothing was imported; the message says why in one line."""


def video_check(path: Path, *, name: str = "") -> VideoInfo:
    """The video's header, or ``VideoImportFailed`` when it is no video or over a limit;
    ``name`` is what messages call it (default: its file name)."""
    name = name or path.name
    size = path.stat().st_size
    if size > settings.VIDEO_MAX_BYTES:
        raise VideoImportFailed(
            f"{name} is {size} bytes, over the limit of {settings.VIDEO_MAX_BYTES}"
        )
    try:
        return video_info(
            path, max_pixels=settings.VIDEO_MAX_PIXELS, max_seconds=settings.VIDEO_MAX_SECONDS
        )
    except VideoRejected as error:
        if str(error).startswith("not a readable video"):
            raise VideoImportFailed(
                f"{name} is neither a video nor a .zip of cluster folders ({error})"
            ) from None
        raise VideoImportFailed(f"{name}: {error}") from None


class ThumbnailPacks:
    """The faces' thumbnails, appended to pack files of ``PACK_FACES`` each: tens of thousands
    of 5 KB files would waste most of a disk block (or a request) each, and slow every copy and
    backup. A pack is written in ``scratch`` and stored into ``folder`` of the media when full."""

    def __init__(self, folder: str, scratch: Path) -> None:
        self.folder, self.scratch = folder, scratch
        self.stored_bytes = 0
        self._places: dict[int, tuple[int, int, int]] = {}  # face position -> pack, offset, length
        self._names: list[str] = []  # the stored packs
        self._handle: BinaryIO | None = None
        self._count = 0

    def add(self, position: int, jpeg: bytes) -> None:
        handle = self._handle
        if handle is None or self._count % PACK_FACES == 0:
            self.close()
            path = self.scratch / f"thumbnails-{self._count // PACK_FACES:04d}.pack"
            handle = self._handle = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._places[position] = (len(self._names), handle.tell(), len(jpeg))
        handle.write(jpeg)
        self._count += 1

    def close(self) -> None:
        """Store the pack being written, if any."""
        if self._handle is None:
            return
        self._handle.close()
        path = Path(self._handle.name)
        self._handle = None
        self.stored_bytes += path.stat().st_size
        with open(path, "rb") as pack:
            self._names.append(default_storage.save(f"{self.folder}/{path.name}", File(pack)))
        path.unlink()

    @property
    def places(self) -> dict[int, str]:
        """Where each face's thumbnail lies, by face position: ``name:offset:length``."""
        return {
            position: f"{self._names[pack]}:{offset}:{length}"
            for position, (pack, offset, length) in self._places.items()
        }


def video_read(
    source: Path, info: VideoInfo, folder: str, progress
) -> tuple[VideoFaces, ThumbnailPacks]:
    """Read the video once, packing a thumbnail per face into ``folder``; returns what was found
    and the packs."""
    params = VideoParams(
        every=settings.VIDEO_EVERY,
        min_confidence=settings.IMPORT_MIN_CONFIDENCE,
        batch=settings.VIDEO_BATCH_SIZE,
    )
    with tempfile.TemporaryDirectory(prefix="packs-") as scratch:
        packs = ThumbnailPacks(folder, Path(scratch))

        def on_frame(frame: SampledFrame, faces: list[tuple[int, VideoFace]]) -> None:
            for position, face in faces:
                packs.add(position, thumbnail_jpeg(frame.pixels, face.box, THUMBNAIL))

        try:
            found = video_faces(
                source,
                info,
                detector=face_detector(),
                extractor=feature_extractor(),
                embedder=face_embedder(),
                params=params,
                on_frame=on_frame,
                progress=progress,
            )
        finally:
            packs.close()
    if found.decoded.frames_read == 0:
        raise VideoImportFailed(f"{source.name}: no frame could be decoded")
    if not found.faces:
        raise VideoImportFailed(
            f"{source.name}: no face found in its {found.samples} sampled frames"
        )
    return found, packs


@transaction.atomic
def video_save(
    *,
    name: str,
    source: str,
    found: VideoFaces,
    video: str,
    thumbnails: dict[int, str],
    stored_bytes: int,
) -> tuple[Title, dict[str, object]]:
    """Insert the title's rows; returns the title and the video part of the report. ``video``
    is the stored video's name, ``thumbnails`` each face's packed thumbnail and ``stored_bytes``
    what the packs take."""
    info = found.info
    title = Title.objects.create(
        name=name,
        source=source,
        status=Title.Status.IMPORTED,
        video=video,
        seconds=round(info.seconds, 3),
    )
    frames = rows_insert(
        [
            Frame(
                title=title,
                index=frame.index,
                time=round(frame.time, 4),
                source_name=f"frame {frame.index}",
                width=info.width,
                height=info.height,
            )
            for frame in found.frames
        ]
    )
    tracks = rows_insert(
        [
            Track(
                title=title,
                number=number,
                shot=track.shot,
                background=track.background,
                start=round(track.start, 4),
                end=round(track.end, 4),
            )
            for number, track in enumerate(found.tracks, start=1)
        ]
    )
    # Actors are numbered by how many faces they have, most first.
    sizes: dict[int, int] = {}
    for face in found.faces:
        actor = found.tracks[face.track].actor
        sizes[actor] = sizes.get(actor, 0) + 1
    actors = sorted((a for a in sizes if a != UNASSIGNED), key=lambda a: (-sizes[a], a))
    clusters = {
        actor: Cluster(title=title, label=f"actor {number}")
        for number, actor in enumerate(actors, start=1)
    }
    if UNASSIGNED in sizes:
        clusters[UNASSIGNED] = Cluster(
            title=title, label=UNASSIGNED_LABEL, role=Cluster.Role.UNASSIGNED
        )
    rows_insert(list(clusters.values()))
    version = feature_extractor().version
    faces: list[Face] = []
    for position, face in enumerate(found.faces):
        track = found.tracks[face.track]
        x, y, w, h = face.box
        measured: dict[str, float | None] = {
            feature: (value if math.isfinite(value) else None)
            for feature, value in face.features.items()
        }
        if (sharpness := measured.get("sharpness")) is not None:
            measured["sharpness"] = min(max(sharpness, 0.0), 1.0)
        faces.append(
            Face(
                title=title,
                cluster=clusters[track.actor],
                frame=frames[face.frame],
                track=tracks[face.track],
                background=track.background,
                box_x=max(0.0, x),
                box_y=max(0.0, y),
                box_w=min(w, info.width - max(0.0, x)),
                box_h=min(h, info.height - max(0.0, y)),
                landmarks=[[round(float(px), 2), round(float(py), 2)] for px, py in face.landmarks],
                confidence=min(max(face.confidence, 0.0), 1.0),
                feature_version=version,
                thumbnail=thumbnails[position],
                **measured,
            )
        )
    rows_insert(faces)
    report = {
        "seconds": round(info.seconds, 2),
        "size": f"{info.width}×{info.height}",
        "fps": round(info.fps, 3),
        "rotation": info.rotation,
        "every": settings.VIDEO_EVERY,
        "frames_read": found.decoded.frames_read,
        "samples": found.samples,
        "truncated": found.decoded.truncated,
        "problem": found.decoded.problem,
        "tracks": len(found.tracks),
        "background_tracks": sum(t.background for t in found.tracks),
        "actors": len(actors),
        "unassigned_faces": sizes.get(UNASSIGNED, 0),
        "stage_seconds": {k: round(v, 2) for k, v in found.seconds.items()},
        "stored_bytes": stored_bytes,
    }
    return title, report


def video_import(
    *, source: Path, name: str, folder: str, progress, source_label: str
) -> tuple[Title, dict[str, object], int]:
    """Read, store the video into ``folder`` (a storage name) and save; returns the title, the
    video report and the frames stored."""
    started = time.monotonic()
    info = video_check(source)
    found, packs = video_read(source, info, folder, progress)
    with open(source, "rb") as video:
        stored = default_storage.save(
            f"{folder}/video{source.suffix.lower() or '.video'}", File(video)
        )
    title, report = video_save(
        name=name,
        source=source_label,
        found=found,
        video=stored,
        thumbnails=packs.places,
        stored_bytes=packs.stored_bytes,
    )
    seconds = time.monotonic() - started
    report["sampled_per_second"] = round(found.samples / seconds, 2) if seconds else 0.0
    return title, report, len(found.frames)
