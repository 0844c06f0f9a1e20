from __future__ import annotations

from dataclasses import dataclass

from ..context import BuildContext


@dataclass(frozen=True)
class Autotools:
    """./configure && make && make install, cross-compiled, out-of-tree where the project allows."""

    configure_args: tuple[str, ...] = ()
    make_args: tuple[str, ...] = ()
    kind: str = "autotools"

    def build(self, ctx: BuildContext) -> None:
        if not (ctx.src / "configure").exists():
            # Tarballs made from a git tag carry only configure.ac: generate the script.
            ctx.run("autoreconf", ["autoreconf", "-fi"], cwd=ctx.src)
        ctx.run("configure", [ctx.src / "configure", *ctx.toolchain.configure_args(), *self.configure_args])
        ctx.run("make", ["make", f"-j{ctx.jobs}", *self.make_args])
        ctx.run("install", ["make", "install", f"DESTDIR={ctx.dest}", *self.make_args])
