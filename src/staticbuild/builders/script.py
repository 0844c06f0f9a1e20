from __future__ import annotations

from dataclasses import dataclass

from ..context import BuildContext


@dataclass(frozen=True)
class Script:
    """Named shell steps run in the source tree with the toolchain's variables ($CC, $AR, $DESTDIR, ...)."""

    steps: tuple[tuple[str, str], ...]
    kind: str = "script"

    def build(self, ctx: BuildContext) -> None:
        for name, script in self.steps:
            ctx.shell(name, script, cwd=ctx.src)
