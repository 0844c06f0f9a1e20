"""What every part of the rehearsal shares: paths, logging, running commands with one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from staticbuild.fetch import sha256_of

REPO = Path(__file__).resolve().parents[1]
# Scratch space: images, podman's storage, act's caches, clones. Kept between runs (a warm
# rehearsal reuses the images and act's cache server); `rm -rf` it for a cold one.
DEFAULT_WORK = Path(os.environ.get("REHEARSAL_WORK", "/var/tmp/staticbuild-rehearsal"))
# Snapshots of the actions' repositories (see their README); not in this repository.
DEFAULT_ACTIONS = Path(os.environ.get("REHEARSAL_ACTIONS", REPO.parent / "shared" / "actions"))


class RehearsalError(Exception):
    """A step of the rehearsal failed; the message is one line saying which and why."""


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(argv: Sequence[str | Path], what: str, log: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise one line naming `what`, the exit code and the last line of output."""
    kwargs.setdefault("text", True)
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(f"$ {' '.join(map(str, argv))}\n")
            out.flush()
            proc = subprocess.run([str(a) for a in argv], stdout=out, stderr=subprocess.STDOUT, **kwargs)
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    else:
        kwargs.setdefault("capture_output", True)
        proc = subprocess.run([str(a) for a in argv], **kwargs)
        tail = ((proc.stderr or "") + (proc.stdout or "") if kwargs.get("capture_output") else "").strip().splitlines()[-1:] or [""]
    if proc.returncode != 0:
        where = f" (log: {log})" if log else ""
        raise RehearsalError(f"{what} failed with exit code {proc.returncode}: {tail[0]}{where}")
    return proc


def digest(*parts: object) -> str:
    """A short, stable digest of JSON-able recipe parts: the cache key of what they make."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


file_sha256 = sha256_of  # the one file hasher of the project


def need(program: str, hint: str) -> str:
    found = shutil.which(program)
    if not found:
        raise RehearsalError(f"{program} is not installed: {hint}")
    return found


def debian_mirror() -> str:
    """The Debian archive URI as this machine's apt is configured (never written into the project)."""
    candidates = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        candidates += [line.split()[1] for line in path.read_text().splitlines() if line.startswith("URIs:")]
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if path.exists():
            candidates += [word for line in path.read_text().splitlines() if line.startswith("deb ")
                           for word in line.split() if "://" in word][:1]
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    raise RehearsalError("cannot find the Debian archive URI in /etc/apt/sources.list*")


def debian_security_mirror() -> str:
    """The security archive's URI from apt's sources, or the archive's own `-security` sibling."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and line.split()[1].rstrip("/").endswith("/debian-security"):
                return line.split()[1].rstrip("/")
    return debian_mirror() + "-security"
