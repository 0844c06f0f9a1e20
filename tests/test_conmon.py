"""conmon with a static glib (the heavy part of the C runtime: `make test-full`)."""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import build_and_install, run_cli
from runtime_helpers import in_cgroup_v1_namespace, make_bundle, need_root_and_busybox
from staticbuild.arch import Arch
from staticbuild.verify import run_binary

pytestmark = [pytest.mark.build, pytest.mark.full]
COMPONENTS = ("conmon", "crun")


@pytest.fixture(scope="module")
def monitor(settings, catalog, lock, tmp_path_factory):
    return build_and_install(settings, catalog, lock, COMPONENTS, tmp_path_factory.mktemp("conmon-out"))


def test_verify_passes_for_conmon_on_both_arches(monitor):
    _, _, out = monitor
    proc = run_cli("verify", "--json", str(out / "amd64" / "bin" / "conmon"), str(out / "arm64" / "bin" / "conmon"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["arch"] for r in json.loads(proc.stdout)] == ["amd64", "arm64"]


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_conmon_links_glib_statically_with_seccomp_notify(monitor, arch):
    engine, results, out = monitor
    proc = run_binary(out / arch.name / "bin" / "conmon", arch, ("--version",), {})
    assert proc.returncode == 0 and "conmon version 2.1.13" in proc.stdout
    conmon = next(r for t, r in results.items() if t.recipe.name == "conmon" and t.arch is arch)
    make_log = next((conmon.dir / "logs").glob("*-make.log")).read_text()
    assert "-D USE_SECCOMP=1" in make_log, "conmon's probe found libseccomp >= 2.5"
    assert "USE_JOURNALD" not in make_log


def test_conmon_runs_a_container_through_crun(monitor, tmp_path):
    need_root_and_busybox()
    _, _, out = monitor
    bindir = out / "amd64" / "bin"
    bundle = make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", "echo via-conmon; exit 3"], bindir / "crun")
    cid, state = f"sb-{uuid.uuid4().hex[:8]}", tmp_path / "state"
    (state / "exits").mkdir(parents=True)
    (state / "sock").mkdir()
    script = f"""
        {bindir}/conmon --api-version 1 -c {cid} -u {cid} -n {cid} -r {bindir}/crun -b {bundle} \\
            -p {state}/pid -P {state}/conmon.pid -l k8s-file:{state}/ctr.log --exit-dir {state}/exits \\
            --socket-dir-path {state}/sock --sync &
        conmon=$!
        for i in $(seq 100); do [ -s {state}/pid ] && break; sleep 0.1; done
        {bindir}/crun start {cid}
        wait $conmon || echo "conmon-status=$?"
        {bindir}/crun delete {cid} || true
    """
    proc = in_cgroup_v1_namespace(script)
    assert proc.returncode == 0, proc.stderr
    assert "conmon-status=3" in proc.stdout, "conmon exits with the container's status"
    assert (state / "exits" / cid).read_text() == "3", "conmon recorded the container's exit code"
    log = (state / "ctr.log").read_text().splitlines()
    assert log and log[0].endswith(" stdout F via-conmon"), log


def test_glib_is_a_static_library_only(monitor):
    engine, results, _ = monitor
    glib = next(r for t, r in results.items() if t.recipe.name == "glib" and t.arch is Arch.arm64)
    libs = sorted(p.name for p in (glib.dest / "usr" / "lib").glob("lib*"))
    assert "libglib-2.0.a" in libs and not [n for n in libs if ".so" in n]

