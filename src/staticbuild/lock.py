"""The lock file: the pinned version of every component and the digest of each place its source comes from.

The lock is input from a pull request, so it is validated before anything uses it: a
digest becomes a file name in the cache, a subdir a path in the build tree, a version part
of URLs, archive member names and release tags. Every violation is one line that names the
file, the component and the field.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated

import msgspec
import tomli_w

from .errors import StaticbuildError

HEADER = """\
# Pinned versions and source digests, written by `staticbuild pin`. Each component lists the
# places its release can be downloaded from, in order, each with the SHA-256 that file must
# have there. A location is listed only with a digest that was checked for it: debian:
# digests come from apt's signed Sources indexes, crate: digests are the registry's checksums.

"""

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # used with fullmatch
SCHEMES = ("https", "http", "file", "debian", "crate", "gomod")
MAX_EPOCH = 2**32 - 1  # SOURCE_DATE_EPOCH becomes tar mtimes and build dates: a plain Unix time

# What each field must look like, in words for the error line and as msgspec constraints.
RULES = {
    "version": "letters, digits and . _ + ~ - (at most 64), starting with a letter or digit",
    "epoch": f"a whole number of seconds from 0 to {MAX_EPOCH}",
    "url": f"a location starting with one of {', '.join(s + ':' for s in SCHEMES)} and no spaces",
    "sha256": "64 lowercase hexadecimal digits",
    "subdir": "a relative folder path without '..' (letters, digits and . _ @ + ~ - /)",
    "digest_only": "true or false",
    "sources": "a list of source locations (url, sha256, optional subdir)",
}
# \Z, not $: a pattern is searched, and $ would accept a trailing newline.
Version = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}\Z")]
Epoch = Annotated[int, msgspec.Meta(ge=0, le=MAX_EPOCH)]
Url = Annotated[str, msgspec.Meta(pattern=rf"^({'|'.join(SCHEMES)}):[!-~]{{1,2000}}\Z")]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
Subdir = Annotated[str, msgspec.Meta(pattern=r"^\Z|^[A-Za-z0-9._@+~-]+(/[A-Za-z0-9._@+~-]+)*\Z")]


class SourceEntry(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    sha256: Sha256
    subdir: Subdir = ""
    digest_only: bool = False


class Entry(msgspec.Struct, forbid_unknown_fields=True):
    version: Version
    sources: list[SourceEntry]
    epoch: Epoch = 0


@dataclass(frozen=True)
class PinnedSource:
    """One place a release can be downloaded from, with the SHA-256 that file must have.

    `url` is https://..., `debian:<source package>/<file>` (a Debian mirror from apt's
    configuration), `crate:<name>@<version>` (the crate registry through cargo) or
    `gomod:<module>@<version>` (the Go module proxy through `go mod download`).
    `subdir` picks a directory inside the archive's top folder.
    """

    url: str
    sha256: str
    subdir: str = ""
    # True when nothing but this digest vouches for the file: a Go module the checksum
    # database does not list (an explicit "not found" answer), pinned from the proxy's zip alone
    digest_only: bool = False

    def describe(self) -> str:
        return self.url + (f" ({self.subdir})" if self.subdir else "")


@dataclass(frozen=True)
class Pin:
    version: str
    sources: tuple[PinnedSource, ...]
    epoch: int = 0  # release date (SOURCE_DATE_EPOCH) where the archive's own times say nothing

    def candidates(self) -> list[PinnedSource]:
        """One source per distinct content, in the lock's order: what a build may be made from."""
        seen: dict[str, PinnedSource] = {}
        for source in self.sources:
            seen.setdefault(source.sha256, source)
        return list(seen.values())

    def locations(self, sha256: str) -> list[str]:
        """Every pinned location that serves exactly these bytes."""
        return [s.url for s in self.sources if s.sha256 == sha256]


class Lock:
    def __init__(self, path: Path, pins: dict[str, Pin]):
        self.path, self.pins = path, pins

    @classmethod
    def load(cls, path: Path) -> Lock:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StaticbuildError(f"lock file not found: {path} (run in the checkout, or pass --lock or set "
                                   "STATICBUILD_LOCK)") from None
        except UnicodeDecodeError as exc:
            raise StaticbuildError(f"lock file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise StaticbuildError(f"cannot read the lock file {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise StaticbuildError(f"lock file {path} is not valid TOML: {exc}") from None
        return cls(path, {name: parse_entry(path, name, entry) for name, entry in data.items()})

    def copy(self) -> Lock:
        """A working copy to change and save once: a failure half-way leaves the file as it was."""
        return Lock(self.path, dict(self.pins))

    def pin(self, name: str) -> Pin:
        try:
            return self.pins[name]
        except KeyError:
            raise StaticbuildError(f"'{name}' has no entry in the lock file {self.path}") from None

    def save(self) -> None:
        """Write atomically: a crash never leaves a half-written lock file."""
        data = {
            name: {
                "version": pin.version,
                **({"epoch": pin.epoch} if pin.epoch else {}),
                "sources": [
                    {k: v for k, v in vars(s).items() if v} for s in pin.sources
                ],
            }
            for name, pin in sorted(self.pins.items())
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".lock-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(HEADER.encode())
            tomli_w.dump(data, fh)
        os.replace(tmp, self.path)


def parse_entry(path: Path, name: str, raw: object) -> Pin:
    """One component's entry, checked field by field; an error names file, component and field."""
    where = f"lock file {path}: [{name if NAME.fullmatch(name) else ascii(name)}]"  # an odd name stays one line
    if not NAME.fullmatch(name):
        raise StaticbuildError(f"{where}: a component name is lowercase letters, digits and . _ - (at most 64)")
    try:
        entry = msgspec.convert(raw, Entry, strict=True)
    except msgspec.ValidationError as exc:
        raise StaticbuildError(where + explain(str(exc))) from None
    sources = tuple(PinnedSource(s.url, s.sha256, s.subdir, s.digest_only) for s in entry.sources)
    if not sources:
        raise StaticbuildError(f"{where} sources: at least one source location is needed")
    subdirs: dict[str, str] = {}
    for i, s in enumerate(sources):
        if ".." in PurePosixPath(s.subdir).parts:
            raise StaticbuildError(f"{where} sources[{i}].subdir: {RULES['subdir']}")
        if subdirs.setdefault(s.sha256, s.subdir) != s.subdir:
            raise StaticbuildError(f"{where} sources[{i}].subdir: the same file (sha256) cannot have two subdirs")
    return Pin(version=entry.version, sources=sources, epoch=entry.epoch)


def explain(message: str) -> str:
    """msgspec's 'Expected `str` matching regex ... - at `$.sources[0].sha256`' in the lock's own words:
    ' sources[0].sha256: 64 lowercase hexadecimal digits' (a leading space or colon joins it to the name)."""
    detail, _, at = message.partition(" - at `")
    field = at.rstrip("`").removeprefix("$").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.+)`", detail)
    missing = re.match(r"Object missing required field `(.+)`", detail)
    rule = RULES.get(re.sub(r"\[\d+\]$", "", field.rsplit(".", 1)[-1]))
    if unknown:
        text = f"unknown field '{unknown.group(1)}'"
    elif missing:
        text = f"missing field '{missing.group(1)}'"
    else:
        text = rule or detail[:1].lower() + detail[1:]
    return f" {field}: {text}" if field else f": {text}"
