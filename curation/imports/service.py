"""``title_import``: a source of cluster folders becomes a Title with frames, clusters and faces.

The work is done in two phases so that a failure never leaves a partial title: first every image
is read, decoded, stored under a fresh folder of the media storage and run through MTCNN, with no
database row written; then all rows are inserted in one transaction (by COPY on PostgreSQL).
Any failure removes the folder, and the transaction takes the rows with it.
"""

from __future__ import annotations

import secrets
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from curation.errors import first_line
from curation.imports.images import DecodedImage, ImageRejected, decode_image
from curation.imports.rows import rows_insert
from curation.imports.sources import (
    Entry,
    EntryRejected,
    Limits,
    Source,
    SourceError,
    open_source,
)
from curation.imports.video import VideoImportFailed, video_import
from curation.media import delete_under
from curation.models import Cluster, Face, Frame, Title
from curation.scoring_runs.extractors import face_detector
from scoring.detect import Choice, choose_face

Progress = Callable[[int, int, int], None]  # done, total, faces found


class ImportFailed(Exception):
    """Nothing was imported; the message says why in one line."""


@dataclass
class ImportSummary:
    title_id: int
    title: str
    source: str
    images: int = 0
    frames: int = 0
    clusters: int = 0
    faces: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    ambiguous: list[dict[str, object]] = field(default_factory=list)
    empty_clusters: list[str] = field(default_factory=list)
    video: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0
    faces_per_second: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Image:
    """A decoded and stored image waiting for its rows."""

    name: str
    cluster: str
    stored_path: str
    width: int
    height: int
    choice: Choice


def import_limits() -> Limits:
    return Limits(
        max_entries=settings.IMPORT_MAX_ZIP_ENTRIES,
        max_total_bytes=settings.IMPORT_MAX_ZIP_BYTES,
        max_file_bytes=settings.IMPORT_MAX_IMAGE_BYTES,
    )


def title_import(
    *, source: Path, name: str, progress: Progress | None = None, source_label: str = ""
) -> ImportSummary:
    """Import ``source`` as a new title called ``name``; raises ImportFailed on failure.

    ``source_label`` is what the title records as its source (default: the path)."""
    name = validate_title_name(name)
    started = time.monotonic()
    folder_name = f"{slugify(name)[:60] or 'title'}-{secrets.token_hex(4)}"
    folder = f"titles/{folder_name}"
    try:
        if is_video_source(source):
            summary = _video_import(source, name, folder, progress, source_label or str(source))
        else:
            with open_source(source, import_limits()) as opened:
                images, rejected = _read_and_detect(opened, folder, progress)
            summary = _save(
                name=name, source=source_label or str(source), images=images, rejected=rejected
            )
    except (SourceError, VideoImportFailed) as error:
        delete_under(folder)
        raise ImportFailed(str(error)) from None
    except IntegrityError as error:
        delete_under(folder)
        if Title.objects.filter(name=name).exists():
            raise ImportFailed(f"a title named {name!r} already exists") from None
        raise ImportFailed(f"database refused the import: {first_line(error)[:200]}") from None
    except BaseException:
        delete_under(folder)
        raise
    summary.seconds = round(time.monotonic() - started, 2)
    summary.faces_per_second = round(summary.faces / summary.seconds, 2) if summary.seconds else 0
    Title.objects.filter(pk=summary.title_id).update(import_summary=summary.as_dict())
    return summary


def _video_import(
    source: Path, name: str, folder: str, progress: Progress | None, label: str
) -> ImportSummary:
    """A file that is not a zip is taken for a video; one that is not says so."""
    title, report, frames = video_import(
        source=source, name=name, folder=folder, progress=progress, source_label=label
    )
    return ImportSummary(
        title_id=title.pk,
        title=name,
        source=label,
        images=int(report["samples"]),  # type: ignore[call-overload]
        frames=frames,
        clusters=title.clusters.count(),
        faces=title.faces.count(),
        video=report,
    )


def is_video_source(source: Path) -> bool:
    """Whether an import reads ``source`` as a video: any file but a zip (what is no video is
    refused by the video reader, whatever its name)."""
    return source.is_file() and source.suffix.lower() != ".zip" and not zipfile.is_zipfile(source)


def validate_title_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ImportFailed("the title name is empty")
    longest = Title._meta.get_field("name").max_length
    if longest is not None and len(name) > longest:
        raise ImportFailed("the title name is longer than 200 characters")
    if Title.objects.filter(name=name).exists():
        raise ImportFailed(f"a title named {name!r} already exists")
    return name


def _read_and_detect(
    opened: Source, folder: str, progress: Progress | None
) -> tuple[list[_Image], list[tuple[str, str]]]:
    rejected = list(opened.rejected)
    entries = opened.entries
    if not entries:
        raise SourceError("no images found: expected cluster folders holding image files")
    detector = face_detector()
    limit = settings.IMPORT_MAX_IMAGE_PIXELS
    batch_size = settings.IMPORT_BATCH_SIZE
    images: list[_Image] = []
    if progress:
        progress(0, len(entries), 0)
    for start in range(0, len(entries), batch_size):
        batch: list[tuple[Entry, DecodedImage, str]] = []
        for entry in entries[start : start + batch_size]:
            try:
                decoded = decode_image(opened.read(entry), max_pixels=limit)
            except (EntryRejected, ImageRejected) as error:
                rejected.append((entry.name, str(error)))
                continue
            stored = default_storage.save(
                f"{folder}/frames/{len(images) + len(batch):06d}{decoded.extension}",
                ContentFile(decoded.stored),
            )
            batch.append((entry, decoded, stored))
        detections = detector.detect([decoded.pixels for _, decoded, _ in batch])
        for (entry, decoded, stored), found in zip(batch, detections, strict=True):
            choice = choose_face(
                found, decoded.width, decoded.height, min_confidence=settings.IMPORT_MIN_CONFIDENCE
            )
            images.append(
                _Image(
                    entry.name,
                    entry.cluster,
                    stored,
                    decoded.width,
                    decoded.height,
                    choice,
                )
            )
        if progress:
            found = sum(1 for image in images if image.choice.detection)
            progress(min(start + batch_size, len(entries)), len(entries), found)
    if not any(image.choice.detection for image in images):
        raise SourceError(f"no face found in any of the {len(images)} readable images")
    return images, rejected


@transaction.atomic
def _save(
    *, name: str, source: str, images: list[_Image], rejected: list[tuple[str, str]]
) -> ImportSummary:
    title = Title.objects.create(name=name, source=source, status=Title.Status.IMPORTED)
    frames = rows_insert(
        [
            Frame(
                title=title,
                source_name=image.name,
                image=image.stored_path,
                width=image.width,
                height=image.height,
            )
            for image in images
        ]
    )
    labels = sorted({image.cluster for image in images if image.choice.detection})
    clusters = rows_insert([Cluster(title=title, label=label) for label in labels])
    cluster_ids = {cluster.label: cluster.pk for cluster in clusters}
    faces = []
    summary = ImportSummary(title_id=title.pk, title=name, source=source, images=len(images))
    for image, frame in zip(images, frames, strict=True):
        detection = image.choice.detection
        if detection is None:
            rejected.append((image.name, image.choice.reason))
            continue
        if image.choice.ambiguous:
            summary.ambiguous.append({"file": image.name, "faces": image.choice.comparable_faces})
        x, y, w, h = detection.box
        faces.append(
            Face(
                title=title,
                cluster_id=cluster_ids[image.cluster],
                frame=frame,
                box_x=x,
                box_y=y,
                box_w=w,
                box_h=h,
                landmarks=[
                    [round(float(px), 2), round(float(py), 2)] for px, py in detection.landmarks
                ],
                confidence=min(max(detection.confidence, 0.0), 1.0),
            )
        )
    rows_insert(faces)
    summary.frames = len(frames)
    summary.clusters = len(clusters)
    summary.faces = len(faces)
    summary.rejected = [{"file": file, "reason": reason} for file, reason in rejected]
    all_clusters = {image.cluster for image in images}
    summary.empty_clusters = sorted(all_clusters - set(labels))
    return summary
