"""Allocator: one source built three ways, on allocation-heavy real work.

mimalloc is what ships (static musl, mimalloc inside libc.a); musl is the same static build with
musl's own malloc (`staticbuild build --allocator musl`); glibc is a dynamic build from the same
pinned, patched sources, with the recipes' own options, the host's compilers and glibc's malloc.
Go's heap does not go through malloc at all, so podman, buildah and skopeo are not measured:
only their cgo parts use it. amd64 only.
"""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from staticbuild.arch import Arch
from staticbuild.builders.meson import BIN as MESON_BIN  # the pinned meson and ninja
from staticbuild.catalog import Catalog
from staticbuild.extract import extract_source
from staticbuild.fetch import SourceCache
from staticbuild.lock import Lock
from staticbuild.toolchain import CARGO, RUSTC

from . import workloads
from .build import FULL, bundle_cache
from .common import REPO, BenchSettings, remove_tree, say, staticbuild, summary, timed

COMPONENTS = ("aardvark-dns", "fuse-overlayfs", "crun")


def run(s: BenchSettings) -> dict:
    cache = bundle_cache(s, FULL, Arch.amd64)  # its toolchain and sources are there already
    if not cache.is_dir():
        raise SystemExit(f"{cache} is missing: run `python -m bench build` first")
    root = s.work / "alloc"
    root.mkdir(parents=True, exist_ok=True)
    binaries = {v: static_build(cache, root, v) for v in ("mimalloc", "musl")}
    binaries["glibc"] = glibc_build(cache, root)
    of = lambda name: {v: b[name] for v, b in binaries.items()}  # noqa: E731
    common_profile = sorted(glob.glob(str(s.seed / "shared/go-mod/go.podman.io/common@*/pkg/seccomp/seccomp.json")))
    if not common_profile:
        raise SystemExit("containers/common's seccomp.json is not in the seed's Go module cache: run the prefetch")
    bundle = workloads.crun_bundle(root, binaries["mimalloc"]["crun"], workloads.seccomp_profile(Path(common_profile[-1])))
    return {
        "sizes": {v: {name: path.stat().st_size for name, path in b.items()} for v, b in binaries.items()},
        "aardvark-dns": interleaved(s, of("aardvark-dns"), lambda b: workloads.dns_burst(root, b)),
        "fuse-overlayfs": {mode: interleaved(s, of("fuse-overlayfs"),
                                             lambda b, t=threaded: workloads.file_workload(root, b, t))
                           for mode, threaded in (("default", False), ("threaded", True))},
        "crun": interleaved(s, of("crun"), lambda b: workloads.crun_starts(bundle, b)),
        "setup": workloads.SETUP,
    }


def interleaved(s: BenchSettings, binaries: dict[str, Path], once: Callable[[Path], dict[str, float]]) -> dict:
    """Each repetition runs every variant once, in turn, so drift on the machine hits them alike;
    {variant: {measure: summary}}."""
    samples: dict[str, dict[str, list[float]]] = {v: {} for v in binaries}
    for _ in range(s.runs):
        for variant, binary in binaries.items():
            for measure, value in once(binary).items():
                samples[variant].setdefault(measure, []).append(value)
    return {v: {m: summary(values) for m, values in measures.items()} for v, measures in samples.items()}


# -- the three builds ------------------------------------------------------------------------------
def static_build(cache: Path, root: Path, allocator: str) -> dict[str, Path]:
    out = root / allocator
    say(f"static build, {allocator} allocator")
    timed(staticbuild(cache, "build", *COMPONENTS, "--arch", "amd64", "--allocator", allocator, "--out", out),
          root / "build.log")
    return {n: out / "amd64" / "bin" / n for n in COMPONENTS}


def source(cache: Path, name: str, dest: Path) -> Path:
    """The pinned source, digest-checked by the source cache, with the recipe's own patches applied."""
    lock, recipe = Lock.load(REPO / "staticbuild.lock"), Catalog.load().get(name)
    archive, pinned = SourceCache(cache).get(name, lock.pin(name))
    remove_tree(dest)
    extract_source(archive, dest, pinned.subdir)
    for patch in recipe.patch_files():
        subprocess.run(["patch", "-s", "-p1", "-i", patch], cwd=dest, check=True)
    return dest


def glibc_build(cache: Path, root: Path) -> dict[str, Path]:
    """Dynamic glibc builds with the same compilers (Debian's rustc, gcc -O2) and the recipes' options."""
    work, log = root / "glibc", root / "build.log"
    prefix = work / "prefix"
    say("dynamic glibc builds")
    src = source(cache, "aardvark-dns", work / "aardvark-dns")
    env = os.environ | {"RUSTC": RUSTC, "CARGO_TARGET_DIR": str(work / "cargo-target")}
    timed([CARGO, "build", "--release", "--locked", "--bin", "aardvark-dns"], log, cwd=src, env=env)
    fuse = source(cache, "fuse3", work / "fuse3")
    timed([MESON_BIN / "meson", "setup", "build", f"--prefix={prefix}", "--libdir=lib", "--buildtype=release",
           *recipe_args("fuse3")], log, cwd=fuse)
    timed([MESON_BIN / "ninja", "-C", "build", "install"], log, cwd=fuse)
    overlayfs = autotools(source(cache, "fuse-overlayfs", work / "fuse-overlayfs"), prefix, log)
    autotools(source(cache, "libseccomp", work / "libseccomp"), prefix, log, *recipe_args("libseccomp"), install=True)
    libcap = source(cache, "libcap", work / "libcap")
    timed(["make", "-C", "libcap", "BUILD_CC=gcc", "PAM_CAP=no", "GOLANG=no", f"prefix={prefix}", "lib=lib",
           "install"], log, cwd=libcap)
    crun = autotools(source(cache, "crun", work / "crun"), prefix, log, *recipe_args("crun"))
    return {"aardvark-dns": work / "cargo-target" / "release" / "aardvark-dns",
            "fuse-overlayfs": overlayfs / "fuse-overlayfs", "crun": crun / "crun"}


def recipe_args(name: str) -> tuple[str, ...]:
    """The options a recipe builds with (meson -D options or configure flags)."""
    builder = Catalog.load().get(name).builder
    return getattr(builder, "options", None) or builder.configure_args


def autotools(src: Path, prefix: Path, log: Path, *configure_args: str, install: bool = False) -> Path:
    """configure && make against the glibc prefix (dynamic, found through an rpath)."""
    if not (src / "configure").exists():
        timed(["autoreconf", "-fi"], log, cwd=src)
    timed(["./configure", f"--prefix={prefix}", *configure_args, "CFLAGS=-O2", f"CPPFLAGS=-I{prefix}/include",
           f"LDFLAGS=-L{prefix}/lib -Wl,-rpath,{prefix}/lib"], log, cwd=src,
          env=os.environ | {"PKG_CONFIG_PATH": f"{prefix}/lib/pkgconfig"})
    timed(["make", f"-j{os.cpu_count()}", *(["install"] if install else [])], log, cwd=src)
    return src
