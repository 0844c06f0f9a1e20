"""Build time: cold and warm per bundle and arch, one tool bumped, arm64 ÷ amd64, where the time goes.

Every cold build runs `staticbuild package` in its own empty cache that holds only the
downloads (prefetch.py): no download is timed and no bundle profits from another's builds or
Go and cargo caches. Builds of one bundle run one after another, each with `-j` = cores.
"""

from __future__ import annotations

from pathlib import Path

from staticbuild import bundle
from staticbuild.arch import Arch
from staticbuild.catalog import Catalog
from staticbuild.engine import Engine, Settings
from staticbuild.lock import Lock

from .common import BenchSettings, fresh_cache, remove_tree, save, say, staticbuild, summary, timed
from .prefetch import LOCK, PREVIOUS, bump_locks

FULL = bundle.find_bundle("podman", "full")
COMPILE_CACHES = ("shared/go-build", "shared/cargo-target")  # GBs; a warm package needs only builds/
SHARES_COMPILE_CACHES = ("aardvark-dns",)  # rebuilt with the previous releases: its crates are in yesterday's cargo dir


def package_args(spec: bundle.BundleSpec, arch: Arch, out: Path, *extra: str) -> list[str]:
    variant = ["--variant", spec.variant] if spec.variant else []
    return ["package", spec.tool, *variant, "--arch", arch.name, "--out", str(out), *extra]


def bundle_cache(s: BenchSettings, spec: bundle.BundleSpec, arch: Arch) -> Path:
    return s.work / "caches" / f"{spec.name}-{arch.name}"


def run(s: BenchSettings) -> dict:
    results: dict = {}
    for arch in Arch:
        results[arch.name] = measure_arch(s, arch)
        save(s.results, "build", results)  # a long run keeps what it has measured so far
    return results


def measure_arch(s: BenchSettings, arch: Arch) -> dict:
    log = s.work / f"build-{arch.name}.log"
    log.unlink(missing_ok=True)
    cold, warm, components = {}, {}, {}
    for spec in bundle.BUNDLES:
        cache = fresh_cache(s.seed, bundle_cache(s, spec, arch))
        say(f"cold {spec.name} {arch}")
        cold[spec.name] = round(timed(staticbuild(cache, *package_args(spec, arch, s.work / "dist")), log), 1)
        components[spec.name] = component_times(cache, spec, arch)
        say(f"warm {spec.name} {arch} ×{s.runs}")
        warm[spec.name] = summary([timed(staticbuild(cache, *package_args(spec, arch, s.work / "warm", "--no-build")),
                                         log) for _ in range(s.runs)])
        if spec is not FULL:
            for part in COMPILE_CACHES:
                remove_tree(cache / part)
    return {"cold": cold, "warm": warm, "components": components,
            "bumped": bumped(s, bundle_cache(s, FULL, arch), arch, log)}


def engine(cache: Path, lock: Path = LOCK) -> Engine:
    return Engine(Settings(cache=cache, lock=lock), Catalog.load(), Lock.load(lock))


def component_times(cache: Path, spec: bundle.BundleSpec, arch: Arch, lock: Path = LOCK) -> dict:
    """Build time and step times of every component in the bundle's closure, from the engine's manifests."""
    eng = engine(cache, lock)
    results = eng.cached(bundle.components(spec, eng.catalog), [arch])
    return {t.recipe.name: {"seconds": r.manifest["seconds"], "version": r.manifest["version"],
                            "steps": {step["step"]: step["seconds"] for step in r.manifest["steps"]}}
            for t, r in results.items()}


def bumped(s: BenchSettings, cache: Path, arch: Arch, log: Path) -> dict:
    """New upstream releases of podman and then netavark, in the cache of a cold podman-full build.

    First the cache is brought to what yesterday's pipeline would have left: podman and
    netavark built at their previous releases, Go's build cache and the cargo target dir
    holding only what those builds (and the unchanged components) compiled. Then each
    tool's pinned release arrives, one at a time, and podman-full is packaged again: only
    the bumped tool is rebuilt, recompiling the packages or crates that changed.
    """
    say(f"bumps {arch}")
    for name in (*PREVIOUS, *SHARES_COMPILE_CACHES):
        remove_tree(cache / "builds" / arch.name / name)
    for part in COMPILE_CACHES:
        remove_tree(cache / part)
    results = {}
    for step, lock in bump_locks(s).items():
        seconds = timed(staticbuild(cache, "--lock", lock, *package_args(FULL, arch, s.work / "bumped")), log)
        times = component_times(cache, FULL, arch, lock)
        rebuilt = (*PREVIOUS, *SHARES_COMPILE_CACHES) if step == "previous" else (step,)
        results[step] = {"seconds": round(seconds, 1), "rebuilt": {n: times[n] for n in rebuilt}}
    return results
