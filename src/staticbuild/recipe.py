"""What a component is: a short declaration, like a Spack package or a Homebrew formula.

A recipe says *what* (source, dependencies, options, binaries, smoke test); the builder
object it names says *how*; versions and digests live in the lock file, not here.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .context import BuildContext


PATCH_DIR = Path(__file__).parent / "recipes" / "patches"


class Builder(Protocol):
    """Shared build logic (autotools, make, meson, ...); recipes hold a configured instance."""

    kind: str

    def build(self, ctx: BuildContext) -> None: ...


class ToolchainStage(enum.Enum):
    """Which compiler a recipe is built with: the bootstrap chain that produces the final one."""

    host_cross = "host-cross"  # Debian's gcc / cross gcc, glibc-free flags (builds musl itself)
    bare_musl = "bare-musl"  # musl sysroot with musl's own malloc (builds mimalloc)
    target = "target"  # final sysroot: musl with mimalloc inside libc.a (everything else)


@dataclass(frozen=True)
class Smoke:
    """The recipe's own small test of a built binary (Homebrew's `test do`)."""

    args: tuple[str, ...] = ("--version",)
    expect: str = "{version}"  # must appear in the output; formatted with version=...

    def expected(self, version: str) -> str:
        return self.expect.format(version=version)


@dataclass(frozen=True)
class Upstream:
    """Where a release comes from; `staticbuild lock refresh` turns these into pinned locations.

    Templates take {version} and {version_compact} (the version without underscores). `debian` names a Debian source package and its orig file;
    `crate` names a crate (and version template) on the crate registry whose tarball
    carries the sources under `subdir`.
    """

    url: str | None = None
    debian: tuple[str, str] | None = None  # (source package, orig file name template)
    crate: tuple[str, str] | None = None  # (crate name, crate version template)
    gomod: str | None = None  # Go module path; its version is "v" + the component version
    subdir: str = ""


@dataclass(frozen=True)
class Limit:
    """Upstream versions from `below` on need more than this recipe has (a new library, a rewrite):
    they are never pinned by the unattended bump, which names the reason instead."""

    below: str
    reason: str


@dataclass(frozen=True)
class Needs:
    """What one release line of a component requires of others (from its release notes and go.mod):
    component -> (at least, below). A bundle that breaks it is refused."""

    line: str  # the major version it applies to, e.g. "6" for podman 6.x
    components: tuple[tuple[str, str, str], ...]  # (component, at least, below)


@dataclass(frozen=True, eq=False)  # one object per name in the catalog: identity is equality
class Recipe:
    name: str
    summary: str
    homepage: str
    license: str
    builder: Builder
    upstream: tuple[Upstream, ...] = ()
    depends: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()  # paths under the install prefix that `--out` and bundles take
    arch_binaries: dict[str, tuple[str, ...]] = field(default_factory=dict)  # extra ones per arch
    smoke: dict[str, Smoke] = field(default_factory=dict)  # binary name -> its test
    patches: tuple[str, ...] = ()  # files in recipes/patches/, applied with `patch -p1` in order
    stage: ToolchainStage = ToolchainStage.target
    arches: tuple[str, ...] = ("amd64", "arm64")
    limit: Limit | None = None  # the first upstream version this recipe cannot build
    needs: tuple[Needs, ...] = ()  # per release line: the versions it requires of other components

    def patch_files(self) -> list[Path]:
        return [PATCH_DIR / name for name in self.patches]

    def fingerprint(self) -> str:
        """Digest of everything that changes the build output (not summary, smoke or docs)."""
        builder_inputs = getattr(self.builder, "input_files", list)()  # e.g. the Go builder's dependency patches
        patches = [p.read_bytes() for p in [*self.patch_files(), *builder_inputs]]
        material = repr((self.name, self.builder, self.depends, self.binaries,
                         sorted(self.arch_binaries.items()), self.stage, patches))
        return hashlib.sha256(material.encode()).hexdigest()

    def binaries_for(self, arch: str) -> tuple[str, ...]:
        return self.binaries + self.arch_binaries.get(arch, ())

    def all_binaries(self) -> set[str]:
        return {b for arch in self.arches for b in self.binaries_for(arch)}

    def smoke_for(self, binary: str) -> Smoke | None:
        return self.smoke.get(binary.rsplit("/", 1)[-1])
