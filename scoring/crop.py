"""The standard headshot (§6.2): a fixed-aspect box in the source frame, then resized.

Rules, in source-frame pixels (y down), with the face box from MTCNN and its landmarks:

1. centred: the face's centre is within ``centre_tolerance`` (5 %) of the crop width of the
   crop's centre line;
2. upper third to half: the chin lies between 1/3 and 1/2 of the crop height from its top;
3. hair partly visible: the top edge lies between the estimated top of the head and the face
   box's top, so it cuts through the hair;
4. shoulders: the bottom edge lies at least one face height (the box height) below the chin;
5. the box lies inside the frame (always holds; the other rules give way to it).

The chin is the box's bottom (MTCNN boxes end at the chin). The eyes sit about halfway down the
head, so the top of the head is estimated one eye-to-chin distance above the eyes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

CENTRE_TOLERANCE = 0.10  # default of ``CropParams.centre_tolerance``: an offset a person notices
_TOLERANCE = 1.0  # pixels of slack when checking rules, for rounding
_TOP_STEPS = 21  # top edges tried between the preferred one and the face box top


@dataclass(frozen=True)
class CropParams:
    """``aspect`` is width / height (3:4 by default); ``chin_at`` the preferred chin height as a
    fraction of the crop height (between 1/3 and 1/2); ``hair`` where the top edge goes between
    the face box top (0) and the estimated head top (1); ``output_size`` is (width, height);
    ``centre_tolerance`` how far, as a share of the crop width, the face's centre may lie off
    the crop's centre line before the crop no longer fits (near a frame edge)."""

    aspect: float = 3.0 / 4.0
    chin_at: float = 0.42
    hair: float = 0.5
    output_size: tuple[int, int] = (600, 800)
    centre_tolerance: float = CENTRE_TOLERANCE

    def __post_init__(self) -> None:
        if self.aspect <= 0:
            raise ValueError("aspect must be positive")
        if not 1 / 3 <= self.chin_at <= 1 / 2:
            raise ValueError("chin_at must be between 1/3 and 1/2")
        if not 0 < self.hair < 1:
            raise ValueError("hair must be strictly between 0 and 1")
        if self.centre_tolerance < 0:
            raise ValueError("centre_tolerance must not be negative")


@dataclass(frozen=True)
class HeadshotCrop:
    """The crop ``box`` (x, y, w, h) in the frame. ``fits`` unless a rule broke in a way a person
    would find wrong (the face off centre, the face or its head cut, the face lost in the
    frame), and then ``reasons`` says which and why. ``notes`` lists the compromises a person
    accepts: a tight close-up, when the frame ends too soon below the face for shoulders, is a
    good headshot still. ``head_top`` and ``chin`` are the estimates used."""

    box: tuple[float, float, float, float]
    fits: bool
    reasons: tuple[str, ...]
    head_top: float
    chin: float
    notes: tuple[str, ...] = ()


def headshot_box(
    face_box: Sequence[float],
    landmarks: np.ndarray,
    frame_size: tuple[int, int],
    params: CropParams = CropParams(),
) -> HeadshotCrop:
    """The headshot box of one face: ``face_box`` (x, y, w, h), ``landmarks`` (5, 2), and
    ``frame_size`` (width, height) of the source frame."""
    x, y, w, h = (float(v) for v in face_box)
    frame_w, frame_h = float(frame_size[0]), float(frame_size[1])
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_y = float(landmarks[:2, 1].mean())
    chin = y + h
    head_top = eye_y - (chin - eye_y)
    centre_x = x + w / 2.0
    preferred_top = y - params.hair * max(y - head_top, 0.0)
    # When no placement keeps every rule, keep the hair cut and the centring, and lose shoulders.
    top = max(preferred_top, 0.0)
    height = _height(
        top, chin, h, params, limit=max(min(frame_h - top, frame_w / params.aspect), 1.0)
    )
    # Lower the top edge towards the face (less hair) until the crop fits, centred, in the frame.
    room_wide = 2.0 * min(centre_x, frame_w - centre_x) / params.aspect
    for candidate in np.linspace(preferred_top, max(y, preferred_top), _TOP_STEPS):
        limit = min(frame_h - candidate, frame_w / params.aspect, room_wide)
        drop = chin - candidate
        if candidate >= 0 and max(2.0 * drop, drop + h) <= limit:
            top, height = float(candidate), _height(candidate, chin, h, params, limit)
            break
    width = params.aspect * height

    left = float(np.clip(centre_x - width / 2.0, 0.0, frame_w - width))
    top = float(np.clip(top, 0.0, frame_h - height))
    reasons, notes = _broken_rules(
        (left, top, width, height), centre_x, head_top, y, chin, h, params.centre_tolerance
    )
    return HeadshotCrop((left, top, width, height), not reasons, reasons, head_top, chin, notes)


def _height(top: float, chin: float, face_h: float, params: CropParams, limit: float) -> float:
    """The crop height for a top edge: the preferred chin height if the rules and ``limit`` allow,
    else the nearest allowed, else ``limit``."""
    drop = chin - top
    shortest = max(2.0 * drop, drop + face_h)  # chin in the upper half, shoulders included
    return float(min(np.clip(drop / params.chin_at, shortest, max(3.0 * drop, shortest)), limit))


def _broken_rules(
    box: tuple[float, float, float, float],
    centre_x: float,
    head_top: float,
    face_top: float,
    chin: float,
    face_h: float,
    centre_tolerance: float,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The rules the box breaks: (defects a person would see, compromises of a tight frame)."""
    left, top, width, height = box
    defects, tight = [], []
    off_centre = abs(centre_x - (left + width / 2.0))
    if off_centre > centre_tolerance * width + _TOLERANCE:
        defects.append(f"face off centre by {off_centre:.0f} px: the frame edge is too close")
    if chin - top > height / 2.0 + _TOLERANCE:
        tight.append("chin below the crop's middle: a tight close-up")
    if chin - top < height / 3.0 - _TOLERANCE:
        defects.append("chin above the crop's upper third: the face is small in the headshot")
    if top > face_top + _TOLERANCE:
        defects.append("top edge cuts the face: the face is at the frame's top")
    if top < head_top - _TOLERANCE:
        defects.append("top edge above the head: empty space over the head")
    if top + height - chin < face_h - _TOLERANCE:
        tight.append("less than a face height below the chin: no shoulders")
    return tuple(defects), tuple(tight)


def render_headshot(
    image: np.ndarray, crop: HeadshotCrop, params: CropParams = CropParams()
) -> np.ndarray:
    """The crop of ``image`` (H, W, C) resized to ``params.output_size``; (out_h, out_w, C)."""
    left, top, width, height = crop.box
    x0, y0 = int(round(left)), int(round(top))
    x1 = max(min(int(round(left + width)), image.shape[1]), x0 + 1)
    y1 = max(min(int(round(top + height)), image.shape[0]), y0 + 1)
    region = image[y0:y1, x0:x1]
    shrinking = region.shape[1] > params.output_size[0]
    return cv2.resize(
        region, params.output_size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    )
