"""Listing the images of an import source — a folder of cluster folders, or a zip of one — safely.

Nothing is extracted: zip members are read into memory one at a time, with their size capped, so
no name inside an archive can ever become a path on disk. Every entry that is not taken is
reported with a reason.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from curation.models import Cluster

ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".jar"}
ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x28\xb5\x2f\xfd",
)
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


class SourceError(Exception):
    """The source as a whole cannot be imported; the message says why in one line."""


@dataclass(frozen=True)
class Limits:
    max_entries: int
    max_total_bytes: int
    max_file_bytes: int


@dataclass(frozen=True)
class Entry:
    """One candidate image: ``name`` is its path inside the source, ``cluster`` its folder."""

    name: str
    cluster: str
    size: int


@dataclass
class Source:
    """``read(entry)`` gives an entry's bytes, or raises EntryRejected; ``rejected`` holds
    (name, reason) for every entry that was not taken."""

    description: str
    read: Callable[[Entry], bytes]
    entries: list[Entry] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


class EntryRejected(Exception):
    pass


@contextmanager
def open_source(path: Path, limits: Limits) -> Iterator[Source]:
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    if path.is_dir():
        yield _folder_source(path, limits)
    elif path.is_file() and zipfile.is_zipfile(path):
        with _zip_source(path, limits) as source:
            yield source
    elif path.suffix.lower() == ".zip":
        raise SourceError(f"{path.name} is not a valid zip file")
    else:
        raise SourceError(f"{path.name} is neither a folder of cluster folders nor a .zip of one")


def _place(parts: tuple[str, ...]) -> str | None:
    """The reason a path cannot be a cluster image, or None when it can."""
    if len(parts) < 2:
        return "not inside a cluster folder"
    if any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return "hidden file or folder"
    if PurePosixPath(parts[-1]).suffix.lower() in ARCHIVE_SUFFIXES:
        return "nested archive (archives inside the source are not opened)"
    longest = Cluster._meta.get_field("label").max_length
    if longest is not None and len(parts[0]) > longest:
        return f"cluster folder name longer than {longest} characters"
    return None


def _check_counts(count: int, total: int, limits: Limits) -> None:
    if count > limits.max_entries:
        raise SourceError(f"source has {count} entries, over the limit of {limits.max_entries}")
    if total > limits.max_total_bytes:
        raise SourceError(
            f"source holds {total} bytes uncompressed, over the limit of {limits.max_total_bytes}"
        )


def _check_content(data: bytes, limits: Limits) -> bytes:
    if len(data) > limits.max_file_bytes:
        raise EntryRejected(f"file is over the limit of {limits.max_file_bytes} bytes")
    if data.startswith(ARCHIVE_MAGIC):
        raise EntryRejected("nested archive (archives inside the source are not opened)")
    return data


def _folder_source(root: Path, limits: Limits) -> Source:
    rejected: list[tuple[str, str]] = []
    found: list[tuple[tuple[str, ...], int]] = []
    total = 0
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(directory)
        for dirname in list(dirnames):
            if (here / dirname).is_symlink():
                dirnames.remove(dirname)
                rejected.append((_rel(here / dirname, root), "symbolic link (not followed)"))
        dirnames.sort()
        for filename in sorted(filenames):
            if filename in IGNORED_NAMES:
                continue
            full = here / filename
            parts = full.relative_to(root).parts
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                rejected.append((_rel(full, root), "symbolic link (not followed)"))
            elif not stat.S_ISREG(info.st_mode):
                rejected.append((_rel(full, root), "not a regular file"))
            elif reason := _place(parts):
                rejected.append((_rel(full, root), reason))
            else:
                found.append((parts, info.st_size))
                total += info.st_size
    _check_counts(len(found), total, limits)

    def read(entry: Entry) -> bytes:
        if entry.size > limits.max_file_bytes:
            raise EntryRejected(f"file is over the limit of {limits.max_file_bytes} bytes")
        with open(root / entry.name, "rb") as handle:
            return _check_content(handle.read(limits.max_file_bytes + 1), limits)

    entries = [Entry("/".join(parts), parts[0], size) for parts, size in found]
    return Source(str(root), read, entries, rejected)


@contextmanager
def _zip_source(path: Path, limits: Limits) -> Iterator[Source]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(f"{path.name} is not a valid zip file: {error}") from None
    with archive:
        infos = archive.infolist()
        _check_counts(len(infos), sum(info.file_size for info in infos), limits)
        rejected: list[tuple[str, str]] = []
        entries: list[Entry] = []
        accepted: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        for info in infos:
            if info.is_dir():
                continue
            reason, parts = _zip_member_problem(info)
            if reason:
                rejected.append((info.filename, reason))
            else:
                accepted.append((info, parts))

        # A zip of one top folder holding the cluster folders: the clusters are one level down.
        tops = {parts[0] for _, parts in accepted}
        strip = 1 if len(tops) == 1 and all(len(parts) >= 3 for _, parts in accepted) else 0
        members: dict[str, zipfile.ZipInfo] = {}
        for info, parts in accepted:
            inner = parts[strip:]
            if reason := _place(inner):
                rejected.append((info.filename, reason))
                continue
            if PurePosixPath(inner[-1]).name in IGNORED_NAMES:
                continue
            entry = Entry(info.filename, inner[0], info.file_size)
            members[entry.name] = info
            entries.append(entry)

        def read(entry: Entry) -> bytes:
            if entry.size > limits.max_file_bytes:
                raise EntryRejected(f"file is over the limit of {limits.max_file_bytes} bytes")
            try:
                with archive.open(members[entry.name]) as handle:
                    # Read one byte past the limit: a member may lie about its size.
                    data = handle.read(limits.max_file_bytes + 1)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
                raise EntryRejected(f"corrupt zip member: {error}") from None
            return _check_content(data, limits)

        yield Source(str(path), read, entries, rejected)


def _zip_member_problem(info: zipfile.ZipInfo) -> tuple[str | None, tuple[str, ...]]:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path in archive (refused)", ()
    parts = tuple(part for part in name.replace("\\", "/").split("/") if part not in ("", "."))
    if ".." in parts:
        return "path escapes the archive with '..' (refused)", ()
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link in archive (refused)", ()
    if info.flag_bits & 0x1:
        return "encrypted member (refused)", ()
    return None, parts


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
