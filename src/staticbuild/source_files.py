"""Read files straight from a pinned source archive, without unpacking it (package time).

Bundles take files that no build installs from the very archive the lock pins: podman's
systemd units (contrib/systemd in the module zip), and later licence texts. The archive's
layout is the one `extract.extract_source` sees: a single top folder, then the lock's subdir.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from .errors import SourceError


def _members(archive: Path) -> dict[str, bytes]:
    """Every regular file of the archive by its path (source archives are a few MB: read whole)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    with tarfile.open(archive, "r:*") as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                if m.isfile()}


def _root(names: list[str], subdir: str) -> str:
    """The prefix of the tree a build sees: the single top folder (if any), then `subdir`."""
    tops = {PurePosixPath(n).parts[0] for n in names}
    top = tops.pop() + "/" if len(tops) == 1 and all("/" in n for n in names) else ""
    return f"{top}{subdir.strip('/')}/" if subdir else top


def tree(archive: Path, subdir: str = "") -> dict[str, bytes]:
    """Every file of the source tree a build sees, by its path in that tree."""
    members = _members(archive)
    prefix = _root(list(members), subdir)
    return {name.removeprefix(prefix): data for name, data in members.items() if name.startswith(prefix)}


def files_under(archive: Path, subdir: str, folder: str) -> dict[str, bytes]:
    """The files below `folder` of the source tree, by their path relative to `folder`."""
    prefix = folder.strip("/") + "/"
    found = {name.removeprefix(prefix): data for name, data in tree(archive, subdir).items() if name.startswith(prefix)}
    if not found:
        raise SourceError(f"{archive.name}: the source has no files under {folder}/")
    return found
