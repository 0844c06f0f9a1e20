"""Downloads: every source, Go module and crate the benchmarks build, fetched before any clock runs.

The benchmarks' own seed (`WORK/seed`) starts as hard links of the user's staticbuild cache, if
there is one (never written to), and gets whatever is missing: the lock's sources and those of
the previous releases the bump measurement builds (`previous.lock`), every Go tool's modules
and every Rust component's crates. Each fresh cache of the build benchmark then starts from it,
so no download is ever timed as building.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from packaging.version import Version

from staticbuild.catalog import Catalog
from staticbuild.extract import extract_source
from staticbuild.fetch import SourceCache
from staticbuild.lock import Lock
from staticbuild.toolchain import CARGO

from .common import REPO, BenchSettings, link_downloads, say, staticbuild, timed

LOCK = REPO / "staticbuild.lock"
# Releases before the pinned ones, on the Go module proxy and the crate registry: the bump
# measurement builds these first, then the pinned ones. Move them along with the lock.
PREVIOUS = {"podman": "6.0.0", "netavark": "2.0.0"}


def run(s: BenchSettings) -> dict:
    s.seed.mkdir(parents=True, exist_ok=True)
    if s.downloads_from and s.downloads_from.resolve() != s.seed.resolve():
        link_downloads(s.downloads_from, s.seed)
    locks = {LOCK, *bump_locks(s).values()}
    say(f"prefetch into {s.seed}")
    started = time.monotonic()
    for lock_path in locks:
        fetch_all(s.seed, Lock.load(lock_path), s.work / "prefetch.log")
    return {"seconds": round(time.monotonic() - started, 1), "previous": PREVIOUS}


def bump_locks(s: BenchSettings) -> dict[str, Path]:
    """The bump measurement's locks, in order: "previous" (every tool of PREVIOUS at its older
    release), then one per tool, named after it, in which that tool and those before it are
    bumped to their pins (the last one is the lock itself)."""
    pinned = Lock.load(LOCK)
    for name, version in PREVIOUS.items():
        if Version(version) >= Version(pinned.pin(name).version):
            raise SystemExit(f"bench: PREVIOUS[{name!r}] = {version} is not older than the lock's "
                             f"{pinned.pin(name).version}: update bench/prefetch.py")
    names = list(PREVIOUS)
    older = {"previous": names, **{name: names[i + 1:] for i, name in enumerate(names)}}
    return {label: write_lock(s, label, tools) if tools else LOCK for label, tools in older.items()}


def write_lock(s: BenchSettings, label: str, tools: list[str]) -> Path:
    """A copy of the lock with `tools` pinned at their PREVIOUS releases (kept while the lock is older)."""
    path = s.work / f"{label}.lock"
    if not path.exists() or LOCK.stat().st_mtime > path.stat().st_mtime:
        tmp = path.with_suffix(".tmp")
        shutil.copyfile(LOCK, tmp)
        for name in tools:
            timed(staticbuild(s.seed, "--lock", tmp, "pin", name, PREVIOUS[name]), s.work / "prefetch.log")
        os.replace(tmp, path)
    return path


def fetch_all(seed: Path, lock: Lock, log: Path) -> None:
    """Sources for every pin, modules for every Go tool, crates for every Rust component."""
    sources = SourceCache(seed)
    for recipe in Catalog.load():
        if recipe.name not in lock.pins:
            continue
        archive, pinned = sources.get(recipe.name, lock.pin(recipe.name))
        if recipe.builder.kind not in ("go", "cargo"):
            continue
        with tempfile.TemporaryDirectory(prefix="bench-prefetch-") as tmp:
            src = Path(tmp) / "src"
            extract_source(archive, src, pinned.subdir)
            if recipe.builder.kind == "go":
                env = os.environ | {"GOMODCACHE": str(seed / "shared" / "go-mod"), "GOFLAGS": "-mod=mod",
                                    "GOTOOLCHAIN": "local"}
                timed(["go", "mod", "download"], log, cwd=src, env=env)
            else:
                timed([CARGO, "fetch", "--locked"], log, cwd=src)
