"""Allocator: one source built three ways, on allocation-heavy real work.

mimalloc is what ships (static musl, mimalloc inside libc.a); musl is the same static build with
musl's own malloc (`staticbuild build --allocator musl`); glibc is a dynamic build from the same
pinned, patched source with the host's compiler (glibc's malloc). Go's heap does not go through
malloc at all, so podman, buildah and skopeo are not measured: only their cgo parts use it.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from staticbuild.catalog import Catalog
from staticbuild.extract import extract_source
from staticbuild.fetch import SourceCache
from staticbuild.lock import Lock
from staticbuild.toolchain import CARGO, RUSTC

from .common import REPO, BenchSettings, remove_tree, say, staticbuild, summary, timed

VARIANTS = ("mimalloc", "musl", "glibc")
DNS_PORT = 5533
DNS_CONTAINERS = 250
DNS_SECONDS = 10
FS_THREADS = 4
FS_DIRS, FS_FILES, FS_LOWER = 8, 400, 2000  # per thread: dirs × files created; files copied up


def run(s: BenchSettings) -> dict:
    cache = s.work / "cache-amd64"
    if not cache.is_dir():
        raise SystemExit(f"{cache} is missing: run `python -m bench build` first")
    root = s.work / "alloc"
    binaries = {v: static_build(cache, root, v) for v in ("mimalloc", "musl")}
    binaries["glibc"] = glibc_build(cache, root)
    sizes = {v: {name: path.stat().st_size for name, path in b.items()} for v, b in binaries.items()}
    dns = {v: dns_burst(s, b["aardvark-dns"]) for v, b in binaries.items()}
    fs = {mode: {v: file_workload(s, b["fuse-overlayfs"], threaded) for v, b in binaries.items()}
          for mode, threaded in (("default", False), ("threaded", True))}
    return {"sizes": sizes, "aardvark-dns": dns, "fuse-overlayfs": fs,
            "setup": {"dns": {"containers": DNS_CONTAINERS, "seconds": DNS_SECONDS, "clients": 8, "threads": 2},
                      "fs": {"threads": FS_THREADS, "dirs": FS_DIRS, "files": FS_FILES, "lower": FS_LOWER}}}


# -- the three builds ------------------------------------------------------------------------------
def static_build(cache: Path, root: Path, allocator: str) -> dict[str, Path]:
    out = root / allocator
    say(f"static build, {allocator} allocator")
    timed(staticbuild(cache, "build", "aardvark-dns", "fuse-overlayfs", "--arch", "amd64", "--allocator", allocator,
                      "--out", out), root / "build.log")
    return {n: out / "amd64" / "bin" / n for n in ("aardvark-dns", "fuse-overlayfs")}


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
    """Dynamic glibc builds with the same compilers (Debian's rustc, gcc -O2) and default options."""
    work, log = root / "glibc", root / "build.log"
    say("dynamic glibc builds")
    src = source(cache, "aardvark-dns", work / "aardvark-dns")
    env = os.environ | {"RUSTC": RUSTC, "CARGO_TARGET_DIR": str(work / "cargo-target")}
    timed([CARGO, "build", "--release", "--locked", "--bin", "aardvark-dns"], log, cwd=src, env=env)
    prefix = work / "prefix"
    fuse = source(cache, "fuse3", work / "fuse3")
    timed(["meson", "setup", "build", f"--prefix={prefix}", "--libdir=lib", "--buildtype=release",
           "-Dutils=false", "-Dexamples=false", "-Dtests=false", "-Duseroot=false", "-Dinitscriptdir=",
           "-Dudevrulesdir=", "-Denable-io-uring=false"], log, cwd=fuse)
    timed(["ninja", "-C", "build", "install"], log, cwd=fuse)
    ovl = source(cache, "fuse-overlayfs", work / "fuse-overlayfs")
    timed(["autoreconf", "-fi"], log, cwd=ovl)
    timed(["./configure", f"--prefix={prefix}", "CFLAGS=-O2", f"LDFLAGS=-Wl,-rpath,{prefix}/lib"], log, cwd=ovl,
          env=os.environ | {"PKG_CONFIG_PATH": f"{prefix}/lib/pkgconfig"})
    timed(["make", f"-j{os.cpu_count()}"], log, cwd=ovl)
    return {"aardvark-dns": work / "cargo-target" / "release" / "aardvark-dns", "fuse-overlayfs": ovl / "fuse-overlayfs"}


# -- workloads -------------------------------------------------------------------------------------
def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def dns_burst(s: BenchSettings, binary: Path) -> dict:
    """aardvark-dns answering A and AAAA queries for its containers' names from dnsperf's client threads."""
    say(f"aardvark-dns burst: {binary}")
    config = s.work / "alloc" / "dns-config"
    queries = s.work / "alloc" / "queries.txt"
    lines = ["127.0.0.1"]
    names = []
    for i in range(DNS_CONTAINERS):
        lines.append(f"{i:064x} 10.88.{i // 250}.{i % 250 + 2} fd00::{i + 2:x} ctr{i},alias{i}.example")
        names += [f"ctr{i} A", f"alias{i}.example A", f"ctr{i} AAAA", f"ctr{i}.dns.podman A"]
    queries.write_text("\n".join(names) + "\n")
    qps, latency, peak = [], [], []
    for _ in range(s.runs):
        remove_tree(config)
        config.mkdir(parents=True)
        (config / "bench").write_text("\n".join(lines) + "\n")
        subprocess.run([binary, "--config", config, "-p", str(DNS_PORT), "run"], check=True, timeout=30)
        pid = int((config / "aardvark.pid").read_text())
        try:
            out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(DNS_PORT), "-d", queries, "-c", "8",
                                  "-T", "2", "-l", str(DNS_SECONDS), "-t", "2"],
                                 capture_output=True, text=True, check=True).stdout
            peak.append(peak_rss_kib(pid))
        finally:
            os.kill(pid, signal.SIGTERM)
        qps.append(float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1)))
        latency.append(1000 * float(re.search(r"Average Latency \(s\):\s+([\d.]+)", out).group(1)))
        lost = re.search(r"Queries lost:\s+(\d+)", out).group(1)
        if int(lost) > 0.01 * float(re.search(r"Queries sent:\s+(\d+)", out).group(1)):
            raise SystemExit(f"aardvark-dns lost {lost} queries: the load generator overran it; see dnsperf output")
    return {"qps": summary(qps), "latency_ms": summary(latency), "peak_rss_kib": summary(peak)}


def file_workload(s: BenchSettings, binary: Path, threaded: bool) -> dict:
    """fuse-overlayfs serving threads that create, list, stat, read, copy up and delete small files."""
    say(f"fuse-overlayfs {'threaded' if threaded else 'default'}: {binary}")
    seconds, peak = [], []
    for _ in range(s.runs):
        base = s.work / "alloc" / "fs"
        remove_tree(base)
        lower, upper, work, merged = (base / d for d in ("lower", "upper", "work", "merged"))
        for d in (lower / "shared", upper, work, merged):
            d.mkdir(parents=True)
        for i in range(FS_LOWER):
            (lower / "shared" / f"f{i}").write_bytes(b"x" * 512)
        opts = f"lowerdir={lower},upperdir={upper},workdir={work}" + (",threaded=1" if threaded else "")
        proc = subprocess.Popen([binary, "-f", "-o", opts, merged], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_mounted(merged, proc)
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(FS_THREADS) as pool:
                list(pool.map(lambda t: churn(merged, t), range(FS_THREADS)))
            seconds.append(time.monotonic() - started)
            peak.append(peak_rss_kib(proc.pid))
        finally:
            subprocess.run(["umount", merged], check=False)
            proc.wait(timeout=30)
    remove_tree(s.work / "alloc" / "fs")
    ops = FS_THREADS * FS_DIRS * FS_FILES
    return {"seconds": summary(seconds), "files_per_second": round(ops / summary(seconds)["median"]),
            "peak_rss_kib": summary(peak)}


def wait_mounted(path: Path, proc: subprocess.Popen) -> None:
    for _ in range(200):
        if os.path.ismount(path):
            return
        if proc.poll() is not None:
            raise SystemExit(f"fuse-overlayfs exited: {proc.stderr.read().decode(errors='replace').strip()}")
        time.sleep(0.05)
    raise SystemExit("fuse-overlayfs did not mount within 10 s")


def churn(merged: Path, thread: int) -> None:
    """One client: create files in fresh folders, list and stat them, read them back, copy up a share
    of the lower files, list the big lower folder, then delete what it made."""
    mine = merged / f"t{thread}"
    for d in range(FS_DIRS):
        folder = mine / f"d{d}"
        folder.mkdir(parents=True)
        for f in range(FS_FILES):
            (folder / f"file{f}").write_bytes(b"y" * 1024)
    for d in range(FS_DIRS):
        folder = mine / f"d{d}"
        for entry in os.scandir(folder):
            entry.stat()
            Path(entry.path).read_bytes()
    shared = merged / "shared"
    for i in range(thread, FS_LOWER, FS_THREADS * 4):
        with (shared / f"f{i}").open("ab") as fh:
            fh.write(b"z")
    for _ in range(5):
        sum(1 for _ in os.scandir(shared))
    shutil.rmtree(mine)
