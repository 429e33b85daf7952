"""A frame's pixels, wherever they are: the stored photo, or the title's video at the frame's time.

Video titles keep no full frames: the video is the source, and the few frames that need their
full pixels again (a headshot crop, an embedding, the review's frame view) are read from it at
their exact timestamp.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

import numpy as np
from django.conf import settings
from PIL import Image

from curation.imports.images import decode_image
from curation.media import open_ranged
from curation.models import Face, Frame
from scoring.video import frame_at

VIDEO_BUFFER = 1024**2  # what one request reads of a video in a bucket


def frame_pixels(frame: Frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB, upright."""
    if frame.image:
        with frame.image.open("rb") as handle:
            data = handle.read()
        return decode_image(data, max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS).pixels
    if frame.time is None or not frame.title.video:
        raise ValueError(f"frame {frame.pk} has neither a stored image nor a video time")
    with open_ranged(frame.title.video.name, VIDEO_BUFFER) as video:
        return frame_at(video, frame.time)


def frame_jpeg(frame: Frame, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame_pixels(frame)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def title_folder(face: Face) -> PurePosixPath:
    """The storage folder of the face's title: beside its frames, or its video."""
    if face.frame.image:
        return PurePosixPath(face.frame.image.name).parent.parent
    return PurePosixPath(face.title.video.name).parent
