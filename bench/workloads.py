"""The allocation-heavy real work the allocator benchmark puts on each build, one sample per call.

Each function starts the program, loads it, and returns what was measured: throughput, the
program's own CPU time (user and system apart: an allocator can only change the user part)
and its peak resident memory.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .common import remove_tree, say

DNS_PORT = 5533
DNS_CONTAINERS, DNS_SECONDS, DNS_CLIENTS, DNS_THREADS = 250, 10, 8, 2
FS_THREADS, FS_DIRS, FS_FILES, FS_LOWER = 4, 8, 400, 2000  # per thread: dirs × files created; files copied up
CRUN_STARTS = 200
# podman's default capabilities (containers.conf default_capabilities): they decide which
# conditional rules of its seccomp profile apply to a container.
PODMAN_CAPS = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
               "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"}
SETUP = {"dns": {"containers": DNS_CONTAINERS, "seconds": DNS_SECONDS, "clients": DNS_CLIENTS, "threads": DNS_THREADS},
         "fs": {"threads": FS_THREADS, "dirs": FS_DIRS, "files": FS_FILES, "lower": FS_LOWER},
         "crun": {"starts": CRUN_STARTS}}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process, all its threads together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime


def peak_rss_kib(pid: int) -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


# -- aardvark-dns ----------------------------------------------------------------------------------
def dns_burst(work: Path, binary: Path) -> dict[str, float]:
    """aardvark-dns answering A and AAAA queries for its containers' names from dnsperf's client threads."""
    say(f"aardvark-dns burst: {binary}")
    config, queries = work / "dns-config", work / "queries.txt"
    lines, names = ["127.0.0.1"], []
    for i in range(DNS_CONTAINERS):
        lines.append(f"{i:064x} 10.88.{i // 250}.{i % 250 + 2} fd00::{i + 2:x} ctr{i},alias{i}.example")
        names += [f"ctr{i} A", f"alias{i}.example A", f"ctr{i} AAAA", f"ctr{i}.dns.podman A"]
    queries.write_text("\n".join(names) + "\n")
    remove_tree(config)
    config.mkdir(parents=True)
    (config / "bench").write_text("\n".join(lines) + "\n")
    subprocess.run([binary, "--config", config, "-p", str(DNS_PORT), "run"], check=True, timeout=30)
    pid = int((config / "aardvark.pid").read_text())
    try:
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(DNS_PORT), "-d", queries,
                              "-c", str(DNS_CLIENTS), "-T", str(DNS_THREADS), "-l", str(DNS_SECONDS), "-t", "2"],
                             capture_output=True, text=True, check=True).stdout
        peak, (user, system) = peak_rss_kib(pid), cpu_seconds(pid)
    finally:
        os.kill(pid, signal.SIGTERM)
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    if lost > 0.01 * sent:
        raise SystemExit(f"aardvark-dns lost {lost} of {sent} queries: the load generator overran it")
    return {"qps": float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1)),
            "latency_ms": 1000 * float(re.search(r"Average Latency \(s\):\s+([\d.]+)", out).group(1)),
            "user_us_per_query": 1e6 * user / sent, "system_us_per_query": 1e6 * system / sent,
            "peak_rss_kib": peak}


# -- fuse-overlayfs --------------------------------------------------------------------------------
def file_workload(work: Path, binary: Path, threaded: bool) -> dict[str, float]:
    """fuse-overlayfs serving threads that create, list, stat, read, copy up and delete small files."""
    say(f"fuse-overlayfs {'threaded' if threaded else 'default'}: {binary}")
    base = work / "fs"
    remove_tree(base)
    base.mkdir(parents=True)
    # on a tmpfs, so the disk's latency does not drown what the FUSE server itself spends
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g", "bench-fs", base], check=True)
    try:
        lower, upper, scratch, merged = (base / d for d in ("lower", "upper", "work", "merged"))
        for d in (lower / "shared", upper, scratch, merged):
            d.mkdir(parents=True)
        for i in range(FS_LOWER):
            (lower / "shared" / f"f{i}").write_bytes(b"x" * 512)
        opts = f"lowerdir={lower},upperdir={upper},workdir={scratch}" + (",threaded=1" if threaded else "")
        proc = subprocess.Popen([binary, "-f", "-o", opts, merged], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            wait_mounted(merged, proc)
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(FS_THREADS) as pool:
                list(pool.map(lambda t: churn(merged, t), range(FS_THREADS)))
            seconds = time.monotonic() - started
            peak, (user, system) = peak_rss_kib(proc.pid), cpu_seconds(proc.pid)
        finally:
            subprocess.run(["umount", merged], check=False)
            proc.wait(timeout=30)
    finally:
        subprocess.run(["umount", base], check=False)
    remove_tree(base)
    return {"seconds": seconds, "files_per_second": FS_THREADS * FS_DIRS * FS_FILES / seconds,
            "user_seconds": user, "system_seconds": system, "peak_rss_kib": peak}


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
        for entry in os.scandir(mine / f"d{d}"):
            entry.stat()
            Path(entry.path).read_bytes()
    shared = merged / "shared"
    for i in range(thread, FS_LOWER, FS_THREADS * 4):
        with (shared / f"f{i}").open("ab") as fh:
            fh.write(b"z")
    for _ in range(5):
        sum(1 for _ in os.scandir(shared))
    shutil.rmtree(mine)


# -- crun ------------------------------------------------------------------------------------------
def seccomp_profile(common_profile: Path) -> dict:
    """containers/common's default seccomp profile as podman applies it to a root container with the
    default capabilities on amd64, in the OCI runtime spec's form."""
    profile = json.loads(common_profile.read_text())
    rules = []
    for rule in profile["syscalls"]:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if (set(inc.get("caps") or ()) - PODMAN_CAPS or set(exc.get("caps") or ()) & PODMAN_CAPS
                or (inc.get("arches") and "amd64" not in inc["arches"]) or "amd64" in (exc.get("arches") or ())):
            continue
        oci = {"names": rule["names"], "action": rule["action"]}
        if rule.get("args"):
            oci["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if a.get(k) is not None}
                           for a in rule["args"]]
        if rule.get("errnoRet") is not None:
            oci["errnoRet"] = rule["errnoRet"]
        rules.append(oci)
    archs = next(m for m in profile["archMap"] if m["architecture"] == "SCMP_ARCH_X86_64")
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile.get("defaultErrnoRet", 1),
            "architectures": [archs["architecture"], *archs["subArchitectures"]], "syscalls": rules}


def crun_bundle(work: Path, crun: Path, seccomp: dict) -> Path:
    """An OCI bundle: a busybox root filesystem and crun's default spec running /bin/true under the filter."""
    bundle = work / "crun-bundle"
    remove_tree(bundle)
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
    (bundle / "rootfs" / "bin" / "true").symlink_to("busybox")
    subprocess.run([crun, "spec"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"] |= {"terminal": False, "args": ["/bin/true"]}
    spec["linux"]["seccomp"] = seccomp
    (bundle / "config.json").write_text(json.dumps(spec, indent=1))
    return bundle


def crun_starts(bundle: Path, binary: Path) -> dict[str, float]:
    """`crun run` of the bundle, CRUN_STARTS times in a row, in a private mount namespace without the
    hybrid cgroup2 mount these machines have (crun refuses a hybrid layout; plain v1 works)."""
    say(f"crun starts: {binary}")
    script = 'umount /sys/fs/cgroup/unified 2>/dev/null || true; exec "$@"'
    out = subprocess.run(["unshare", "-m", "sh", "-ec", script, "sh", sys.executable, "-m", "bench.crun_loop",
                          str(binary), str(bundle), str(CRUN_STARTS)],
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    if out.returncode != 0:
        raise SystemExit(f"crun loop failed: {out.stderr.strip()}")
    return json.loads(out.stdout)
