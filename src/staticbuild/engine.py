"""When and in what order: resolve the graph, build each (component, arch) once, cache the result.

A result lives in `cache/builds/<arch>/<name>/<key>/` and exists only if its build finished:
it is built in a `.tmp-` folder and renamed at the end. The key digests everything that
shapes the output (see `Engine.key`), so a changed recipe, pin, toolchain, host tool, build
code or dependency means a new key. How one build runs is context.py's job.
"""

from __future__ import annotations

import fcntl
import functools
import graphlib
import hashlib
import inspect
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from rich.console import Console

from . import arch as arch_module, context as context_module, extract as extract_module
from . import recipe as recipe_module, toolchain as toolchain_module
from .arch import Arch
from .catalog import Catalog
from .context import TOOLCHAIN_OF, Result, StepRunner, Target, Workspace, make_context, run_build
from .errors import BuildError, StaticbuildError
from .extract import extract_source
from .fetch import SourceCache
from .lock import Lock, PinnedSource
from .recipe import Recipe, ToolchainStage
from .toolchain import host_identity

ALLOCATORS = ("mimalloc", "musl")  # mimalloc ships; musl's own malloc exists for comparisons and bisecting
# The modules whose code shapes every build's output; with the builder's own module they are
# part of each key. The CLI, the engine's planning and the packaging stages are not.
BUILD_PATH: tuple[ModuleType, ...] = (context_module, toolchain_module, arch_module, extract_module, recipe_module)

__all__ = ["ALLOCATORS", "Engine", "Result", "Settings", "Target"]


@dataclass(frozen=True)
class Settings:
    """Options resolved once from the command line and environment."""

    cache: Path
    lock: Path
    jobs: int = os.cpu_count() or 2
    allocator: str = "mimalloc"
    verbose: bool = False  # stream each step's log to the console


@functools.cache
def code_digest(builder: type, modules: tuple[ModuleType, ...] = BUILD_PATH) -> str:
    """The build code a result depends on: the build-path modules and the builder's module."""
    files = sorted({Path(inspect.getfile(m)) for m in modules} | {Path(inspect.getfile(builder))})
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def deps_of(recipe: Recipe) -> list[str]:
    """The direct dependencies: the recipe's own and the toolchain its stage is compiled with."""
    toolchain = TOOLCHAIN_OF.get(recipe.stage)
    return [*([toolchain] if toolchain else []), *recipe.depends]


def closure(catalog: Catalog, recipe: Recipe) -> list[str]:
    """All dependencies, direct and indirect: a static link needs every library below it."""
    seen: dict[str, None] = {}
    stack = list(deps_of(recipe))
    while stack:
        name = stack.pop()
        if name not in seen:
            seen[name] = None
            stack.extend(deps_of(catalog.get(name)))
    return sorted(seen)


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class Engine:
    def __init__(self, settings: Settings, catalog: Catalog, lock: Lock, console: Console | None = None):
        self.settings, self.catalog, self.lock = settings, catalog, lock
        self.console = console or Console(stderr=True)
        self.sources = SourceCache(settings.cache)

    # -- planning -------------------------------------------------------------
    def deps_of(self, recipe: Recipe) -> list[str]:
        return deps_of(recipe)

    def closure(self, recipe: Recipe) -> list[str]:
        return closure(self.catalog, recipe)

    def plan(self, names: Sequence[str], arches: Sequence[Arch]) -> list[Target]:
        """Every target needed, dependencies first; the same order on every run (ties by arch, then name)."""
        graph: dict[Target, set[Target]] = {}
        pending = [Target(self.catalog.get(n), a) for n in names for a in arches]
        for t in pending:
            if t.arch.name not in t.recipe.arches:
                raise StaticbuildError(f"{t.recipe.name} is not built for {t.arch}")
        while pending:
            target = pending.pop()
            if target in graph:
                continue
            deps = {Target(self.catalog.get(d), target.arch) for d in self.deps_of(target.recipe)}
            graph[target] = deps
            pending.extend(deps)
        sorter = graphlib.TopologicalSorter(graph)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            raise StaticbuildError(f"dependency cycle: {' -> '.join(t.label for t in exc.args[1])}") from None
        order: list[Target] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=lambda t: (t.arch.name, t.recipe.name))
            order += ready
            sorter.done(*ready)
        return order

    # -- keys -----------------------------------------------------------------
    def key(self, target: Target, source: PinnedSource | None = None, dep_keys: Mapping[str, str] | None = None) -> str:
        """The digest of everything that shapes this build's output.

        `source` is the pinned file the build is made from (several digests may be pinned for
        one component, and their contents can differ); `dep_keys` the keys of the direct
        dependencies' results (which cover the indirect ones). Without them: the build from
        each component's first pinned source.
        """
        recipe = target.recipe
        if recipe.upstream and source is None:
            source = self.lock.pin(recipe.name).candidates()[0]
        if dep_keys is None:
            dep_keys = {d: self.key(Target(self.catalog.get(d), target.arch)) for d in self.deps_of(recipe)}
        material = {
            "recipe": recipe.fingerprint(),
            "pin": self._pin_material(recipe, source),
            "arch": target.arch.name,
            "host": host_identity(target.arch),
            "tools": getattr(recipe.builder, "tool_identity", lambda: "")(),
            "code": code_digest(type(recipe.builder)),
            "deps": sorted(dep_keys[d] for d in self.deps_of(recipe)),
        }
        if self.settings.allocator != "mimalloc" and recipe.stage is ToolchainStage.target:
            material["allocator"] = self.settings.allocator  # only then, so default keys stay as they were
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:20]

    def _pin_material(self, recipe: Recipe, source: PinnedSource | None) -> dict | None:
        if not recipe.upstream or source is None:
            return None
        pin = self.lock.pin(recipe.name)
        # epoch: SOURCE_DATE_EPOCH (build dates, mtimes); sha256 and subdir: the exact tree built
        return {"version": pin.version, "epoch": pin.epoch, "sha256": source.sha256, "subdir": source.subdir}

    def result_dir(self, target: Target, key: str | None = None) -> Path:
        return self.settings.cache / "builds" / target.arch.name / target.recipe.name / (key or self.key(target))

    def _dep_keys(self, target: Target, results: Mapping[Target, Result]) -> dict[str, str] | None:
        """The keys of the direct dependencies' results, or None while one of them has no result."""
        keys = {}
        for name in self.deps_of(target.recipe):
            dep = results.get(Target(self.catalog.get(name), target.arch))
            if dep is None:
                return None
            keys[name] = dep.dir.name
        return keys

    def _find_cached(self, target: Target, results: Mapping[Target, Result]) -> Result | None:
        """A finished result for any source the lock accepts, with these dependencies."""
        dep_keys = self._dep_keys(target, results)
        if dep_keys is None:
            return None
        candidates = self.lock.pin(target.recipe.name).candidates() if target.recipe.upstream else [None]
        for source in candidates:
            final = self.result_dir(target, self.key(target, source, dep_keys))
            if (final / "build.json").exists():
                return Result(target, final, cached=True, manifest=json.loads((final / "build.json").read_text()))
        return None

    def _survey(self, order: Sequence[Target]) -> dict[Target, Result]:
        """What of the plan is built already."""
        found: dict[Target, Result] = {}
        for target in order:
            result = self._find_cached(target, found)
            if result:
                found[target] = result
        return found

    # -- building -------------------------------------------------------------
    def build(self, names: Sequence[str], arches: Sequence[Arch]) -> dict[Target, Result]:
        with self._cache_lock():
            order = self.plan(names, arches)
            results = self._survey(order)
            todo = [t for t in order if t not in results]
            if todo:
                total = sum(self._estimate(t) or 0 for t in todo)
                about = f", about {duration(total)} from earlier builds" if total else ""
                self.console.print(f"[bold]{len(order)} builds[/], {len(order) - len(todo)} cached, "
                                   f"{len(todo)} to build{about}")
            for position, target in enumerate(order, 1):
                if target in results:
                    self.console.print(f"[dim]cached[/] {target.label} {results[target].manifest['version']}")
                    continue
                deps = {d: results[Target(self.catalog.get(d), target.arch)] for d in self.closure(target.recipe)}
                results[target] = self._build_one(target, deps, results, f"{position} of {len(order)}")
        return {t: results[t] for t in order}

    def cached(self, names: Sequence[str], arches: Sequence[Arch]) -> dict[Target, Result]:
        """The cached results of `build(names, arches)`, or an error naming the first one not built yet."""
        order = self.plan(names, arches)
        results = self._survey(order)
        for target in order:
            if target not in results:
                raise StaticbuildError(f"{target.label} is not built (or its recipe changed): run "
                                       f"`staticbuild build {target.recipe.name} --arch {target.arch}` first")
        return {t: results[t] for t in order}

    def _estimate(self, target: Target) -> float | None:
        """How long this component took the last time it was built for this arch (any key)."""
        folder = self.settings.cache / "builds" / target.arch.name / target.recipe.name
        manifests = sorted(folder.glob("*/build.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        for manifest in reversed(manifests):
            try:
                return float(json.loads(manifest.read_text())["seconds"])
            except (ValueError, KeyError, OSError):
                continue
        return None

    @contextmanager
    def _cache_lock(self) -> Iterator[None]:
        self.settings.cache.mkdir(parents=True, exist_ok=True)
        with open(self.settings.cache / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.console.print("waiting for another staticbuild run using this cache…")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _build_one(self, target: Target, deps: dict[str, Result], results: Mapping[Target, Result],
                   position: str) -> Result:
        dep_keys = self._dep_keys(target, results)
        assert dep_keys is not None, "dependencies are built first"
        source, archive = None, None
        if target.recipe.upstream:
            archive, source = self.sources.get(target.recipe.name, self.lock.pin(target.recipe.name))
        final = self.result_dir(target, self.key(target, source, dep_keys))
        started = time.monotonic()
        space = Workspace(self.settings.cache / "work" / target.arch.name / target.recipe.name,
                          final.parent / f".tmp-{final.name}", self.settings.cache / "shared")
        for stale in (space.tmp, space.work):
            shutil.rmtree(stale, ignore_errors=True)
        version, epoch = self._prepare_source(target, deps, space.work / "src", archive, source)
        last = self._estimate(target)
        self.console.print(f"[bold]\\[{position}] building[/] {target.label} {version}"
                           + (f" [dim](last time {duration(last)})[/]" if last else ""))
        runner = StepRunner(target.label, space.tmp / "logs", self.console, self.settings.verbose)
        try:
            ctx = make_context(target, version, space, deps, epoch, self.settings.jobs, self.settings.allocator,
                               runner)
            run_build(ctx)
        except BaseException as exc:
            self._keep_failed(target, space.tmp, exc)
            raise
        binaries = target.recipe.binaries_for(target.arch.name)
        missing = [b for b in binaries if not (ctx.dest / b).exists() and not (ctx.dest / b).is_symlink()]
        if missing:
            shutil.rmtree(space.tmp, ignore_errors=True)
            raise StaticbuildError(f"{target.label}: the build did not install {', '.join(missing)}")
        manifest = {
            "name": target.recipe.name,
            "version": version,
            "arch": target.arch.name,
            "key": final.name,
            # what was built; where the bytes happened to come from is only a note (SBOMs use the lock)
            "source": {"sha256": source.sha256, "subdir": source.subdir} if source else None,
            "fetched_from": source.url if source else None,
            "source_date_epoch": epoch,
            "dependencies": {d: {"version": r.manifest["version"], "key": r.dir.name} for d, r in deps.items()},
            "seconds": round(time.monotonic() - started, 2),
            "steps": runner.steps,
            "binaries": {b: (ctx.dest / b).stat().st_size for b in binaries if (ctx.dest / b).exists()},
        }
        (space.tmp / "build.json").write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(space.tmp, final)
        shutil.rmtree(space.work, ignore_errors=True)
        self.console.print(f"[green]built[/] {target.label} in {duration(manifest['seconds'])}")
        return Result(target, final, cached=False, manifest=manifest)

    def _keep_failed(self, target: Target, tmp: Path, exc: BaseException) -> None:
        """A failed or interrupted build never counts as done; its logs move to cache/failed/ for a look."""
        failed = self.settings.cache / "failed" / target.arch.name / target.recipe.name
        shutil.rmtree(failed, ignore_errors=True)
        failed.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            os.replace(tmp, failed)
        if isinstance(exc, BuildError):
            exc.log = exc.log.replace(str(tmp), str(failed))

    def _prepare_source(self, target: Target, deps: dict[str, Result], src: Path, archive: Path | None,
                        source: PinnedSource | None) -> tuple[str, int]:
        """Unpack the verified source; a sourceless recipe takes its version and date from its deps."""
        if archive is None or source is None:
            src.mkdir(parents=True)
            version = "+".join(f"{n}-{deps[n].manifest['version']}" for n in target.recipe.depends)
            return version, max(r.manifest["source_date_epoch"] for r in deps.values())
        pin = self.lock.pin(target.recipe.name)
        epoch = extract_source(archive, src, source.subdir, label=f"{target.recipe.name} {pin.version} ({source.url})")
        return pin.version, pin.epoch or epoch

    def install(self, results: dict[Target, Result], names: Sequence[str], out: Path) -> list[Path]:
        """Copy the named components' binaries into `out/<arch>/bin/` (each file written atomically)."""
        written = []
        for target, result in results.items():
            if target.recipe.name not in names:
                continue
            bindir = out / target.arch.name / "bin"
            bindir.mkdir(parents=True, exist_ok=True)
            for binary in target.recipe.binaries_for(target.arch.name):
                src, dst = result.dest / binary, bindir / Path(binary).name
                tmp = bindir / f".{dst.name}.tmp"
                tmp.unlink(missing_ok=True)
                if src.is_symlink():
                    os.symlink(os.readlink(src), tmp)
                else:
                    shutil.copy2(src, tmp)
                os.replace(tmp, dst)
                written.append(dst)
        return written
