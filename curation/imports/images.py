"""Decoding untrusted image bytes into RGB arrays, with a one-line reason for every refusal."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF"}
# Formats whose original bytes can be kept as they are when nothing had to be converted.
KEPT_FORMATS = {"JPEG": ".jpg", "PNG": ".png"}


class ImageRejected(Exception):
    """The bytes are not an image this app accepts; the message says why in one line."""


@dataclass(frozen=True)
class DecodedImage:
    """``pixels``: (H, W, 3) uint8 RGB, upright. ``stored`` and ``extension``: the bytes to keep,
    which decode to exactly these pixels (the original file when possible, else a PNG)."""

    pixels: np.ndarray
    stored: bytes
    extension: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def decode_image(data: bytes, *, max_pixels: int) -> DecodedImage:
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if signature := _signature(data):
            raise ImageRejected(f"corrupt {signature} image (unreadable header)") from None
        raise ImageRejected("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("image has too many pixels (decompression bomb)") from None
    except Exception as error:  # Pillow raises many types on hostile headers
        raise ImageRejected(f"corrupt image header: {_one_line(error)}") from None

    if image.format not in ALLOWED_FORMATS:
        raise ImageRejected(
            f"unsupported image format {image.format}; "
            f"use one of {', '.join(sorted(ALLOWED_FORMATS))}"
        )
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"image is {width}x{height} = {width * height} pixels, over the "
            f"limit of {max_pixels} (decompression bomb?)"
        )
    try:
        image.load()
    except Exception as error:
        raise ImageRejected(f"truncated or corrupt image: {_one_line(error)}") from None

    source_format = image.format
    rotated = _orientation(image) > 1
    pixels = _to_rgb(ImageOps.exif_transpose(image) if rotated else image)
    if source_format in KEPT_FORMATS and not rotated and image.mode in {"RGB", "L"}:
        return DecodedImage(pixels, data, KEPT_FORMATS[source_format])
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return DecodedImage(pixels, buffer.getvalue(), ".png")


def _signature(data: bytes) -> str | None:
    """The image format that the first bytes claim, if any."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    return None


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:
        return 1


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any mode to 8-bit RGB: 16-bit and float scaled down, CMYK converted, alpha on white."""
    mode = image.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode == "P":
        image = image.convert("RGB")
    if image.mode in {"RGBA", "LA", "RGBa", "La", "PA"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]
