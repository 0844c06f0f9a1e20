"""Reproducible .tar.zst archives: same inputs, same bytes, on any machine.

File entries (and relative symlinks) are sorted, owned by root:root, with fixed modes and one mtime (SOURCE_DATE_EPOCH);
zstd runs multithreaded, whose output does not depend on the number of worker threads.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_LEVEL = 19  # measured in docs/BENCHMARKS.md: near xz -9 sizes, decompression 10x faster
EXECUTABLE, REGULAR = 0o755, 0o644


@dataclass(frozen=True)
class Entry:
    """One file of an archive: where it goes, where its bytes come from, and its mode."""

    name: str  # path inside the archive, e.g. podman-v6.0.2/bin/podman
    source: Path | bytes  # for a symlink: its target, relative to the link's folder
    mode: int = REGULAR
    symlink: bool = False  # a relative link (e.g. systemd's generator links); unlike a directory entry it replaces nothing


def symlink(name: str, target: str) -> Entry:
    """A link to another file of the same archive; an absolute or escaping target would depend on the prefix."""
    depth = name.count("/") - 1
    if target.startswith("/") or target.count("../") > depth:
        raise ValueError(f"link {name} -> {target} leaves the archive")
    return Entry(name, target.encode(), 0o777, symlink=True)


def tar_info(name: str, epoch: int, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.size, info.mtime = mode, size, epoch
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def write_tar(entries: Sequence[Entry], epoch: int, fileobj: io.RawIOBase | io.BufferedIOBase) -> None:
    """Files only, no directory entries: GNU tar replaces an existing symlink with a directory
    entry's real directory, so unpacking into / would turn a usr-merged /bin -> usr/bin into
    a folder holding only our files. Without them tar follows the symlink (and leaves the
    mode and mtime of existing folders like /usr/local/bin alone)."""
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError("an archive entry is listed twice")
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.symlink:
                info = tar_info(entry.name, epoch, entry.mode, 0)
                info.type, info.linkname = tarfile.SYMTYPE, bytes(entry.source).decode()  # type: ignore[arg-type]
                tar.addfile(info)
            elif isinstance(entry.source, bytes):
                tar.addfile(tar_info(entry.name, epoch, entry.mode, len(entry.source)), io.BytesIO(entry.source))
            else:
                with entry.source.open("rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    tar.addfile(tar_info(entry.name, epoch, entry.mode, size), fh)


def write_tar_zst(entries: Sequence[Entry], epoch: int, dest: Path, level: int = ZSTD_LEVEL, threads: int = -1) -> None:
    """threads=-1: one zstd worker per core; the output is the same for any number of workers."""
    compressor = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
    with dest.open("wb") as raw, compressor.stream_writer(raw, closefd=False) as zst:
        write_tar(entries, epoch, zst)


def is_zstd(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == ZSTD_MAGIC


def is_archive(path: Path) -> bool:
    return path.is_file() and (is_zstd(path) or tarfile.is_tarfile(path))


@contextmanager
def read_tar_zst(data: bytes) -> Iterator[tarfile.TarFile]:
    """A .tar.zst held in memory, opened for listing and reading members."""
    plain = io.BytesIO(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        yield tar


@contextmanager
def open_tar(path: Path) -> Iterator[tarfile.TarFile]:
    """Open a .tar.zst (decompressed to a temporary file, so members can be listed and read) or any tarball."""
    if not is_zstd(path):
        with tarfile.open(path, "r:*") as tar:
            yield tar
        return
    with tempfile.TemporaryFile() as plain:
        with path.open("rb") as fh:
            zstandard.ZstdDecompressor().copy_stream(fh, plain)
        plain.seek(0)
        with tarfile.open(fileobj=plain, mode="r:") as tar:
            yield tar
