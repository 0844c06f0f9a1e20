"""Build time: cold and warm per bundle and arch, one tool bumped, arm64 ÷ amd64, where the time goes.

Each arch gets its own empty cache seeded with the downloads only, so neither arch profits from
the other's Go or cargo caches and no download time is counted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from staticbuild import bundle
from staticbuild.arch import Arch
from staticbuild.catalog import Catalog
from staticbuild.engine import Engine, Settings
from staticbuild.lock import Lock

from .common import REPO, BenchSettings, fresh_cache, remove_tree, save, say, staticbuild, summary, timed

LOCK = REPO / "staticbuild.lock"


def package_args(spec: bundle.BundleSpec, arch: Arch, out: Path, *extra: str) -> list[str]:
    variant = ["--variant", spec.variant] if spec.variant else []
    return ["package", spec.tool, *variant, "--arch", arch.name, "--out", str(out), *extra]


def run(s: BenchSettings) -> dict:
    results: dict = {}
    for arch in Arch:
        results[arch.name] = measure_arch(s, arch)
        save(s.results, "build", results)  # a long run keeps what it has measured so far
    return results


def measure_arch(s: BenchSettings, arch: Arch) -> dict:
    cache = fresh_cache(s.seed, s.work / f"cache-{arch.name}")
    log = s.work / f"build-{arch.name}.log"
    log.unlink(missing_ok=True)
    sequence = {}
    for spec in bundle.BUNDLES:  # podman-full first: the others then mostly reuse its builds
        say(f"cold {spec.name} {arch}")
        sequence[spec.name] = round(timed(staticbuild(cache, *package_args(spec, arch, s.work / "dist")), log), 1)
    components = component_times(cache, arch)
    warm = {}
    for spec in bundle.BUNDLES:
        say(f"warm {spec.name} {arch} ×{s.runs}")
        warm[spec.name] = summary([timed(staticbuild(cache, *package_args(spec, arch, s.work / "warm", "--no-build")),
                                         log) for _ in range(s.runs)])
    cold = {spec.name: round(sum(components[c]["seconds"] for c in closure(cache, spec, arch))
                             + warm[spec.name]["median"], 1) for spec in bundle.BUNDLES}
    return {"cold_sequence": sequence, "cold": cold, "warm": warm, "components": components,
            "closures": {spec.name: closure(cache, spec, arch) for spec in bundle.BUNDLES},
            "bumped": bumped(s, cache, arch, log)}


def engine(cache: Path) -> Engine:
    catalog = Catalog.load()
    return Engine(Settings(cache=cache, lock=LOCK), catalog, Lock.load(LOCK))


def closure(cache: Path, spec: bundle.BundleSpec, arch: Arch) -> list[str]:
    """Every component a bundle needs built, the toolchain included."""
    eng = engine(cache)
    return sorted(t.recipe.name for t in eng.plan(bundle.components(spec, eng.catalog), [arch]))


def component_times(cache: Path, arch: Arch) -> dict:
    """Each component's build time and its steps, from the manifests the engine wrote."""
    eng = engine(cache)
    names = sorted({n for spec in bundle.BUNDLES for n in bundle.components(spec, eng.catalog)})
    results = eng.cached(names, [arch])
    return {t.recipe.name: {"seconds": r.manifest["seconds"],
                            "steps": {step["step"]: step["seconds"] for step in r.manifest["steps"]}}
            for t, r in results.items()}


def bumped(s: BenchSettings, cache: Path, arch: Arch, log: Path) -> dict:
    """A new upstream release of one tool: its build is gone, everything else stays cached.

    Go's build cache is keyed by file contents, so a rebuilt podman at the same source only links;
    a real version bump recompiles podman's own packages, so both ends are measured: Go's build
    cache kept (lower bound) and emptied (upper bound). netavark (Rust) recompiles its own crate
    either way, its dependencies stay in the shared cargo target dir.
    """
    full = bundle.find_bundle("podman", "full")
    out = s.work / "warm"
    builds = cache / "builds" / arch.name

    def rebuild(*drop: Path) -> float:
        for path in drop:
            remove_tree(path)
        return timed(staticbuild(cache, *package_args(full, arch, out)), log)

    say(f"bumped podman / netavark {arch}")
    return {
        "podman (Go build cache kept)": summary([rebuild(builds / "podman") for _ in range(s.runs)]),
        "netavark (Rust)": summary([rebuild(builds / "netavark") for _ in range(s.runs)]),
        "podman (Go build cache empty)": summary([rebuild(builds / "podman", cache / "shared" / "go-build")]),
    }


def clean(s: BenchSettings) -> None:
    for arch in Arch:
        remove_tree(s.work / f"cache-{arch.name}")
    shutil.rmtree(s.work / "warm", ignore_errors=True)
