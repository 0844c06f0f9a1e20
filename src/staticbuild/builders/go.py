from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..context import BuildContext
from ..recipe import PATCH_DIR
from ..toolchain import require

# A static cgo link goes through the musl wrapper; build IDs and paths are left out so the
# binary does not depend on the build machine.
STATIC_CGO = ("-linkmode", "external", "-extldflags", "-static")
REPRODUCIBLE = ("-s", "-w", "-buildid=")


@cache
def go_version() -> str:
    return subprocess.run([require("go"), "version"], capture_output=True, text=True, check=True).stdout.strip()


# The user's module proxy and checksum database settings, wherever they are set (environment
# or `go env -w`). Builds then run with GOENV=off, so nothing else of a go env file (GOFLAGS,
# GOEXPERIMENT, ...) can change what is built.
NETWORK_VARS = ("GOPROXY", "GOSUMDB", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE")


@cache
def go_network_env() -> dict[str, str]:
    proc = subprocess.run([require("go"), "env", "-json", *NETWORK_VARS], capture_output=True, text=True, check=True)
    return {k: v for k, v in json.loads(proc.stdout).items() if v} | {"GOENV": "off"}


@dataclass(frozen=True)
class DepPatch:
    """A patch (in recipes/patches/, paths relative to the module root) for one Go dependency.

    It is applied to a copy of the module, so the shared module cache stays exactly what
    go.sum vouches for.
    """

    module: str  # e.g. go.podman.io/common
    patch: str

    @property
    def path(self) -> Path:
        return PATCH_DIR / self.patch


@dataclass(frozen=True)
class Go:
    """`go build` of main packages; modules come through the Go module proxy, checked by go.sum."""

    packages: tuple[tuple[str, str], ...]  # (main package, installed path), e.g. ("./cmd/podman", "usr/bin/podman")
    tags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()  # -X settings; take {version} and {epoch}
    cgo: bool = True
    dep_patches: tuple[DepPatch, ...] = ()
    kind: str = "go"

    def tool_identity(self) -> str:
        return go_version()

    def input_files(self) -> list[Path]:
        return [p.path for p in self.dep_patches]

    def build(self, ctx: BuildContext) -> None:
        env = ctx.toolchain.go_env(ctx.build.parent, self.cgo) | go_network_env() | {
            "GOCACHE": str(ctx.shared / "go-build"),  # shared by every Go tool and both arches
            "GOMODCACHE": str(ctx.shared / "go-mod"),
            "GOFLAGS": "-trimpath -buildvcs=false -mod=mod",
        }
        stamps = [f.format(version=ctx.version, epoch=ctx.toolchain.source_date_epoch) for f in self.ldflags]
        link = " ".join([*(STATIC_CGO if self.cgo else ()), *REPRODUCIBLE, *stamps])
        ctx.run("download", [require("go"), "mod", "download"], cwd=ctx.src, env=env)
        self._patch_dependencies(ctx, env)
        for package, output in self.packages:
            ctx.run(f"build-{Path(package).name}", [
                require("go"), "build", "-tags", " ".join(self.tags), "-ldflags", link,
                "-o", ctx.dest / output, package], cwd=ctx.src, env=env)

    def _patch_dependencies(self, ctx: BuildContext, env: dict[str, str]) -> None:
        """Patch copies of dependency modules and point go.mod at them.

        Go refuses `-overlay` for files in the module cache, so each patched module is copied
        (from the cache, already checked against go.sum) and wired in with a `replace`.
        """
        for dep in self.dep_patches:
            cached = subprocess.run([require("go"), "list", "-m", "-f", "{{.Dir}}", dep.module], cwd=ctx.src,
                                    env=env, capture_output=True, text=True, check=True).stdout.strip()
            copy = ctx.build / "patched-modules" / dep.module
            shutil.copytree(cached, copy, copy_function=shutil.copyfile)  # not copy2: cache files are read-only
            for folder in [copy, *(p for p in copy.rglob("*") if p.is_dir())]:
                folder.chmod(0o755)
            ctx.run(f"patch-{dep.path.stem}", ["patch", "-p1", "--forward", "--batch", "-i", dep.path], cwd=copy)
            relative = os.path.relpath(copy, ctx.src)  # recorded in the binary's build info: no machine paths
            ctx.run(f"replace-{dep.path.stem}", [require("go"), "mod", "edit", f"-replace={dep.module}={relative}"],
                    cwd=ctx.src, env=env)
