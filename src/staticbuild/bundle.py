"""What each release bundle holds: short declarations, like recipes, and the file list they make.

A bundle unpacks to `{tool}-v{version}/` with `bin/`, `lib/podman/` (podman's helpers),
`etc/containers/`, shell completions in `share/` and, in podman-full, podman's systemd units
and quadlet's generator links in `lib/systemd/`. The binaries find that config and those
helpers relative to themselves (see recipes/patches/*bundle*.patch), so the bundle works under
any prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import completions, systemd_units
from .archive import EXECUTABLE, REGULAR, Entry
from .catalog import Catalog
from .context import Result
from .errors import StaticbuildError
from .fetch import SourceCache
from .lock import Lock
from .source_files import files_under

CONFIG_DIR = Path(__file__).parent / "bundle_config"
ALL_CONFIG = ("containers.conf", "policy.json", "registries.conf", "storage.conf")
# Found by podman in <prefix>/lib/podman. fuse-overlayfs stays in bin/: containers/storage
# looks for it on $PATH only, and users run it directly too.
BUILDAH_HELPERS = ("crun", "netavark", "pasta", "pasta.avx2")
PODMAN_HELPERS = ("aardvark-dns", "catatonit", "conmon", "crun", "netavark", "pasta", "pasta.avx2", "rootlessport")
# quadlet sits with the helpers: podman finds it there (`podman quadlet …` looks it up like
# netavark) and the generator links in lib/systemd point at it.
FULL_HELPERS = (*PODMAN_HELPERS, "quadlet")


@dataclass(frozen=True)
class BundleSpec:
    tool: str
    variant: str | None
    bin: tuple[str, ...]  # binary names installed in bin/
    config: tuple[str, ...]  # files of bundle_config/ installed in etc/containers/
    helpers: tuple[str, ...] = ()  # binary names installed in lib/podman/
    systemd: bool = False  # podman's units and quadlet's generator links in lib/systemd/
    completions: bool = False  # `TOOL completion SHELL` scripts in share/ (the tool must have that command)

    @property
    def name(self) -> str:
        return f"{self.tool}-{self.variant}" if self.variant else self.tool

    def filename(self, arch: str) -> str:
        return f"{self.name}-linux-{arch}.tar.zst"

    def binaries(self) -> tuple[str, ...]:
        return self.bin + self.helpers


BUNDLES = (
    # fusermount3 goes on $PATH, where libfuse looks for it (after its own /usr/bin).
    BundleSpec("podman", "full", bin=("podman", "fuse-overlayfs", "fusermount3"), config=ALL_CONFIG,
               helpers=FULL_HELPERS, systemd=True, completions=True),
    BundleSpec("podman", "minimal", bin=("podman",), config=ALL_CONFIG, completions=True),
    # buildah sets up its network backend even for `buildah from scratch`, and `buildah run`
    # needs a runtime: without these the bundle could not build anything on a bare machine.
    BundleSpec("buildah", None, bin=("buildah",), config=ALL_CONFIG, helpers=BUILDAH_HELPERS, completions=True),
    BundleSpec("skopeo", None, bin=("skopeo",), config=("policy.json", "registries.conf"), completions=True),
)
DEFAULT_VARIANT = {"podman": "full"}


def find_bundle(tool: str, variant: str | None) -> BundleSpec:
    tools = sorted({b.tool for b in BUNDLES})
    if tool not in tools:
        raise StaticbuildError(f"unknown tool '{tool}' (bundles exist for: {', '.join(tools)})")
    variant = variant or DEFAULT_VARIANT.get(tool)
    for spec in BUNDLES:
        if spec.tool == tool and spec.variant == variant:
            return spec
    variants = [b.variant for b in BUNDLES if b.tool == tool and b.variant]
    if not variants:
        raise StaticbuildError(f"{tool} has no variants; leave out --variant")
    raise StaticbuildError(f"unknown variant '{variant}' for {tool} (known: {', '.join(variants)})")


def components(spec: BundleSpec, catalog: Catalog) -> list[str]:
    """The components whose builds the bundle takes binaries from (the tool first)."""
    names = [binary_recipe(catalog, b).name for b in spec.binaries()]
    return list(dict.fromkeys([spec.tool, *names]))


def binary_recipe(catalog: Catalog, binary: str):
    try:
        return catalog.by_binary[binary]
    except KeyError:
        raise StaticbuildError(f"no component installs a binary named '{binary}'") from None


def top_folder(spec: BundleSpec, version: str) -> str:
    return f"{spec.tool}-v{version}"


def entries(spec: BundleSpec, arch: str, results: dict[str, Result], catalog: Catalog) -> list[Entry]:
    """Every file of the bundle for one arch; a binary a component makes only for other arches is left out."""
    top = top_folder(spec, results[spec.tool].manifest["version"])
    files = []
    for folder, names in (("bin", spec.bin), ("lib/podman", spec.helpers)):
        for name in names:
            recipe = binary_recipe(catalog, name)
            installed = [b for b in recipe.binaries_for(arch) if b.rsplit("/", 1)[-1] == name]
            if installed:  # e.g. pasta.avx2 exists for amd64 only
                files.append(Entry(f"{top}/{folder}/{name}", results[recipe.name].dest / installed[0], EXECUTABLE))
    files += [Entry(f"{top}/etc/containers/{name}", CONFIG_DIR / name, REGULAR) for name in spec.config]
    return files


def generated(spec: BundleSpec, results: dict[str, Result], amd64_results: dict[str, Result], lock: Lock,
              sources: SourceCache) -> list[Entry]:
    """Files made at package time: completions from the amd64 tool, units from podman's pinned source."""
    top = top_folder(spec, results[spec.tool].manifest["version"])
    files = []
    if spec.completions:
        tool = amd64_results[spec.tool]
        binary = next(b for b in tool.target.recipe.binaries_for("amd64") if b.rsplit("/", 1)[-1] == spec.tool)
        files += completions.entries(top, spec.tool, tool.dest / binary)
    if spec.systemd:
        archive, source = sources.get("podman", lock.pin("podman"))
        files += systemd_units.entries(top, files_under(archive, source.subdir, systemd_units.CONTRIB))
    return files
