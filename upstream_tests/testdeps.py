"""Test-only helpers the suites expect that Debian does not package, built here from Debian's
own sources. Each serves both runs of a suite alike; none of it is part of what is tested."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .common import Settings, run, say


def installed_version(package: str) -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def python_libmount(settings: Settings) -> Path | None:
    """util-linux's Python binding (`import libmount`, which crun's test_mounts.py needs; Fedora's
    python3-libmount): built from the source of the util-linux that this machine runs, so it
    loads the system's own libmount.so.1. None (the module then skips itself) when the source
    cannot be had."""
    dest = settings.work / "testdeps" / "python-libmount"
    if (dest / "libmount" / "pylibmount.so").exists():
        return dest
    version = installed_version("libmount1")
    upstream = version.split("-")[0].split(":")[-1]
    if not version:
        say("no libmount1 package here: crun's test_mounts.py will skip itself")
        return None
    build = settings.work / "testdeps" / "util-linux"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    log = settings.dir("logs") / "testdeps-python-libmount.log"
    say(f"building util-linux {upstream}'s Python binding for crun's test_mounts.py (log: {log})")
    fetched = run(["apt-get", "source", "--download-only", f"util-linux={version}"], log, cwd=build, check=False)
    orig = next(build.glob(f"util-linux_{upstream}.orig.tar.*"), None)
    if orig is None:
        say(f"util-linux {version}'s source is not available ({fetched.returncode}): test_mounts.py will skip itself")
        return None
    run(["tar", "-xf", orig.name], log, cwd=build)
    src = build / f"util-linux-{upstream}"
    run(["./configure", "--disable-all-programs", "--enable-libmount", "--enable-libblkid", "--enable-pylibmount",
         "--with-python=3", "--without-systemd", "--disable-nls", "--disable-bash-completion"], log, cwd=src)
    run(["make", f"-j{settings.jobs}", "pylibmount.la"], log, cwd=src)
    (dest / "libmount").mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "libmount" / "python" / "__init__.py", dest / "libmount" / "__init__.py")
    shutil.copy2(src / ".libs" / "pylibmount.so", dest / "libmount" / "pylibmount.so")
    shutil.rmtree(build, ignore_errors=True)
    return dest
