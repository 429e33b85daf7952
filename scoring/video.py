"""Reading a video once: every ``every``-th frame, upright, with its true time.

PyAV (FFmpeg in its wheel) decodes. A frame's time is its presentation timestamp, so a variable
frame rate keeps true times; a rotation in the stream's display matrix is applied, so the faces
come out upright. A stream that breaks off mid-way ends the frames there: ``Decoded.truncated``
says so and the frames before it are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np


class VideoRejected(Exception):
    """Not a video this reader can use; the message says why, in one line."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as shown, after rotation
    height: int
    seconds: float
    fps: float  # the stream's average rate; times come from each frame's timestamp
    rotation: int  # degrees, as the display matrix asks


@dataclass(frozen=True)
class SampledFrame:
    index: int  # the frame's number in decode order, from 0
    time: float  # seconds from the start, from its timestamp
    pixels: np.ndarray  # (H, W, 3) uint8 RGB, upright


@dataclass
class Decoded:
    """What a pass read: set while frames are being taken."""

    frames_read: int = 0
    truncated: bool = False
    problem: str = ""


def video_info(
    path: Path, *, max_pixels: int = 1920 * 1088, max_seconds: float = 4 * 3600
) -> VideoInfo:
    """The video's size, length and rotation, from its header and first frame; ``VideoRejected``
    for a file that is not a video (whatever its name), audio only, without frames, or over the
    limits."""
    import av

    try:
        with av.open(str(path)) as container:
            if container.format.name in STILL_FORMATS or container.format.name.endswith("_pipe"):
                raise VideoRejected("not a video: a single image")
            if not container.streams.video:
                kind = "audio only" if container.streams.audio else "no video stream"
                raise VideoRejected(f"not a video: {kind}")
            stream = container.streams.video[0]
            seconds = _seconds(container, stream)
            fps = float(stream.average_rate or 0)
            first = next(container.decode(stream), None)
    except av.error.FFmpegError as error:
        raise VideoRejected(f"not a readable video: {error.strerror or error}") from None
    if first is None:
        raise VideoRejected("the video has no frames")
    width, height, rotation = first.width, first.height, _clockwise(first)
    if width * height > max_pixels:
        raise VideoRejected(f"frames of {width}×{height} are over the limit of {max_pixels} pixels")
    if seconds > max_seconds:
        raise VideoRejected(f"{seconds:.0f} s long, over the limit of {max_seconds:.0f} s")
    if rotation % 180:
        width, height = height, width
    return VideoInfo(width, height, seconds, fps, rotation)


def sampled_frames(
    path: Path, *, every: int = 2, report: Decoded | None = None
) -> Iterator[SampledFrame]:
    """Every ``every``-th decoded frame (0, every, 2·every, …), decoded once, in order. A stream
    that breaks off ends the iteration; ``report`` (when given) counts and says why."""
    import av

    if every < 1:
        raise ValueError("every must be at least 1")
    report = report if report is not None else Decoded()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or 25)
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.error.FFmpegError as error:
                report.truncated = True
                report.problem = f"decoding stopped after {report.frames_read} frames: {error}"
                return
            index = report.frames_read
            report.frames_read += 1
            if index % every:
                continue
            pixels: np.ndarray = frame.to_ndarray(format="rgb24")
            if turns := _clockwise(frame) // 90:
                pixels = np.ascontiguousarray(np.rot90(pixels, -turns))
            time = float(frame.time) if frame.time is not None else index / rate
            yield SampledFrame(index=index, time=time, pixels=pixels)


def frame_at(video: Path | IO[bytes], time: float) -> np.ndarray:
    """The frame shown at ``time`` seconds, upright: (H, W, 3) uint8 RGB. Seeks to the key frame
    before it and decodes forward to the frame whose timestamp is nearest. ``video`` is a file,
    or a seekable binary file object (read only where the frame and the index are)."""
    import av

    with av.open(str(video) if isinstance(video, Path) else video, "r") as container:
        stream = container.streams.video[0]
        base = float(stream.time_base or 0) or 1 / 90_000
        container.seek(max(0, int(time / base)), stream=stream, backward=True)
        best, best_gap = None, float("inf")
        for frame in container.decode(stream):
            at = float(frame.time) if frame.time is not None else 0.0
            gap = abs(at - time)
            if gap > best_gap:
                break  # past it
            best, best_gap = frame, gap
            if gap < 1e-6:
                break
        if best is None:
            raise VideoRejected(f"no frame at {time:.3f} s")
        pixels: np.ndarray = best.to_ndarray(format="rgb24")
        if turns := _clockwise(best) // 90:
            pixels = np.ascontiguousarray(np.rot90(pixels, -turns))
        return pixels


# FFmpeg reads single pictures as one-frame "videos"; they are not titles.
STILL_FORMATS = {"image2", "webp_pipe", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe"}


def _seconds(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return float(container.duration or 0) / 1_000_000


def _clockwise(frame) -> int:
    """How far to turn the frame clockwise to show it upright (0, 90, 180 or 270 degrees): the
    display matrix's counter-clockwise rotation, undone."""
    return int(round(-float(getattr(frame, "rotation", 0) or 0) / 90.0)) % 4 * 90
