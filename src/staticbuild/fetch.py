"""Fetch pinned sources into a content-addressed cache; nothing unverified is ever kept."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import httpx

from .errors import SourceError
from .lock import Pin, PinnedSource
from .mirrors import DebianArchive, fetch_crate, fetch_gomod

RETRIES = 3


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class NotAvailable(Exception):
    """This location cannot serve the file (network, 404, not listed): try the next one."""


class SourceCache:
    """`root/sources/<sha256>`: a file is stored under its digest only after it was checked."""

    def __init__(self, root: Path, debian: DebianArchive | None = None):
        self.dir = root / "sources"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.debian = debian or DebianArchive()

    def path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):  # the lock is checked too: a digest never names another file
            raise SourceError(f"not a SHA-256 digest: {sha256!r}")
        return self.dir / sha256

    def get(self, name: str, pin: Pin) -> tuple[Path, PinnedSource]:
        """The verified archive for `name` and the location it came from (for its subdir)."""
        if not pin.sources:
            raise SourceError(f"{name} {pin.version}: the lock file lists no source location")
        for source in pin.sources:
            cached = self.path(source.sha256)
            if cached.exists():
                actual = sha256_of(cached)
                if actual == source.sha256:
                    return cached, source
                cached.unlink()
                raise SourceError(
                    f"{name}: cached source {cached} is corrupt (sha256 {actual}, expected {source.sha256}); "
                    "it was removed, run again to download it anew"
                )
        failures = []
        for source in pin.sources:
            try:
                return self._download(name, source), source
            except NotAvailable as exc:
                failures.append(f"{source.url}: {exc}")
        raise SourceError(f"{name} {pin.version}: no location could serve the source; " + "; ".join(failures))

    def _download(self, name: str, source: PinnedSource) -> Path:
        tmp = self.dir / f".tmp-{source.sha256}-{os.getpid()}"
        try:
            self._fetch_to(source, tmp)
            actual = sha256_of(tmp)
            if actual != source.sha256:
                raise SourceError(
                    f"{name}: sha256 mismatch for {source.url}: expected {source.sha256}, got {actual}; refusing it"
                )
            final = self.path(source.sha256)
            os.replace(tmp, final)
            return final
        finally:
            tmp.unlink(missing_ok=True)

    def _fetch_to(self, source: PinnedSource, dest: Path) -> None:
        scheme, _, rest = source.url.partition(":")
        if scheme in ("http", "https", "file"):
            return download(source.url, dest)
        name, _, detail = rest.partition("@" if scheme in ("crate", "gomod") else "/")
        mirrors = {  # each raises SourceError when it cannot serve the file: then the next location
            "debian": lambda: download(self.debian.url_for(name, detail, source.sha256), dest),
            "crate": lambda: fetch_crate(name, detail, dest),
            "gomod": lambda: fetch_gomod(name, detail, dest),
        }
        if scheme not in mirrors:
            raise SourceError(f"unknown source location scheme in '{source.url}'")
        try:
            mirrors[scheme]()
        except SourceError as exc:
            raise NotAvailable(str(exc)) from None


def download(url: str, dest: Path) -> None:
    """Stream `url` to `dest`, retrying network errors and 5xx with backoff; 4xx is final."""
    if url.startswith("file://"):
        try:
            dest.write_bytes(Path(url.removeprefix("file://")).read_bytes())
            return
        except OSError as exc:
            raise NotAvailable(str(exc)) from None
    last = ""
    for attempt in range(RETRIES):
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=60) as resp:
                if resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}"
                elif resp.status_code >= 400:
                    raise NotAvailable(f"HTTP {resp.status_code}")
                else:
                    with dest.open("wb") as fh:
                        for chunk in resp.iter_bytes(1 << 16):
                            fh.write(chunk)
                    return
        except httpx.ConnectError as exc:
            # Unreachable host (no route, DNS, refused): the next location is the fallback.
            raise NotAvailable(f"cannot connect ({exc})") from None
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(2**attempt)
    raise NotAvailable(f"gave up after {RETRIES} attempts ({last})")
