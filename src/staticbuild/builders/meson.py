from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..context import BuildContext
from ..toolchain import first_line

# meson and ninja come from the project's virtualenv (pinned), not from the distribution.
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Meson:
    """meson setup with a cross file, ninja, meson install into the staging prefix."""

    options: tuple[str, ...] = ()  # -Dname=value
    targets: tuple[str, ...] = ()  # build only these ninja targets (then `install_script` installs them)
    install_script: str = ""  # shell run in the build dir instead of `meson install`
    kind: str = "meson"

    def tool_identity(self) -> str:
        return f"{first_line([str(BIN / 'meson'), '--version'])}; ninja {first_line([str(BIN / 'ninja'), '--version'])}"

    def build(self, ctx: BuildContext) -> None:
        cross = ctx.toolchain.meson_cross_file(ctx.build.parent / "cross.ini")
        path = {"PATH": f"{BIN}:{ctx.env['PATH']}"}
        ctx.run("setup", [BIN / "meson", "setup", ctx.build, ctx.src, "--cross-file", cross, "--prefix=/usr",
                          "--libdir=lib", "--buildtype=release", "--wrap-mode=nofallback", *self.options],
                cwd=ctx.src, env=path)
        ctx.run("compile", [BIN / "ninja", "-C", ctx.build, f"-j{ctx.jobs}", *self.targets])
        if self.install_script:
            ctx.shell("install", self.install_script, cwd=ctx.build)
        else:
            ctx.run("install", [BIN / "meson", "install", "-C", ctx.build, "--no-rebuild", "--destdir", ctx.dest])
