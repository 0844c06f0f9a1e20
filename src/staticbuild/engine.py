"""When and in what order: resolve the graph, build each (component, arch) once, cache the result.

A result lives in `cache/builds/<arch>/<name>/<key>/` and exists only if its build finished:
it is built in a `.tmp-` folder and renamed at the end. The key digests everything that
shapes the output, so a changed recipe, pin, toolchain or dependency means a new key.
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
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .arch import Arch
from .catalog import Catalog
from .errors import BuildError, StaticbuildError
from .extract import extract_source
from .fetch import SourceCache
from .lock import Lock, PinnedSource
from .recipe import Recipe, ToolchainStage
from . import toolchain as toolchain_module
from .toolchain import Toolchain, host_identity

ENGINE_REVISION = 1  # bump to invalidate every cached build after a change in the engine's own build logic
TOOLCHAIN_OF = {ToolchainStage.bare_musl: "musl", ToolchainStage.target: "toolchain"}
TAIL_LINES = 25
ALLOCATORS = ("mimalloc", "musl")  # mimalloc ships; musl's own malloc exists for comparisons and bisecting


@dataclass(frozen=True)
class Settings:
    """Options resolved once from the command line and environment."""

    cache: Path
    lock: Path
    jobs: int = os.cpu_count() or 2
    allocator: str = "mimalloc"


@dataclass(frozen=True)
class Target:
    recipe: Recipe
    arch: Arch

    @property
    def label(self) -> str:
        return f"{self.recipe.name}/{self.arch}"


@dataclass
class Result:
    target: Target
    dir: Path
    cached: bool
    manifest: dict = field(default_factory=dict)

    @property
    def dest(self) -> Path:
        return self.dir / "dest"


@dataclass
class BuildContext:
    """What a builder sees: where the source is, where to install, the toolchain, how to run a step."""

    target: Target
    version: str
    src: Path
    build: Path
    dest: Path
    deps: Path
    toolchain: Toolchain
    jobs: int
    runner: StepRunner
    dep_results: dict[str, Result]
    shared: Path  # caches shared by every build (Go's build and module caches)

    @property
    def env(self) -> dict[str, str]:
        return self.toolchain.env(self.build.parent)

    def run(self, step: str, argv: Sequence[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.runner.run(step, [str(a) for a in argv], cwd or self.build, self.env | (env or {}))

    def shell(self, step: str, script: str, cwd: Path | None = None) -> None:
        env = {"DESTDIR": str(self.dest), "JOBS": str(self.jobs), "BUILD": str(self.build),
               "CONFIGURE_ARGS": " ".join(self.toolchain.configure_args())}
        self.run(step, ["sh", "-ec", script], cwd=cwd, env=env)

    def dep_dest(self, name: str) -> Path:
        return self.dep_results[name].dest


@functools.cache
def code_digest(builder: type) -> str:
    """The build logic a result depends on: the toolchain module (flags, specs) and the builder's module."""
    files = [Path(toolchain_module.__file__), Path(inspect.getfile(builder))]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


class StepRunner:
    """Runs a build's commands, each with its own log file, and reports progress."""

    def __init__(self, label: str, logs: Path, console: Console):
        self.label, self.logs, self.console = label, logs, console
        self.steps: list[dict] = []
        logs.mkdir(parents=True, exist_ok=True)

    def run(self, step: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        log = self.logs / f"{len(self.steps) + 1:02d}-{step}.log"
        started = time.monotonic()
        with log.open("w") as fh, self._progress(step):
            fh.write(f"$ cd {cwd}\n$ {' '.join(argv)}\n")
            fh.flush()
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                code = proc.wait()
            except BaseException:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
                raise
        seconds = round(time.monotonic() - started, 2)
        self.steps.append({"step": step, "seconds": seconds, "log": log.name})
        if code != 0:
            raise BuildError(self.label, step, str(log), tail(log))
        self.console.print(f"  [green]✓[/] {self.label}: {step} [dim]{seconds:.1f}s[/]")

    @contextmanager
    def _progress(self, step: str) -> Iterator[None]:
        if not self.console.is_terminal:
            self.console.print(f"  ▶ {self.label}: {step}")
            yield
            return
        columns = (SpinnerColumn(), TextColumn(f"{self.label}: {step}"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as progress:
            progress.add_task(step, total=None)
            yield


def musl_malloc_sysroot(sysroot: Path, into: Path) -> Path:
    """The toolchain's sysroot with libc.a swapped for the copy that keeps musl's own malloc."""
    (into / "lib").mkdir(parents=True)
    (into / "include").symlink_to(sysroot / "include")
    for item in (sysroot / "lib").iterdir():
        (into / "lib" / item.name).symlink_to(item)
    (into / "lib" / "libc.a").unlink()
    (into / "lib" / "libc.a").symlink_to(sysroot / "lib" / "libc-musl-malloc.a")
    return into


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class Engine:
    def __init__(self, settings: Settings, catalog: Catalog, lock: Lock, console: Console | None = None):
        self.settings, self.catalog, self.lock = settings, catalog, lock
        self.console = console or Console(stderr=True)
        self.sources = SourceCache(settings.cache)
        self._keys: dict[Target, str] = {}

    # -- planning -------------------------------------------------------------
    def deps_of(self, recipe: Recipe) -> list[str]:
        toolchain = TOOLCHAIN_OF.get(recipe.stage)
        return [*([toolchain] if toolchain else []), *recipe.depends]

    def closure(self, recipe: Recipe) -> list[str]:
        """All dependencies, direct and indirect: a static link needs every library below it."""
        seen: dict[str, None] = {}
        stack = list(self.deps_of(recipe))
        while stack:
            name = stack.pop()
            if name not in seen:
                seen[name] = None
                stack.extend(self.deps_of(self.catalog.get(name)))
        return sorted(seen)

    def plan(self, names: Sequence[str], arches: Sequence[Arch]) -> list[Target]:
        """Every target needed, dependencies first."""
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
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            raise StaticbuildError(f"dependency cycle: {' -> '.join(t.label for t in exc.args[1])}") from None

    def key(self, target: Target) -> str:
        if target not in self._keys:
            recipe = target.recipe
            material = {
                "engine": ENGINE_REVISION,
                "recipe": recipe.fingerprint(),
                "pin": self.lock.pin(recipe.name).identity if recipe.upstream else None,
                "arch": target.arch.name,
                "host": host_identity(target.arch),
                "tools": getattr(recipe.builder, "tool_identity", lambda: "")(),
                "code": code_digest(type(recipe.builder)),
                "deps": sorted(self.key(Target(self.catalog.get(d), target.arch))
                               for d in self.deps_of(target.recipe)),
            }
            if self.settings.allocator != "mimalloc" and recipe.stage is ToolchainStage.target:
                material["allocator"] = self.settings.allocator  # only then, so default keys stay as they were
            blob = json.dumps(material, sort_keys=True).encode()
            self._keys[target] = hashlib.sha256(blob).hexdigest()[:20]
        return self._keys[target]

    def result_dir(self, target: Target) -> Path:
        return self.settings.cache / "builds" / target.arch.name / target.recipe.name / self.key(target)

    # -- building -------------------------------------------------------------
    def build(self, names: Sequence[str], arches: Sequence[Arch]) -> dict[Target, Result]:
        results: dict[Target, Result] = {}
        with self._cache_lock():
            for target in self.plan(names, arches):
                deps = {d: results[Target(self.catalog.get(d), target.arch)] for d in self.closure(target.recipe)}
                results[target] = self._build_one(target, deps)
        return results

    def cached(self, names: Sequence[str], arches: Sequence[Arch]) -> dict[Target, Result]:
        """The cached results of `build(names, arches)`, or an error naming the first one not built yet."""
        results = {}
        for target in self.plan(names, arches):
            final = self.result_dir(target)
            if not (final / "build.json").exists():
                raise StaticbuildError(f"{target.label} is not built (or its recipe changed): run "
                                       f"`staticbuild build {target.recipe.name} --arch {target.arch}` first")
            results[target] = Result(target, final, cached=True, manifest=json.loads((final / "build.json").read_text()))
        return results

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

    def _build_one(self, target: Target, deps: dict[str, Result]) -> Result:
        final = self.result_dir(target)
        if (final / "build.json").exists():
            manifest = json.loads((final / "build.json").read_text())
            self.console.print(f"[dim]cached[/] {target.label} {manifest['version']}")
            return Result(target, final, cached=True, manifest=manifest)
        started = time.monotonic()
        tmp = final.parent / f".tmp-{final.name}"
        work = self.settings.cache / "work" / target.arch.name / target.recipe.name
        for stale in (tmp, work):
            shutil.rmtree(stale, ignore_errors=True)
        version, source, epoch = self._prepare_source(target, deps, work / "src")
        self.console.print(f"[bold]building[/] {target.label} {version}")
        (work / "build").mkdir()
        ctx = self._context(target, version, work, tmp, deps, epoch)
        try:
            for patch in target.recipe.patch_files():
                ctx.run(f"patch-{patch.stem}", ["patch", "-p1", "--forward", "-i", patch], cwd=ctx.src)
            target.recipe.builder.build(ctx)
            self._strip(ctx)
        except BaseException as exc:
            failed = self.settings.cache / "failed" / target.arch.name / target.recipe.name
            shutil.rmtree(failed, ignore_errors=True)
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, failed)
            if isinstance(exc, BuildError):
                exc.log = exc.log.replace(str(tmp), str(failed))
            raise
        binaries = target.recipe.binaries_for(target.arch.name)
        manifest = {
            "name": target.recipe.name,
            "version": version,
            "arch": target.arch.name,
            "key": final.name,
            "source": vars(source) if source else None,
            "source_date_epoch": epoch,
            "dependencies": {d: {"version": r.manifest["version"], "key": r.dir.name} for d, r in deps.items()},
            "seconds": round(time.monotonic() - started, 2),
            "steps": ctx.runner.steps,
            "binaries": {b: (ctx.dest / b).stat().st_size for b in binaries if (ctx.dest / b).exists()},
        }
        missing = [b for b in binaries if not (ctx.dest / b).exists() and not (ctx.dest / b).is_symlink()]
        if missing:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StaticbuildError(f"{target.label}: the build did not install {', '.join(missing)}")
        (tmp / "build.json").write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, final)
        shutil.rmtree(work, ignore_errors=True)
        self.console.print(f"[green]built[/] {target.label} in {manifest['seconds']:.1f}s")
        return Result(target, final, cached=False, manifest=manifest)

    def _prepare_source(self, target: Target, deps: dict[str, Result],
                        src: Path) -> tuple[str, PinnedSource | None, int]:
        """Fetch, verify and unpack the pinned source; a sourceless recipe takes its version from its deps."""
        if not target.recipe.upstream:
            src.mkdir(parents=True)
            version = "+".join(f"{n}-{deps[n].manifest['version']}" for n in target.recipe.depends)
            return version, None, max(r.manifest["source_date_epoch"] for r in deps.values())
        pin = self.lock.pin(target.recipe.name)
        archive, source = self.sources.get(target.recipe.name, pin)
        epoch = extract_source(archive, src, source.subdir)
        return pin.version, source, pin.epoch or epoch

    def _context(self, target: Target, version: str, work: Path, tmp: Path,
                 deps: dict[str, Result], epoch: int) -> BuildContext:
        toolchain_dep = TOOLCHAIN_OF.get(target.recipe.stage)
        staging = work / "deps"
        staging.mkdir()
        for result in deps.values():
            if result.target.recipe.stage is ToolchainStage.target:  # libraries, not the toolchain's parts
                shutil.copytree(result.dest, staging, symlinks=True, dirs_exist_ok=True)
        sysroot = deps[toolchain_dep].dest if toolchain_dep else None
        if sysroot and target.recipe.stage is ToolchainStage.target and self.settings.allocator == "musl":
            sysroot = musl_malloc_sysroot(sysroot, work / "sysroot")
        toolchain = Toolchain(
            arch=target.arch,
            stage=target.recipe.stage,
            sysroot=sysroot,
            tools_dir=work / "tools",
            deps=staging,
            source_date_epoch=epoch,
        )
        toolchain.materialize()
        (tmp / "dest").mkdir(parents=True)
        runner = StepRunner(target.label, tmp / "logs", self.console)
        return BuildContext(target, version, work / "src", work / "build", tmp / "dest", staging,
                            toolchain, self.settings.jobs, runner, deps, self.settings.cache / "shared")

    def _strip(self, ctx: BuildContext) -> None:
        """Strip the installed binaries (symbols are not shipped; sizes are measured stripped)."""
        if ctx.toolchain.stage is not ToolchainStage.target:
            return
        files = [ctx.dest / b for b in ctx.target.recipe.binaries_for(ctx.target.arch.name)
                 if (ctx.dest / b).is_file() and not (ctx.dest / b).is_symlink()]
        if files:
            ctx.run("strip", [ctx.toolchain.tool("strip"), "--strip-all", *files])

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
