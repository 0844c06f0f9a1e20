"""The C runtime: crun, fuse-overlayfs and fusermount3 (with libseccomp, libcap, argp, libfuse) built and used for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import build_and_install, run_cli
from fuse_helpers import assert_setuid_story, mount_as_user
from podman_helpers import unprivileged_user
from runtime_helpers import in_cgroup_v1_namespace, make_bundle, need_root_and_busybox
from staticbuild.arch import Arch
from staticbuild.engine import Target
from staticbuild.verify import run_binary

pytestmark = pytest.mark.build
COMPONENTS = ("crun", "fuse-overlayfs", "fuse3")
ARCHES = [pytest.param(a, id=a.name) for a in Arch]


@pytest.fixture(scope="module")
def runtime(settings, catalog, lock, tmp_path_factory):
    return build_and_install(settings, catalog, lock, COMPONENTS, tmp_path_factory.mktemp("runtime-out"))


def run(arch: Arch, binary: Path, *args) -> subprocess.CompletedProcess:
    return run_binary(binary, arch, tuple(map(str, args)), {})


def test_verify_passes_for_crun_fuse_overlayfs_and_fusermount3_on_both_arches(runtime):
    _, _, out = runtime
    proc = run_cli("verify", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    assert sorted((Path(r["path"]).name, r["arch"]) for r in reports) == [
        ("crun", "amd64"), ("crun", "arm64"), ("fuse-overlayfs", "amd64"), ("fuse-overlayfs", "arm64"),
        ("fusermount3", "amd64"), ("fusermount3", "arm64")]
    assert all(r["allocator"] == "mimalloc (active)" for r in reports)


@pytest.mark.parametrize("arch", ARCHES)
def test_crun_has_seccomp_and_capabilities(runtime, arch):
    _, _, out = runtime
    proc = run(arch, out / arch.name / "bin" / "crun", "--version")
    features = proc.stdout.splitlines()[-1].split()
    assert "+SECCOMP" in features and "+CAP" in features, proc.stdout
    assert "-SECCOMP" not in features and "-CAP" not in features


def test_crun_runs_a_busybox_container(runtime, tmp_path):
    need_root_and_busybox()
    _, _, out = runtime
    crun = out / "amd64" / "bin" / "crun"
    bundle = make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", "echo hello-from-crun; id -u"], crun)
    name = f"sb-{uuid.uuid4().hex[:8]}"
    proc = in_cgroup_v1_namespace(f"{crun} run --bundle {bundle} {name}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["hello-from-crun", "0"]


def test_crun_passes_the_container_exit_code(runtime, tmp_path):
    need_root_and_busybox()
    _, _, out = runtime
    crun = out / "amd64" / "bin" / "crun"
    bundle = make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", "exit 42"], crun)
    proc = in_cgroup_v1_namespace(f"{crun} run --bundle {bundle} sb-{uuid.uuid4().hex[:8]} || echo status=$?")
    assert "status=42" in proc.stdout, proc.stderr


def test_fuse_overlayfs_mounts_and_writes_go_to_the_upper_dir(runtime, tmp_path):
    if not Path("/dev/fuse").exists():
        pytest.skip("/dev/fuse is absent on this machine")
    if os.geteuid() != 0:
        pytest.skip("mounting without fusermount3 needs root")
    _, _, out = runtime
    dirs = {d: tmp_path / d for d in ("lower", "upper", "work", "merged")}
    for d in dirs.values():
        d.mkdir()
    (dirs["lower"] / "old.txt").write_text("from lower\n")
    opts = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    mounted = run(Arch.amd64, out / "amd64" / "bin" / "fuse-overlayfs", "-o", opts, dirs["merged"])
    assert mounted.returncode == 0, mounted.stderr
    try:
        merged = dirs["merged"]
        assert (merged / "old.txt").read_text() == "from lower\n"
        (merged / "new.txt").write_text("written through the mount\n")
        (merged / "old.txt").unlink()
    finally:
        subprocess.run(["umount", dirs["merged"]], check=True)
    assert (dirs["upper"] / "new.txt").read_text() == "written through the mount\n"
    whiteout = os.stat(dirs["upper"] / "old.txt", follow_symlinks=False)
    assert os.major(whiteout.st_rdev) == 0 and os.minor(whiteout.st_rdev) == 0, "deletion is a whiteout"
    assert (dirs["lower"] / "old.txt").exists(), "the lower layer is untouched"


@pytest.mark.parametrize("arch", ARCHES)
def test_libfuse_installs_its_library_headers_and_helpers_without_privileges(runtime, arch):
    """Its install hook writes fuse.conf only: no setuid bit, no /dev node, udev rule or init script."""
    engine, results, _ = runtime
    dest = results[Target(engine.catalog.get("fuse3"), arch)].dest
    installed = {p.relative_to(dest).parts[:2] for p in dest.rglob("*") if p.is_file()}
    assert installed == {("usr", "include"), ("usr", "lib"), ("usr", "bin"), ("usr", "sbin"), ("usr", "share"),
                         ("etc", "fuse.conf")}  # share: the helpers' man pages
    assert (dest / "usr/lib/libfuse3.a").exists() and not list(dest.rglob("*.so*"))
    assert (dest / "usr/bin/fusermount3").stat().st_mode & 0o7000 == 0


def test_fusermount3_mounts_for_an_unprivileged_user_only_when_setuid(runtime, tmp_path):
    if os.geteuid() != 0 or not Path("/dev/fuse").exists():
        pytest.skip("needs root (to add a user and set the setuid bit) and /dev/fuse")
    _, _, out = runtime
    with unprivileged_user() as (user, home):
        bindir = home / "bin"  # copies the user can reach (pytest's folders are root's only); setuid goes on them
        bindir.mkdir()
        for name in ("fuse-overlayfs", "fusermount3"):
            shutil.copy(out / "amd64" / "bin" / name, bindir / name)
        output = mount_as_user(bindir, user, home, tmp_path)
    assert_setuid_story(output)
