"""Media through the storage API, wherever the storage keeps it: ``MEDIA_ROOT`` on this machine's
disk (the default) or an S3-compatible bucket (``MEDIA_BUCKET``).

Reads and writes go through ``default_storage``. What reads parts of a large file (a frame of a
video, a thumbnail of a pack) opens it with ``open_ranged``: a bucket's object is then read by
HTTP ranges, where the storage's own file objects download a whole object on first read. The
libraries that need a file on disk (joblib loading a model, a zip read by the import) get one from
``local_path``: the stored file itself on a file system, a temporary copy otherwise.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, cast

from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from storages.utils import clean_name


def _disk_path(name: str) -> Path | None:
    """The stored file's path on this machine, or None when the storage keeps no local files."""
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        return None


@contextmanager
def local_path(name: str) -> Iterator[Path]:
    """The stored file ``name`` as a file on disk, for as long as the block runs: the file itself
    on a file system, else a copy downloaded (in parts) into a temporary folder and removed
    afterwards."""
    path = _disk_path(name)
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="media-") as folder:
        copy = Path(folder) / PurePosixPath(name).name
        _object(name).download_file(str(copy))
        yield copy


def _object(name: str):
    """The bucket's object of the stored file ``name``."""
    storage = default_storage
    return storage.bucket.Object(storage._normalize_name(clean_name(name)))  # type: ignore[attr-defined]


class _RangedObject(io.RawIOBase):
    """A bucket's object as a seekable file: each read is one ranged request for what it asks
    (and nothing else: its size is asked for only when a seek counts from the end)."""

    def __init__(self, obj) -> None:
        self._obj = obj
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._at = max(0, offset)
        elif whence == io.SEEK_CUR:
            self._at = max(0, self._at + offset)
        else:
            self._at = max(0, self._obj.content_length + offset)
        return self._at

    def readinto(self, buffer) -> int:
        if not len(buffer):
            return 0
        try:
            got = self._obj.get(Range=f"bytes={self._at}-{self._at + len(buffer) - 1}")
        except ClientError as error:
            if error.response["Error"]["Code"] == "InvalidRange":  # at or past the end
                return 0
            raise
        data = got["Body"].read()
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def open_ranged(name: str, buffer_size: int = 0) -> IO[bytes]:
    """The stored file, to seek in and read parts of; from a bucket, by HTTP ranges, through a
    buffer of ``buffer_size`` bytes (0: each read is one request)."""
    if _disk_path(name) is not None:
        return default_storage.open(name, "rb")
    ranged = _RangedObject(_object(name))
    return cast(IO[bytes], io.BufferedReader(ranged, buffer_size) if buffer_size else ranged)


def file_stamp(name: str) -> tuple[int, datetime]:
    """The stored file's size and last change: what tells two versions of a name apart, to key
    caches of what was computed from it."""
    return default_storage.size(name), default_storage.get_modified_time(name)


def replace(name: str, data: bytes) -> None:
    """Store ``data`` as ``name`` in place of what was there, so that a reader sees the old or the
    new content whole, never half of one: on disk written aside and renamed, in a bucket one
    upload (an object is replaced when its upload completes)."""
    path = _disk_path(name)
    if path is None:
        with default_storage.open(name, "wb") as out:
            out.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_suffix(f".{os.getpid()}.tmp")
    aside.write_bytes(data)
    os.replace(aside, path)


def delete_under(folder: str) -> None:
    """Delete every stored file under ``folder`` (a failed import's)."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for file in files:
        default_storage.delete(f"{folder}/{file}")
    for inner in folders:
        delete_under(f"{folder}/{inner}")
