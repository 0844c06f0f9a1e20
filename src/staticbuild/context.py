"""One build, from unpacked source to installed tree: what a builder sees and how its steps run.

Everything here shapes a build's output, so this module's code is part of every cache key
(engine.BUILD_PATH); the engine decides *what* to build and *when*, this module *how* one
build is set up and run. Builders import from here, never from the engine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .arch import Arch
from .errors import BuildError
from .recipe import Recipe, ToolchainStage
from .toolchain import Toolchain

TAIL_LINES = 25
TOOLCHAIN_OF = {ToolchainStage.bare_musl: "musl", ToolchainStage.target: "toolchain"}

# The user's network and trust settings reach build steps (`go mod download`, cargo); nothing
# else of the environment does. None of them is in a cache key: digests (go.sum, Cargo.lock,
# the lock file) already pin what they fetch. HOME carries Go's and cargo's own config files.
PASSED_ENV = ("HOME", "USER", "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY",
              "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "GOPROXY", "GOSUMDB", "GOPRIVATE", "GONOPROXY", "GONOSUMDB",
              "GOINSECURE", "GOAUTH", "CARGO_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
              "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "NIX_SSL_CERT_FILE")
PASSED_ENV_PREFIXES = ("CARGO_REGISTRIES_", "CARGO_REGISTRY_", "CARGO_HTTP_", "CARGO_NET_", "CARGO_SOURCE_")


def passed_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k in PASSED_ENV or k.startswith(PASSED_ENV_PREFIXES)}


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
        self.runner.run(step, [str(a) for a in argv], cwd or self.build, passed_env() | self.env | (env or {}))

    def shell(self, step: str, script: str, cwd: Path | None = None) -> None:
        env = {"DESTDIR": str(self.dest), "JOBS": str(self.jobs), "BUILD": str(self.build),
               "CONFIGURE_ARGS": " ".join(self.toolchain.configure_args())}
        self.run(step, ["sh", "-ec", script], cwd=cwd, env=env)

    def dep_dest(self, name: str) -> Path:
        return self.dep_results[name].dest


class StepRunner:
    """Runs a build's commands, each with its own log file; `verbose` also streams the log to the console."""

    def __init__(self, label: str, logs: Path, console: Console, verbose: bool = False):
        self.label, self.logs, self.console, self.verbose = label, logs, console, verbose
        self.steps: list[dict] = []
        logs.mkdir(parents=True, exist_ok=True)

    def run(self, step: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        log = self.logs / f"{len(self.steps) + 1:02d}-{step}.log"
        started = time.monotonic()
        with log.open("w") as fh, self._progress(step):
            fh.write(f"$ cd {cwd}\n$ {' '.join(argv)}\n")
            fh.flush()
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE if self.verbose else fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                if self.verbose:
                    self._stream(proc, fh)
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

    def _stream(self, proc: subprocess.Popen, fh) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            fh.write(line)
            self.console.print(f"[dim]{escape(self.label)}│[/] {escape(line.rstrip())}", highlight=False)

    @contextmanager
    def _progress(self, step: str) -> Iterator[None]:
        if not self.console.is_terminal or self.verbose:
            self.console.print(f"  ▶ {self.label}: {step}")
            yield
            return
        columns = (SpinnerColumn(), TextColumn(f"{self.label}: {step}"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as progress:
            progress.add_task(step, total=None)
            yield


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Workspace:
    """The folders of one build: `work` (source, build dir, staging prefix, tools) and `tmp` (the result)."""

    work: Path
    tmp: Path
    shared: Path


def musl_malloc_sysroot(sysroot: Path, into: Path) -> Path:
    """The toolchain's sysroot with libc.a swapped for the copy that keeps musl's own malloc."""
    (into / "lib").mkdir(parents=True)
    (into / "include").symlink_to(sysroot / "include")
    for item in (sysroot / "lib").iterdir():
        (into / "lib" / item.name).symlink_to(item)
    (into / "lib" / "libc.a").unlink()
    (into / "lib" / "libc.a").symlink_to(sysroot / "lib" / "libc-musl-malloc.a")
    return into


def make_context(target: Target, version: str, space: Workspace, deps: dict[str, Result], epoch: int,
                 jobs: int, allocator: str, runner: StepRunner) -> BuildContext:
    """Stage the dependency closure into one prefix and write the toolchain's wrappers for it."""
    toolchain_dep = TOOLCHAIN_OF.get(target.recipe.stage)
    staging = space.work / "deps"
    staging.mkdir()
    for result in deps.values():
        if result.target.recipe.stage is ToolchainStage.target:  # libraries, not the toolchain's parts
            shutil.copytree(result.dest, staging, symlinks=True, dirs_exist_ok=True)
    sysroot = deps[toolchain_dep].dest if toolchain_dep else None
    if sysroot and target.recipe.stage is ToolchainStage.target and allocator == "musl":
        sysroot = musl_malloc_sysroot(sysroot, space.work / "sysroot")
    toolchain = Toolchain(arch=target.arch, stage=target.recipe.stage, sysroot=sysroot,
                          tools_dir=space.work / "tools", deps=staging, source_date_epoch=epoch)
    toolchain.materialize()
    (space.work / "build").mkdir()
    (space.tmp / "dest").mkdir(parents=True)
    return BuildContext(target, version, space.work / "src", space.work / "build", space.tmp / "dest", staging,
                        toolchain, jobs, runner, deps, space.shared)


def run_build(ctx: BuildContext) -> None:
    """Patch, build with the recipe's builder, strip what ships."""
    for patch in ctx.target.recipe.patch_files():
        ctx.run(f"patch-{patch.stem}", ["patch", "-p1", "--forward", "-i", patch], cwd=ctx.src)
    ctx.target.recipe.builder.build(ctx)
    strip(ctx)


def strip(ctx: BuildContext) -> None:
    """Strip the installed binaries (symbols are not shipped; sizes are measured stripped)."""
    if ctx.toolchain.stage is not ToolchainStage.target:
        return
    files = [ctx.dest / b for b in ctx.target.recipe.binaries_for(ctx.target.arch.name)
             if (ctx.dest / b).is_file() and not (ctx.dest / b).is_symlink()]
    if files:
        ctx.run("strip", [ctx.toolchain.tool("strip"), "--strip-all", *files])
