from __future__ import annotations

from dataclasses import dataclass

from ..context import BuildContext


@dataclass(frozen=True)
class Make:
    """A plain Makefile project built in its source tree; variables are passed on the command line."""

    make_args: tuple[str, ...] = ()
    install_target: str = "install"
    kind: str = "make"

    def build(self, ctx: BuildContext) -> None:
        env = ctx.env
        variables = [f"CC={env['CC']}", f"CFLAGS={env['CFLAGS']} {env['CPPFLAGS']}", f"LDFLAGS={env['LDFLAGS']}",
                     "prefix=/usr", *[a.format(version=ctx.version) for a in self.make_args]]
        ctx.run("make", ["make", f"-j{ctx.jobs}", *variables], cwd=ctx.src)
        ctx.run("install", ["make", self.install_target, f"DESTDIR={ctx.dest}", *variables], cwd=ctx.src)
