"""`python -m bench.command_loop COUNT ARGV...`: run a command COUNT times (after one warm-up), print JSON.

Runs inside the private mount namespace that runtime.py sets up for one build. Each run is
waited for with wait4, so its wall time and its peak memory (ru_maxrss: the process and the
children it waited for) are read per run. podman leaves processes behind on purpose (conmon
daemonizes; conmon starts `podman container cleanup` when a container exits): this loop makes
itself their subreaper and waits for them after each run (outside the timing), so none of
them runs into the next measurement or outlives the namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
LINGER_SECONDS = 60  # how long the leftovers of the last run may take to finish


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


def reap_leftovers(block: bool) -> None:
    """Collect exited orphans; with `block`, also wait (LINGER_SECONDS at most) for those still running."""
    deadline = time.monotonic() + LINGER_SECONDS
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left
        if pid:
            continue
        if not block:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"processes left by the runs still running after {LINGER_SECONDS} s")
        time.sleep(0.05)


def run_once(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run; its output is dropped, a failure ends the loop."""
    started = time.monotonic()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    # outside the timing: the next run starts on a quiet machine, not beside this one's cleanup
    reap_leftovers(block=True)
    return seconds, usage.ru_maxrss


def main() -> None:
    count, argv = int(sys.argv[1]), sys.argv[2:]
    become_subreaper()
    run_once(argv)  # warm-up: the page cache, and podman's refresh of its fresh run directory
    runs = [run_once(argv) for _ in range(count)]
    print(json.dumps({"seconds": [s for s, _ in runs], "peak_rss_kib": [k for _, k in runs]}))


if __name__ == "__main__":
    main()
