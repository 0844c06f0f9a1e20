"""Test-only helpers the suites expect that Debian does not package, built here from Debian's
own sources. Each serves both runs of a suite alike; none of it is part of what is tested."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .common import Settings, UpstreamTestError, run, say


def installed_version(package: str, field: str = "Version") -> str:
    """The installed package's version (`field="source:Version"`: its source package's), or ""."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", f"${{{field}}}", package], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def upstream_version(debian_version: str) -> str:
    """1:1.35.0-4+deb12u1 -> 1.35.0"""
    return debian_version.split("-")[0].split(":")[-1]


def debian_source(settings: Settings, package: str, version: str, log: Path) -> Path | None:
    """Debian's source package `package`=`version` (its upstream tarball, from the signed archive),
    unpacked into a fresh build folder; None when apt cannot get it."""
    build = settings.work / "testdeps" / f"{package}-build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    run(["apt-get", "source", "--download-only", f"{package}={version}"], log, cwd=build, check=False)
    orig = next(build.glob(f"{package}_{upstream_version(version)}.orig.tar.*"), None)
    if orig is None:
        return None
    run(["tar", "-xf", orig.name], log, cwd=build)
    return build / f"{package}-{upstream_version(version)}"


def python_libmount(settings: Settings) -> Path | None:
    """util-linux's Python binding (`import libmount`, which crun's test_mounts.py needs; Fedora's
    python3-libmount): built from the source of the util-linux that this machine runs, so it
    loads the system's own libmount.so.1. None (the module then skips itself) when the source
    cannot be had."""
    dest = settings.work / "testdeps" / "python-libmount"
    if (dest / "libmount" / "pylibmount.so").exists():
        return dest
    version = installed_version("libmount1")
    if not version:
        say("no libmount1 package here: crun's test_mounts.py will skip itself")
        return None
    log = settings.dir("logs") / "testdeps-python-libmount.log"
    say(f"building util-linux {upstream_version(version)}'s Python binding for crun's test_mounts.py (log: {log})")
    src = debian_source(settings, "util-linux", version, log)
    if src is None:
        say(f"util-linux {version}'s source is not available: test_mounts.py will skip itself")
        return None
    run(["./configure", "--disable-all-programs", "--enable-libmount", "--enable-libblkid", "--enable-pylibmount",
         "--with-python=3", "--without-systemd", "--disable-nls", "--disable-bash-completion"], log, cwd=src)
    run(["make", f"-j{settings.jobs}", "pylibmount.la"], log, cwd=src)
    (dest / "libmount").mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "libmount" / "python" / "__init__.py", dest / "libmount" / "__init__.py")
    shutil.copy2(src / ".libs" / "pylibmount.so", dest / "libmount" / "pylibmount.so")
    shutil.rmtree(src.parent, ignore_errors=True)
    return dest


CROSS_PREFIX = {"amd64": "", "arm64": "aarch64-linux-gnu-", "s390x": "s390x-linux-gnu-"}  # Debian's cross gcc


def busybox(settings: Settings, arch: str = "amd64") -> Path:
    """A static busybox with upstream's default configuration, from the source of this machine's
    busybox-static: Debian's own build leaves out applets alpine's busybox (podman's test image) has
    and the suites use: `printenv`, `adduser`, and netcat's 1.10-compatible options
    (`nc -l -n -v -p PORT` printing "listening on [::]:PORT"). Built once per arch (about a minute;
    arm64 and s390x with Debian's cross gcc, for the multi-arch alpine stand-in)."""
    source_version = installed_version("busybox-static", "source:Version")
    if not source_version:
        raise UpstreamTestError("busybox-static is not installed (scripts/setup-upstream-tests installs it)")
    upstream = upstream_version(source_version)
    suffix = "" if arch == "amd64" else f"-{arch}"
    dest = settings.work / "testdeps" / f"busybox-{upstream}-defconfig{suffix}" / "busybox"
    if dest.exists():
        return dest
    cross = CROSS_PREFIX[arch]
    if cross and not shutil.which(f"{cross}gcc"):
        raise UpstreamTestError(f"no {cross}gcc for the {arch} busybox (scripts/setup-upstream-tests installs it)")
    log = settings.dir("logs") / f"testdeps-busybox{suffix}.log"
    say(f"building busybox {upstream} (defconfig, static, {arch}) for the test images (log: {log})")
    src = debian_source(settings, "busybox", source_version, log)
    if src is None:
        raise UpstreamTestError(f"apt-get source busybox={source_version} gave no source (log: {log})")
    # a fixed build date: the same busybox, hence the same test image, on every machine
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1600000000", "KBUILD_BUILD_TIMESTAMP": "2020-09-13"}
    make = ["make", f"CROSS_COMPILE={cross}"]
    run([*make, "defconfig"], log, cwd=src, env=env)
    config = src / ".config"
    config.write_text(config.read_text().replace("# CONFIG_STATIC is not set", "CONFIG_STATIC=y"))
    run([*make, f"-j{settings.jobs}", "busybox"], log, cwd=src, env=env)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "busybox", dest.with_suffix(".tmp"))
    os.replace(dest.with_suffix(".tmp"), dest)
    shutil.rmtree(src.parent, ignore_errors=True)
    return dest
