"""Upstream source trees at the pinned versions, from the staticbuild cache (downloaded and
digest-checked by staticbuild's own fetcher when missing): the test suites ship in them."""

from __future__ import annotations

from pathlib import Path

from staticbuild.errors import StaticbuildError
from staticbuild.extract import extract_source
from staticbuild.fetch import SourceCache
from staticbuild.lock import Lock

from .common import Settings, UpstreamTestError


def version(settings: Settings, component: str) -> str:
    try:
        return Lock.load(settings.lock).pin(component).version
    except StaticbuildError as exc:
        raise UpstreamTestError(str(exc)) from None


def tree(settings: Settings, component: str) -> Path:
    """`work/src/<component>-<version>/`: the pinned source, extracted once (read-only use)."""
    try:
        pin = Lock.load(settings.lock).pin(component)
        dest = settings.work / "src" / f"{component}-{pin.version}"
        if (dest / ".complete").exists():
            return dest
        archive, source = SourceCache(settings.cache).get(component, pin)
        extract_source(archive, dest, source.subdir, label=f"{component} {pin.version}")
    except StaticbuildError as exc:
        raise UpstreamTestError(str(exc)) from None
    (dest / ".complete").write_text(pin.version + "\n")
    return dest


def test_files(settings: Settings, component: str, pattern: str) -> list[str]:
    """The names of the pinned source's test files matching `pattern` (e.g. `test/*.bats`), sorted;
    none is an error: a suite that finds nothing to run must not count as passing."""
    folder, glob = pattern.rsplit("/", 1)
    names = sorted(p.name for p in (tree(settings, component) / folder).glob(glob))
    if not names:
        raise UpstreamTestError(f"{component}'s source has no {pattern}")
    return names
