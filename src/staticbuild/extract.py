"""Unpack source archives safely: every member is checked before anything is written."""

from __future__ import annotations

import copy
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import zstandard

from .errors import UnsafeArchiveError


# tarfile's 'data' filter arrived in Python 3.11.4; Debian 12's python3 (the build container's, and
# the fallback Dockerfile's) is 3.11.2. There the same rules are applied by hand, below.
HAS_DATA_FILTER = hasattr(tarfile, "data_filter")


def check_members(tar: tarfile.TarFile, dest: Path) -> None:
    """Refuse absolute paths, `..`, links escaping the tree and device files (Python's 'data' filter rules)."""
    for member in tar.getmembers():
        if member.name.startswith("/"):  # the 'data' filter would quietly make it relative
            raise UnsafeArchiveError(f"refusing archive: member '{member.name}' has an absolute path")
        if member.islnk() or member.issym():
            if not member.linkname or member.linkname.rstrip("/") in ("", ".", member.name.rstrip("/")):
                # tarfile falls back to copying the link's target when it cannot make the link: a link
                # to nothing or to itself makes that recurse without end
                raise UnsafeArchiveError(f"refusing archive: link '{member.name}' points at nothing or itself")
        if not HAS_DATA_FILTER:
            check_by_hand(member, str(dest))
            continue
        try:
            tarfile.data_filter(member, str(dest))
        except tarfile.FilterError as exc:
            raise UnsafeArchiveError(f"refusing archive: member '{member.name}' is unsafe ({exc})") from None


def check_by_hand(member: tarfile.TarInfo, dest: str) -> None:
    """The 'data' filter's refusals for Pythons without it: special files, and paths or links leaving `dest`."""
    def refuse(why: str) -> None:
        raise UnsafeArchiveError(f"refusing archive: member '{member.name}' is unsafe ({why})")
    root = os.path.realpath(dest)

    def inside(path: str) -> bool:
        return os.path.commonpath([root, os.path.normpath(path)]) == root
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        refuse("a special file")
    if not inside(os.path.join(root, member.name)):
        refuse("it would be extracted outside the destination")
    if member.issym() and (member.linkname.startswith("/") or
                           not inside(os.path.join(root, os.path.dirname(member.name), member.linkname))):
        refuse("a link to a path outside the destination")
    if member.islnk() and (member.linkname.startswith("/") or not inside(os.path.join(root, member.linkname))):
        refuse("a hard link to a path outside the destination")


def safe_extractall(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract members that `check_members` accepted, as the 'data' filter would: no setuid, setgid or
    sticky bits, no group or other write bits, nobody's ownership taken over from the archive."""
    if HAS_DATA_FILTER:
        tar.extractall(dest, filter="data")
        return
    members = []
    for member in tar.getmembers():
        clean = copy.copy(member)
        if clean.isreg() or clean.isdir():
            clean.mode = (clean.mode & 0o755) | (0o700 if clean.isdir() else 0o600)
        clean.uid, clean.gid, clean.uname, clean.gname = os.getuid(), os.getgid(), "", ""
        members.append(clean)
    tar.extractall(dest, members=members, numeric_owner=True)


def extract_source(archive: Path, dest: Path, subdir: str = "", label: str = "") -> int:
    """Extract `archive` so that its single top folder (or `subdir` inside it) becomes `dest`.

    Returns the newest member mtime, a stable SOURCE_DATE_EPOCH for the release.
    `dest` appears only once extraction is complete.
    """
    label = label or archive.name  # what errors call the archive (the cache names files by digest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
    try:
        try:
            epoch = extract_zip(archive, staging) if zipfile.is_zipfile(archive) else extract_tar(archive, staging)
        except UnsafeArchiveError as exc:
            raise UnsafeArchiveError(f"{label}: {exc}") from None
        except UNREADABLE as exc:  # damaged, truncated, a name too long, a link to a member that is not there
            raise UnsafeArchiveError(f"{label}: not a readable archive ({one_line(exc)})") from None
        tops = [p for p in staging.iterdir()]
        root = tops[0] if len(tops) == 1 and tops[0].is_dir() and not tops[0].is_symlink() else staging
        chosen = root / subdir if subdir else root
        relative = PurePosixPath(subdir)
        if relative.is_absolute() or ".." in relative.parts or not chosen.resolve().is_relative_to(root.resolve()):
            raise UnsafeArchiveError(f"{label}: folder '{subdir}' leads outside the archive")
        if not chosen.is_dir() or chosen.is_symlink():
            raise UnsafeArchiveError(f"{label}: expected folder '{subdir}' is not in the archive")
        check_links(chosen, label)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(chosen, dest)
        return int(epoch)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_links(tree: Path, what: str) -> None:
    """Links must stay inside the folder that becomes the source tree, not only inside the archive:
    `top/sub/link -> ../../x` is inside the archive but leaves `top`, which is what is kept."""
    root = os.path.realpath(tree)
    for folder, dirs, files in os.walk(tree):  # never follows links: a link loop is no endless walk
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            if os.path.islink(path):
                target = os.path.normpath(os.path.join(os.path.realpath(folder), os.readlink(path)))
                if os.path.commonpath([root, target]) != root:
                    raise UnsafeArchiveError(f"refusing archive {what}: link '{os.path.relpath(path, tree)}' points "
                                             "outside the source tree")


# What reading or writing a damaged or hostile archive raises besides our own refusals.
UNREADABLE = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError,
              KeyError, OSError, RecursionError)


def one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def extract_tar(archive: Path, dest: Path) -> int:
    with tarfile.open(archive, "r:*") as tar:
        check_members(tar, dest)
        safe_extractall(tar, dest)
        return max((m.mtime for m in tar.getmembers()), default=0)


def extract_zip(archive: Path, dest: Path) -> int:
    """Zip archives (Go module zips): the same refusals as for tarballs, links refused outright."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts:
                raise UnsafeArchiveError(f"refusing archive: member '{info.filename}' escapes the tree")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"refusing archive: member '{info.filename}' is a link")
        zf.extractall(dest)
        return 0  # module zips carry no meaningful times; the lock gives the release date
