from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache

from ..engine import BuildContext
from ..toolchain import require

# A static cgo link goes through the musl wrapper; build IDs and paths are left out so the
# binary does not depend on the build machine.
STATIC_CGO = ("-linkmode", "external", "-extldflags", "-static")
REPRODUCIBLE = ("-s", "-w", "-buildid=")


@cache
def go_version() -> str:
    return subprocess.run([require("go"), "version"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True)
class Go:
    """`go build` of one main package; modules come through the Go module proxy, checked by go.sum."""

    package: str  # e.g. ./cmd/podman
    output: str  # installed path, e.g. usr/bin/podman
    tags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()  # -X settings; take {version} and {epoch}
    cgo: bool = True
    kind: str = "go"

    def tool_identity(self) -> str:
        return go_version()

    def build(self, ctx: BuildContext) -> None:
        env = ctx.toolchain.go_env(ctx.build.parent, self.cgo) | {
            "GOCACHE": str(ctx.shared / "go-build"),  # shared by every Go tool and both arches
            "GOMODCACHE": str(ctx.shared / "go-mod"),
            "GOFLAGS": "-trimpath -buildvcs=false -mod=mod",
        }
        stamps = [f.format(version=ctx.version, epoch=ctx.toolchain.source_date_epoch) for f in self.ldflags]
        link = " ".join([*(STATIC_CGO if self.cgo else ()), *REPRODUCIBLE, *stamps])
        ctx.run("download", [require("go"), "mod", "download"], cwd=ctx.src, env=env)
        ctx.run("build", [require("go"), "build", "-tags", " ".join(self.tags), "-ldflags", link,
                          "-o", ctx.dest / self.output, self.package], cwd=ctx.src, env=env)
