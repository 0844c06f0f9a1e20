"""checksums.txt in `sha256sum` format over a release directory's artifacts."""

from __future__ import annotations

import re
from pathlib import Path

from .atomic import write_text
from .errors import StaticbuildError
from .fetch import sha256_of

CHECKSUMS = "checksums.txt"
ARTIFACT_SUFFIXES = (".tar.zst", ".cdx.json")
INSTALLER = "install.sh"  # the repository's installer, attached to every release: checked and signed like a bundle
LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S+)$")


def artifacts(folder: Path) -> list[Path]:
    """Bundles, SBOMs and install.sh, sorted by name (signatures and checksums.txt are not artifacts of their own)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.name.endswith(ARTIFACT_SUFFIXES) or p.name == INSTALLER))


def write_checksums(folder: Path) -> Path:
    found = artifacts(folder)
    if not found:
        raise StaticbuildError(f"no artifacts (*.tar.zst, *.cdx.json) in {folder}")
    path = folder / CHECKSUMS
    write_text(path, "".join(f"{sha256_of(p)}  {p.name}\n" for p in found))
    return path


def read_checksums(folder: Path) -> dict[str, str]:
    path = folder / CHECKSUMS
    if not path.is_file():
        raise StaticbuildError(f"{path} is missing")
    sums = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = LINE.match(line)
        if not match or "/" in match[2]:
            raise StaticbuildError(f"{path}:{number}: not a 'sha256  name' line")
        sums[match[2]] = match[1]
    return sums


def check_checksums(folder: Path) -> list[str]:
    """Problems found: a listed file missing or different, an artifact not listed."""
    sums = read_checksums(folder)
    problems = []
    for name, digest in sums.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {CHECKSUMS} but missing")
        elif sha256_of(path) != digest:
            problems.append(f"{name}: SHA-256 differs from {CHECKSUMS}")
    problems += [f"{p.name}: not listed in {CHECKSUMS}" for p in artifacts(folder) if p.name not in sums]
    return problems
