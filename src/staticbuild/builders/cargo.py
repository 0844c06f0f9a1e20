from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache

from ..context import BuildContext
from ..toolchain import CARGO, RUSTC, require


@cache
def rustc_version() -> str:
    """rustc's verbose version (commit, LLVM) and cargo's: Debian's rustc-web also builds std from its sources."""
    rustc = subprocess.run([require(RUSTC), "-vV"], capture_output=True, text=True, check=True).stdout.strip()
    cargo = subprocess.run([require(CARGO), "-V"], capture_output=True, text=True, check=True).stdout.strip()
    return f"{rustc}\n{cargo}"


@dataclass(frozen=True)
class Cargo:
    """cargo build --locked of named binaries for the musl target, std built from source."""

    bins: tuple[str, ...]
    install_dir: str = "usr/libexec/podman"  # where podman's helper_binaries_dir looks
    kind: str = "cargo"

    def tool_identity(self) -> str:
        return rustc_version()

    def build(self, ctx: BuildContext) -> None:
        tc = ctx.toolchain
        env = tc.cargo_env(ctx.build.parent.parent.parent, ctx.shared)
        triple = tc.arch.rust_target
        ctx.run("build", [require(CARGO), "build", "--release", "--locked", "-Z", "build-std=std,panic_abort",
                          "--target", triple, *[f"--bin={b}" for b in self.bins], f"-j{ctx.jobs}"],
                cwd=ctx.src, env=env)
        release = f"{env['CARGO_TARGET_DIR']}/{triple}/release"
        ctx.shell("install", " && ".join(
            f'install -Dm755 "{release}/{b}" "$DESTDIR/{self.install_dir}/{b}"' for b in self.bins))
