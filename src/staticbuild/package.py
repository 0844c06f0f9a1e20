"""The release pipeline for one bundle: build (what is missing) → archive → SBOM → checksums.

Signing is its own stage (`staticbuild sign`): it runs once over the whole release directory,
after every bundle of every arch is in it, as GoReleaser's sign step does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from . import bundle, licenses
from .archive import write_tar_zst
from .arch import Arch
from .atomic import atomic_path
from .catalog import Catalog
from .checksums import write_checksums
from .compat import unmet_needs
from .engine import Engine, Settings
from .errors import StaticbuildError
from .fetch import SourceCache, sha256_of
from .lock import Lock
from .sbom import make_sbom


@dataclass(frozen=True)
class Packaged:
    bundle: Path
    sbom: Path
    version: str
    files: int
    seconds: float


def sbom_path(bundle_path: Path) -> Path:
    return bundle_path.with_name(bundle_path.name.removesuffix(".tar.zst") + ".cdx.json")


def package(settings: Settings, catalog: Catalog, lock: Lock, spec: bundle.BundleSpec, arch: Arch, out: Path,
            build_missing: bool = True, console: Console | None = None) -> Packaged:
    engine = Engine(settings, catalog, lock, console)
    names = bundle.components(spec, catalog)
    unmet = unmet_needs(catalog, {n: lock.pin(n).version for n in names if catalog.get(n).upstream})
    if unmet:  # e.g. podman 6 with a netavark 3 in the lock: never shipped together
        raise StaticbuildError(f"{spec.name}: {'; '.join(u.message for u in unmet)}")
    # Completions come from the amd64 build of the tool (run natively), for the arm64 bundle too.
    wanted = [(names, arch), *([([spec.tool], Arch.amd64)] if spec.completions and arch is not Arch.amd64 else [])]
    found = [engine.build(n, [a]) if build_missing else engine.cached(n, [a]) for n, a in wanted]
    results = {target.recipe.name: result for target, result in found[0].items()}  # the whole closure
    amd64 = {target.recipe.name: result for target, result in found[-1].items()}
    started = time.monotonic()
    files = bundle.entries(spec, arch.name, results, catalog)
    sources = SourceCache(settings.cache)
    files += bundle.generated(spec, results, amd64, lock, sources)
    notices = licenses.collect(results, files, catalog, sources, settings.cache / "shared")
    files += licenses.entries(bundle.top_folder(spec, results[spec.tool].manifest["version"]), notices)
    tool = results[spec.tool].manifest
    out.mkdir(parents=True, exist_ok=True)
    dest = out / spec.filename(arch.name)
    with atomic_path(dest) as tmp_bundle, atomic_path(sbom_path(dest)) as tmp_sbom:
        write_tar_zst(files, tool["source_date_epoch"], tmp_bundle)
        tmp_sbom.write_text(make_sbom(spec.name, tool["version"], tool["source_date_epoch"], sha256_of(tmp_bundle),
                                      files, results, catalog, lock, sources, licenses.paths_by_ref(notices)))
    write_checksums(out)
    return Packaged(dest, sbom_path(dest), tool["version"], len(files), round(time.monotonic() - started, 1))
