"""What every suite shares: settings, paths, one-line errors, logged commands."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "upstream_tests" / "results"
DOC = REPO / "docs" / "UPSTREAM-TESTS.md"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class UpstreamTestError(Exception):
    """Ends the command with `error: <message>` on one line and exit status 1."""


@dataclass(frozen=True)
class Settings:
    work: Path  # scratch: sources, bundles, dynamic builds, suite state and logs
    cache: Path  # the staticbuild cache the bundles are packaged from (shared, locked by the engine)
    lock: Path  # staticbuild.lock: the versions under test
    arch: str  # amd64, or arm64 (the smoke subset under qemu-user)
    results: Path  # folder of <arch>/<suite>.json result files
    jobs: int = os.cpu_count() or 2
    bundles: Path | None = None  # a folder of release bundles to test as they are (else packaged from the cache)

    def dir(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def need(*programs: str) -> None:
    """One line naming every missing host program (scripts/setup-upstream-tests installs them)."""
    missing = [p for p in programs if not shutil.which(p, path=BASE_PATH + ":" + os.environ.get("PATH", ""))]
    if missing:
        raise UpstreamTestError(f"missing on this machine: {', '.join(missing)} "
                                "(scripts/setup-upstream-tests installs them; `make upstream-tests` runs it)")


def program(name: str) -> Path:
    """Where a host program is (need()'s search and its one-line error when it is missing)."""
    need(name)
    return Path(shutil.which(name, path=BASE_PATH + ":" + os.environ.get("PATH", "")) or name)


def run(argv: Sequence[str | Path], log: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None, check: bool = True, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run a command with its output appended to `log`; a failure is one line that names the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [str(a) for a in argv]
    with log.open("a") as out:
        out.write(f"\n$ {shlex.join(command)}\n")
        out.flush()
        try:
            proc = subprocess.run(command, cwd=cwd, env=dict(env) if env is not None else None, stdin=stdin,
                                  stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise UpstreamTestError(f"timed out after {timeout:.0f} s: {shlex.join(command)[:200]} (log: {log})") from None
        except OSError as exc:
            raise UpstreamTestError(f"cannot run {command[0]}: {exc.strerror} (log: {log})") from None
    if check and proc.returncode != 0:
        raise UpstreamTestError(f"failed ({proc.returncode}): {shlex.join(command)[:200]} (log: {log})")
    return proc


def tail(text: str, lines: int = 30, chars: int = 3000) -> str:
    """The end of a long output, for a result file."""
    return "\n".join(text.splitlines()[-lines:])[-chars:]


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment for suites (no tokens, no proxies a test could leak), plus `extra`."""
    keep = {k: os.environ[k] for k in ("TERM", "TZ") if k in os.environ}
    return {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": "/root", **keep, **extra}


def default_signals() -> None:
    """Suites start with SIGHUP, SIGINT and SIGQUIT at their defaults, as in upstream's CI, whatever the
    caller ignores (`nohup`, or `cmd &` in a script, ignore some): buildah's tests stop their HTTP server
    with `kill -HUP`, and a server that ignores it holds bats' output open, so the file never ends."""
    import signal
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def run_captured(argv: Sequence[str], cwd: Path, timeout: float) -> tuple[str, str]:
    """Run a suite's command with its output in a file (a process the suite leaves behind cannot hold
    a pipe open), in its own process group, killed whole on timeout. Returns (output, note)."""
    import signal
    import tempfile
    with tempfile.TemporaryFile(mode="w+", errors="replace") as out:
        proc = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=default_signals)
        note = ""
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            note = f"timed out after {timeout:.0f} s"
        finally:  # timed out, or this runner is being stopped: the suite's processes go with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.seek(0)
        return out.read(), note
