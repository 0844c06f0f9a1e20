"""The lock file: the pinned version of every component and the digest of each place its source comes from."""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from .errors import StaticbuildError

HEADER = """\
# Pinned versions and source digests, written by `staticbuild pin`. Each component lists the
# places its release can be downloaded from, in order, each with the SHA-256 that file must
# have there. A location is listed only with a digest that was checked for it: debian:
# digests come from apt's signed Sources indexes, crate: digests are the registry's checksums.

"""


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

    def describe(self) -> str:
        return self.url + (f" ({self.subdir})" if self.subdir else "")


@dataclass(frozen=True)
class Pin:
    version: str
    sources: tuple[PinnedSource, ...]
    epoch: int = 0  # release date (SOURCE_DATE_EPOCH) where the archive's own times say nothing

    @property
    def identity(self) -> tuple[str, tuple[str, ...]]:
        """What of the pin affects the build: the version and the accepted contents."""
        return self.version, tuple(sorted({s.sha256 for s in self.sources}))


class Lock:
    def __init__(self, path: Path, pins: dict[str, Pin]):
        self.path, self.pins = path, pins

    @classmethod
    def load(cls, path: Path) -> Lock:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise StaticbuildError(f"lock file not found: {path} (run in the checkout, or pass --lock or set "
                                   "STATICBUILD_LOCK)") from None
        except tomllib.TOMLDecodeError as exc:
            raise StaticbuildError(f"lock file {path} is not valid TOML: {exc}") from None
        pins = {}
        for name, entry in data.items():
            try:
                sources = tuple(PinnedSource(**s) for s in entry["sources"])
                pins[name] = Pin(version=str(entry["version"]), sources=sources, epoch=int(entry.get("epoch", 0)))
            except (KeyError, TypeError) as exc:
                raise StaticbuildError(f"lock file {path}: entry '{name}' is malformed ({exc})") from None
        return cls(path, pins)

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
