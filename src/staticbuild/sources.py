"""`staticbuild sources`: the corresponding source of a tool's release, in one reproducible archive.

The bundles hold GPL and LGPL code (crun, fuse-overlayfs, libfuse, glib, libseccomp, passt,
catatonit, ...) linked statically, so each release carries what it was built from: every
source archive the lock pins for the components of the tool's bundles (toolchain included),
the patches, the lock entries and how to rebuild. Go modules and crates are fetched by their
go.sum and Cargo.lock digests from the module proxy and the crate registry; each Go module's
and crate's licence text is in the bundle (share/licenses/).
"""

from __future__ import annotations

from pathlib import Path

import tomli_w

from . import bundle
from .archive import Entry, write_tar_zst
from .atomic import atomic_path
from .catalog import Catalog
from .engine import closure
from .fetch import SourceCache
from .lock import Lock

SUFFIX = "-sources.tar.zst"
README = """\
# Corresponding source of {tool} {version}

Everything the {tool} bundles of this release were built from, as pinned by the
staticbuild.lock below (every file's SHA-256 is in SHA256SUMS and in the lock):

* `archives/`: the upstream source archive of each component (the toolchain's musl and
  mimalloc included), exactly as pinned;
* `patches/`: the patches applied to them, and to Go dependencies, at build time;
* `staticbuild.lock`: the lock entries of these components.

Go modules and Rust crates are fetched by the digests in each tool's go.sum and each
crate's Cargo.lock from the Go module proxy and the crate registry; their licence texts are
in the bundle under share/licenses/.

To rebuild: check out the staticbuild repository at this release's tag, copy each archive
into the cache under its SHA-256 (the build then needs no download of these), and package:

    mkdir -p ~/.cache/staticbuild/sources
    for f in archives/*; do cp "$f" ~/.cache/staticbuild/sources/"$(sha256sum "$f" | cut -d' ' -f1)"; done
    make setup && .venv/bin/staticbuild package {tool} --arch all
"""


def components(catalog: Catalog, tool: str) -> list[str]:
    """Every component of the tool's bundles and what they are built with."""
    names: set[str] = set()
    for spec in (b for b in bundle.BUNDLES if b.tool == tool):
        for name in bundle.components(spec, catalog):
            names |= {name, *closure(catalog, catalog.get(name))}
    return sorted(names)


def archive_name(component: str, version: str, url: str) -> str:
    """`musl-1.2.5.tar.gz` from the pinned location's own file name and extension."""
    leaf = url.rsplit("/", 1)[-1].rsplit("@", 1)[-1]
    extension = next((e for e in (".tar.gz", ".tar.xz", ".tar.bz2", ".tgz", ".zip", ".crate") if leaf.endswith(e)),
                     ".zip" if url.startswith("gomod:") else ".tar.gz" if url.startswith("crate:") else "")
    return f"{component}-{version}{extension}"


def write_sources(catalog: Catalog, lock: Lock, tool: str, out: Path, sources: SourceCache) -> Path:
    """`{tool}-v{version}-sources.tar.zst` in `out`; downloads what the cache lacks (digest-checked)."""
    names = [n for n in components(catalog, tool) if catalog.get(n).upstream]
    entries, sums, patches = [], [], set()
    version = lock.pin(tool).version
    top = f"{tool}-v{version}-sources"
    for name in names:
        pin = lock.pin(name)
        path, source = sources.get(name, pin)
        file = archive_name(name, pin.version, source.url)
        entries.append(Entry(f"{top}/archives/{file}", path))
        sums.append(f"{source.sha256}  archives/{file}")
        recipe = catalog.get(name)
        patches |= set(recipe.patch_files()) | set(getattr(recipe.builder, "input_files", list)())
    entries += [Entry(f"{top}/patches/{p.name}", p) for p in sorted(patches)]
    excerpt = {n: {"version": lock.pin(n).version, **({"epoch": lock.pin(n).epoch} if lock.pin(n).epoch else {}),
                   "sources": [{k: v for k, v in vars(s).items() if v} for s in lock.pin(n).sources]}
               for n in names}
    entries += [Entry(f"{top}/staticbuild.lock", tomli_w.dumps(excerpt).encode()),
                Entry(f"{top}/SHA256SUMS", ("\n".join(sums) + "\n").encode()),
                Entry(f"{top}/README.md", README.format(tool=tool, version=version).encode())]
    out.mkdir(parents=True, exist_ok=True)
    dest = out / f"{tool}-v{version}{SUFFIX}"
    with atomic_path(dest) as tmp:
        write_tar_zst(entries, lock.pin(tool).epoch or max(lock.pin(n).epoch for n in names), tmp)
    return dest

