"""Face thumbnails: the face with a margin around its box, made once per size and stored.

A face's box never changes after import, so its thumbnail is made from the frame the first time
it is asked for and read from storage after that: lists of faces do not decode full frames.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse
from PIL import Image

from curation.models import Face

MARGIN = 0.25  # of the box's width and height, on each side
SIZES = (160, 320, 600)


def thumbnail_name(face: Face, size: int) -> str:
    """Beside the title's frames: ``<title folder>/thumbnails/face-<id>-<size>.jpg``."""
    folder = PurePosixPath(face.frame.image.name).parent.parent
    return str(folder / "thumbnails" / f"face-{face.pk}-{size}.jpg")


def thumbnail_make(face: Face, size: int) -> bytes:
    with face.frame.image.open("rb") as handle, Image.open(handle) as opened:
        image = opened.convert("RGB")
        margin_w, margin_h = face.box_w * MARGIN, face.box_h * MARGIN
        crop = image.crop(
            (
                max(0, int(face.box_x - margin_w)),
                max(0, int(face.box_y - margin_h)),
                min(image.width, int(face.box_x + face.box_w + margin_w)),
                min(image.height, int(face.box_y + face.box_h + margin_h)),
            )
        )
    crop.thumbnail((size, size))
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def face_crop_response(face: Face, size: int = SIZES[0]) -> FileResponse:
    """The face's thumbnail of ``size`` (one of ``SIZES``) as a JPEG response."""
    if size not in SIZES:
        raise ValueError(f"thumbnail size {size} is not one of {SIZES}")
    name = thumbnail_name(face, size)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(thumbnail_make(face, size)))
        if saved != name:  # another request made it an instant before: keep one file
            default_storage.delete(saved)
    return FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
