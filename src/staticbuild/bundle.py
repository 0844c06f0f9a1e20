"""What each release bundle holds: short declarations, like recipes, and the file list they make.

A bundle unpacks to `{tool}-v{version}/` with `bin/`, `lib/podman/` (podman's helpers) and
`etc/containers/`. The binaries find that config and those helpers relative to themselves
(see recipes/patches/*bundle*.patch), so the bundle works under any prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .archive import EXECUTABLE, REGULAR, Entry
from .catalog import Catalog
from .context import Result
from .errors import StaticbuildError

CONFIG_DIR = Path(__file__).parent / "bundle_config"
ALL_CONFIG = ("containers.conf", "policy.json", "registries.conf", "storage.conf")
# Found by podman in <prefix>/lib/podman. fuse-overlayfs stays in bin/: containers/storage
# looks for it on $PATH only, and users run it directly too.
BUILDAH_HELPERS = ("crun", "netavark", "pasta", "pasta.avx2")
PODMAN_HELPERS = ("aardvark-dns", "catatonit", "conmon", "crun", "netavark", "pasta", "pasta.avx2", "rootlessport")


@dataclass(frozen=True)
class BundleSpec:
    tool: str
    variant: str | None
    bin: tuple[str, ...]  # binary names installed in bin/
    config: tuple[str, ...]  # files of bundle_config/ installed in etc/containers/
    helpers: tuple[str, ...] = ()  # binary names installed in lib/podman/

    @property
    def name(self) -> str:
        return f"{self.tool}-{self.variant}" if self.variant else self.tool

    def filename(self, arch: str) -> str:
        return f"{self.name}-linux-{arch}.tar.zst"

    def binaries(self) -> tuple[str, ...]:
        return self.bin + self.helpers


BUNDLES = (
    BundleSpec("podman", "full", bin=("podman", "fuse-overlayfs"), config=ALL_CONFIG, helpers=PODMAN_HELPERS),
    BundleSpec("podman", "minimal", bin=("podman",), config=ALL_CONFIG),
    # buildah sets up its network backend even for `buildah from scratch`, and `buildah run`
    # needs a runtime: without these the bundle could not build anything on a bare machine.
    BundleSpec("buildah", None, bin=("buildah",), config=ALL_CONFIG, helpers=BUILDAH_HELPERS),
    BundleSpec("skopeo", None, bin=("skopeo",), config=("policy.json", "registries.conf")),
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
