"""Face thumbnails: the face with a margin around its box, made once per size and stored.

A face's box never changes after import, so its thumbnail is made from the frame the first time
it is asked for and read from storage after that: lists of faces do not decode full frames. A
video title's smallest thumbnails were packed by its import, while each frame was decoded.
"""

from __future__ import annotations

import io

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from PIL import Image

from curation.catalog.frames import frame_pixels, title_folder
from curation.media import open_ranged
from curation.models import Face

MARGIN = 0.25  # of the box's width and height, on each side
SIZES = (160, 320, 600)


def thumbnail_name(face: Face, size: int) -> str:
    """Beside the title's frames or video: ``<title folder>/thumbnails/face-<id>-<size>.jpg``."""
    return str(title_folder(face) / "thumbnails" / f"face-{face.pk}-{size}.jpg")


def thumbnail_jpeg(pixels: np.ndarray, box: tuple[float, float, float, float], size: int) -> bytes:
    """The face of ``box`` in the RGB ``pixels``, with its margin, at most ``size`` square."""
    x, y, w, h = box
    height, width = pixels.shape[:2]
    margin_w, margin_h = w * MARGIN, h * MARGIN
    crop = Image.fromarray(
        pixels[
            max(0, int(y - margin_h)) : min(height, int(y + h + margin_h)),
            max(0, int(x - margin_w)) : min(width, int(x + w + margin_w)),
        ]
    )
    crop.thumbnail((size, size))
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def packed_thumbnail(place: str) -> bytes:
    """The bytes at ``name:offset:length`` of a thumbnail pack (a video title's)."""
    name, offset, length = place.rsplit(":", 2)
    with open_ranged(name) as pack:
        pack.seek(int(offset))
        return pack.read(int(length))


def face_crop_response(face: Face, size: int = SIZES[0]) -> HttpResponseBase:
    """The face's thumbnail of ``size`` (one of ``SIZES``) as a JPEG response."""
    if size not in SIZES:
        raise ValueError(f"thumbnail size {size} is not one of {SIZES}")
    if size == SIZES[0] and face.thumbnail:
        return HttpResponse(packed_thumbnail(face.thumbnail), content_type="image/jpeg")
    name = thumbnail_name(face, size)
    if not default_storage.exists(name):
        saved = default_storage.save(
            name, ContentFile(thumbnail_jpeg(frame_pixels(face.frame), face.box, size))
        )
        if saved != name:  # another request made it an instant before: keep one file
            default_storage.delete(saved)
    return FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")


# The long side, in pixels, that a degraded gold picture is shrunk to: a headshot's face is then
# about five pixels wide. dlib's identity model puts every such copy of an LFW face beyond its
# same-person distance (0.6) from the original; at 24 px some stayed within it.
DEGRADED_SIDE = 12


def degraded_jpeg(data: bytes) -> bytes:
    """The picture shrunk to ``DEGRADED_SIDE`` pixels and blown up again: the strong, known
    degradation of a gold item, whose right grade is "unidentifiable"."""
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
        size = image.size
        scale = DEGRADED_SIDE / max(size)
        small = image.resize(
            (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), Image.Resampling.BOX
        )
        out = io.BytesIO()
        small.resize(size, Image.Resampling.BILINEAR).save(out, "JPEG", quality=90)
    return out.getvalue()


def response_bytes(response: HttpResponseBase) -> bytes:
    """The body of a picture response, streamed or not."""
    if isinstance(response, FileResponse):
        return b"".join(response.streaming_content)  # type: ignore[arg-type]
    return response.content  # type: ignore[attr-defined]
