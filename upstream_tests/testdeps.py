"""Test-only helpers the suites expect that Debian does not package, built here from Debian's
own sources. Each serves both runs of a suite alike; none of it is part of what is tested."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .common import Settings, UpstreamTestError, run, say


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


def busybox(settings: Settings) -> Path:
    """A static busybox with upstream's default configuration, from the source of this machine's
    busybox-static: Debian's own build leaves out applets alpine's busybox (podman's test image) has
    and the suites use: `printenv`, `adduser`, and netcat's 1.10-compatible options
    (`nc -l -n -v -p PORT` printing "listening on [::]:PORT"). Built once (about a minute)."""
    source_version = subprocess.run(["dpkg-query", "-W", "-f", "${source:Version}", "busybox-static"],
                                    capture_output=True, text=True).stdout.strip()
    if not source_version:
        raise UpstreamTestError("busybox-static is not installed (scripts/setup-upstream-tests installs it)")
    upstream = source_version.split("-")[0].split(":")[-1]
    dest = settings.work / "testdeps" / f"busybox-{upstream}-defconfig" / "busybox"
    if dest.exists():
        return dest
    build = settings.work / "testdeps" / "busybox-build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    log = settings.dir("logs") / "testdeps-busybox.log"
    say(f"building busybox {upstream} (defconfig, static) for the test images (log: {log})")
    run(["apt-get", "source", "--download-only", f"busybox={source_version}"], log, cwd=build)
    orig = next(build.glob(f"busybox_{upstream}.orig.tar.*"), None)
    if orig is None:
        raise UpstreamTestError(f"apt-get source busybox={source_version} gave no orig tarball (log: {log})")
    run(["tar", "-xf", orig.name], log, cwd=build)
    src = build / f"busybox-{upstream}"
    # a fixed build date: the same busybox, hence the same test image, on every machine
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1600000000", "KBUILD_BUILD_TIMESTAMP": "2020-09-13"}
    run(["make", "defconfig"], log, cwd=src, env=env)
    config = src / ".config"
    config.write_text(config.read_text().replace("# CONFIG_STATIC is not set", "CONFIG_STATIC=y"))
    run(["make", f"-j{settings.jobs}", "busybox"], log, cwd=src, env=env)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "busybox", dest.with_suffix(".tmp"))
    os.replace(dest.with_suffix(".tmp"), dest)
    shutil.rmtree(build, ignore_errors=True)
    return dest
