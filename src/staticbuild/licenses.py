"""Licence texts of everything a bundle links statically, placed in the bundle under share/licenses/.

A static binary carries its libraries, so it carries their licences' conditions too: the
components built here (texts from their pinned source archives), the Go modules linked into
each Go binary (from Go's module cache), the crates of each Rust component (from cargo's
registry cache), and the Go and Rust standard libraries. A component whose source has no
licence file stops packaging: a bundle never ships without the texts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .archive import EXECUTABLE, REGULAR, Entry
from .catalog import Catalog
from .context import Result
from .errors import StaticbuildError
from .fetch import SourceCache
from .sbom import crates, go_modules
from .source_files import tree
from .toolchain import RUSTC, require

# File names that hold licence texts, at the top of a source tree or in its LICENSES/ folder (REUSE).
LICENSE_FILE = re.compile(r"(?i)(licen[cs]e|copying|copyright|notice|unlicense)([._-][\w.+-]*)?")
FOLDER = "share/licenses"


@dataclass(frozen=True)
class Notice:
    """Licence texts of one thing in the bundle: where they go and the SBOM component they belong to."""

    bom_ref: str
    folder: str  # under share/licenses/
    texts: tuple[tuple[str, bytes], ...]  # (file name, bytes)


def is_license_file(relative: PurePosixPath) -> bool:
    top = relative.parts
    return (len(top) == 1 and LICENSE_FILE.fullmatch(top[0]) is not None) or \
        (len(top) == 2 and top[0] == "LICENSES")


def archive_texts(archive: Path, subdir: str = "") -> list[tuple[str, bytes]]:
    """Licence files at the top of the source tree in a tarball or zip (its single top folder, or subdir)."""
    return sorted((name.replace("LICENSES/", "LICENSES-"), data) for name, data in tree(archive, subdir).items()
                  if is_license_file(PurePosixPath(name)))


def remembered_texts(memo: Path, key: str, read: Callable[[], list[tuple[str, bytes]]]) -> list[tuple[str, bytes]]:
    """`read()` once per immutable archive (a pinned digest, a crate version): scanning a large tarball
    for its licence files takes longer than packaging the bundle. Kept in `memo/<key>/`."""
    folder = memo / key
    if (folder / ".complete").exists():
        return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.name != ".complete")
    texts = read()
    tmp = memo / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in texts:
        (tmp / name).write_bytes(data)
    (tmp / ".complete").touch()
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return texts


def folder_texts(folder: Path) -> list[tuple[str, bytes]]:
    if not folder.is_dir():
        return []
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.is_file() and
                  LICENSE_FILE.fullmatch(p.name))


def component_notices(results: dict[str, Result], sources: SourceCache, memo: Path) -> Iterator[Notice]:
    for name, result in sorted(results.items()):
        source = result.manifest.get("source")
        if not source:
            continue  # assembled from other components (the toolchain): their texts are there
        subdir = source.get("subdir", "")
        texts = remembered_texts(memo, f"{source['sha256']}-{subdir.replace('/', '_')}",
                                 lambda: archive_texts(sources.path(source["sha256"]), subdir))
        if not texts:
            raise StaticbuildError(f"no licence text in {name}'s source ({result.manifest['version']}): "
                                   "add its file name to licenses.LICENSE_FILE")
        yield Notice(f"recipe:{name}", name, tuple(texts))


def go_module_dir(module_cache: Path, module: str, version: str) -> Path:
    """Where `go mod download` unpacked a module (upper-case letters are escaped as '!' + lower case)."""
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), f"{module}@{version}")
    return module_cache / escaped


def go_notices(modules: list[tuple[str, str]], module_cache: Path) -> Iterator[Notice]:
    goroot = subprocess.run([require("go"), "env", "GOROOT"], capture_output=True, text=True, check=True).stdout
    yield Notice("go:stdlib", "go", tuple(folder_texts(Path(goroot.strip()))))
    for module, version in sorted(set(modules)):
        texts = folder_texts(go_module_dir(module_cache, module, version))
        if texts:  # a few small modules ship none; the SBOM still names them
            yield Notice(f"go:{module}@{version}", f"go/{module}@{version}", tuple(texts))


def crate_notices(crates: list[tuple[str, str]], registry_cache: Path, memo: Path) -> Iterator[Notice]:
    """Rust's standard library and the crates compiled for the target: their .crate files are in cargo's
    cache (Cargo.lock also lists other platforms' crates, which were never downloaded nor linked)."""
    version = subprocess.run([require(RUSTC), "--version"], capture_output=True, text=True).stdout.split()[1]
    std = folder_texts(Path("/usr/src") / f"rustc-{version}")  # rust-web-src, which std was built from
    if not std:
        raise StaticbuildError(f"no licence text of Rust's standard library in /usr/src/rustc-{version}: "
                               "install rust-web-src (`make setup`)")
    yield Notice("rust:std", "rust-std", tuple(std))
    for name, version in sorted(set(crates)):
        hits = sorted(registry_cache.glob(f"*/{name}-{version}.crate"))
        texts = remembered_texts(memo, f"crate-{name}-{version}", lambda: archive_texts(hits[0])) if hits else []
        if texts:
            yield Notice(f"crate:{name}@{version}", f"crates/{name}-{version}", tuple(texts))


def collect(results: dict[str, Result], files: list[Entry], catalog: Catalog, sources: SourceCache,
            shared: Path) -> list[Notice]:
    """Every licence notice a bundle of these files needs (`results`: the whole closure)."""
    memo = shared.parent / "licenses"
    notices = list(component_notices(results, sources, memo))
    modules = [(m, v) for e in files if isinstance(e.source, Path) and e.mode == EXECUTABLE
               for m, v, _sum in go_modules(e.source)]
    if modules:
        notices += go_notices(modules, shared / "go-mod")
    rust = [n for n, r in results.items() if catalog.get(n).builder.kind == "cargo"]
    if rust:
        crate_list = [(c, v) for n in rust for c, v, _sum in crates(sources.path(results[n].manifest["source"]["sha256"]), n)]
        cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
        notices += crate_notices(crate_list, cargo_home / "registry" / "cache", memo)
    return notices


def entries(top: str, notices: list[Notice]) -> list[Entry]:
    return [Entry(f"{top}/{FOLDER}/{n.folder}/{file}", data, REGULAR) for n in notices for file, data in n.texts]


def paths_by_ref(notices: list[Notice]) -> dict[str, list[str]]:
    """bom-ref -> the bundle paths of its licence texts (relative to the bundle's top folder)."""
    return {n.bom_ref: [f"{FOLDER}/{n.folder}/{file}" for file, _ in n.texts] for n in notices}
