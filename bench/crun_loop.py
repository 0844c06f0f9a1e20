"""`python -m bench.crun_loop CRUN BUNDLE N`: start the bundle's container N times, print JSON.

Runs inside the private mount namespace that workloads.crun_starts (or runtime.py) sets up.
Each start is `crun run` waited for with wait4, so crun's own CPU time and peak memory are read per run
(the container's /bin/true is a waited-for child of crun and counts too: a busybox `true`).
"""

from __future__ import annotations

import json
import os
import sys
import time


def start(crun: str, bundle: str, name: str):
    pid = os.posix_spawn(crun, [crun, "run", "--bundle", bundle, name], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"crun run {name} exited with {os.waitstatus_to_exitcode(status)}")
    return usage


def main() -> None:
    crun, bundle, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start(crun, bundle, f"bench-warmup-{os.getpid()}")  # page cache, crun's state directory
    started = time.monotonic()
    usages = [start(crun, bundle, f"bench-{os.getpid()}-{i}") for i in range(count)]
    seconds = time.monotonic() - started
    print(json.dumps({
        "starts_per_second": count / seconds,
        "user_ms_per_start": 1000 * sum(u.ru_utime for u in usages) / count,
        "system_ms_per_start": 1000 * sum(u.ru_stime for u in usages) / count,
        "peak_rss_kib": max(u.ru_maxrss for u in usages),
    }))


if __name__ == "__main__":
    main()
