"""podman, buildah and skopeo: static Go builds for both arches (the full suite: they are heavy)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import build_and_install, run_cli
from oci_helpers import BUSYBOX, write_layout
from podman_helpers import in_cgroup2_namespace
from staticbuild.arch import Arch
from staticbuild.verify import run_binary

pytestmark = [pytest.mark.build, pytest.mark.full]
TOOLS = ("podman", "buildah", "skopeo")
HELPERS = ("conmon", "crun", "netavark", "aardvark-dns", "catatonit")
ARCHES = [pytest.param(a, id=a.name) for a in Arch]
INSECURE_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


@pytest.fixture(scope="module")
def tools(settings, catalog, lock, tmp_path_factory):
    return build_and_install(settings, catalog, lock, TOOLS + HELPERS, tmp_path_factory.mktemp("go-tools"))


def containers_conf(path: Path, bindir: Path) -> Path:
    """Point podman and buildah at the built helpers (the bundle issue makes this relocatable)."""
    path.write_text(f"""[engine]
helper_binaries_dir = ["{bindir}"]
conmon_path = ["{bindir}/conmon"]
init_path = "{bindir}/catatonit"
runtime = "crun"

[engine.runtimes]
crun = ["{bindir}/crun"]
""")
    return path


@pytest.fixture
def layout(tmp_path):
    if not BUSYBOX.exists():
        pytest.skip("busybox-static is installed by `make setup`")
    path = tmp_path / "layout"
    return path, write_layout(path)


def test_verify_passes_for_all_six_binaries(tools):
    _, _, out = tools
    binaries = [str(out / a.name / "bin" / t) for t in TOOLS for a in Arch]  # not the helpers beside them
    proc = run_cli("verify", "--json", *binaries)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = {(Path(r["path"]).name, r["arch"]): r for r in json.loads(proc.stdout)}
    assert sorted(reports) == sorted((t, a.name) for t in TOOLS for a in Arch)
    for (tool, _), report in reports.items():
        assert report["linkage"] == "static"
        assert report["allocator"] == "mimalloc (active)"  # skopeo too: cgo, for rootless containers-storage


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("tool", TOOLS)
def test_build_settings_tags_and_stamped_date(tools, arch, tool, lock, catalog):
    """What `go version -m` records: the arch, cgo as chosen, upstream's tags; plus the stamped release date.

    (`podman version`/`info` start the whole runtime: see the info test below.)
    """
    _, _, out = tools
    binary = out / arch.name / "bin" / tool
    info = subprocess.run(["go", "version", "-m", binary], capture_output=True, text=True, check=True).stdout
    settings = dict(line.split("\t")[2].split("=", 1) for line in info.splitlines()
                    if line.startswith("\tbuild\t") and "=" in line)
    recipe = catalog.get(tool)
    assert settings["GOARCH"] == arch.info.go and settings["-trimpath"] == "true"
    assert settings["CGO_ENABLED"] == ("1" if recipe.builder.cgo else "0")
    assert settings["-tags"].split(",") == list(recipe.builder.tags)
    if any("{epoch}" in flag for flag in recipe.builder.ldflags):
        assert str(lock.pin(tool).epoch).encode() in binary.read_bytes()


def test_skopeo_inspects_and_copies_between_oci_and_dir(tools, layout, tmp_path):
    _, _, out = tools
    path, digests = layout
    skopeo = out / "amd64" / "bin" / "skopeo"
    inspect = subprocess.run([skopeo, "inspect", f"oci:{path}:latest"], capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    info = json.loads(inspect.stdout)
    assert info["Digest"] == digests["manifest"] and info["Layers"] == [digests["layer"]]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(INSECURE_POLICY))
    target = tmp_path / "copied"
    copy = subprocess.run([skopeo, "--policy", policy, "copy", f"oci:{path}:latest", f"dir:{target}"],
                          capture_output=True, text=True)
    assert copy.returncode == 0, copy.stderr
    assert (target / digests["layer"].removeprefix("sha256:")).exists()
    again = json.loads(subprocess.run([skopeo, "inspect", f"dir:{target}"], capture_output=True, text=True,
                                      check=True).stdout)
    assert again["Digest"] == digests["manifest"], "the manifest came across byte for byte"


def test_skopeo_arm64_inspects_the_layout_under_qemu(tools, layout):
    _, _, out = tools
    path, digests = layout
    proc = run_binary(out / "arm64" / "bin" / "skopeo", Arch.arm64, ("inspect", f"oci:{path}:latest"), {})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Digest"] == digests["manifest"]


def test_podman_info_reports_the_built_runtime_and_conmon(tools, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("this test runs podman as root; rootless is the end-to-end suite's")
    _, _, out = tools
    bindir = out / "amd64" / "bin"
    conf = containers_conf(tmp_path / "containers.conf", bindir)
    storage = ["--root", tmp_path / "root", "--runroot", tmp_path / "run", "--storage-driver", "vfs"]
    proc = in_cgroup2_namespace([bindir / "podman", *storage, "info", "--format", "json"],
                                env={"CONTAINERS_CONF": str(conf)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["version"]["Version"] == "6.0.2"
    assert info["host"]["ociRuntime"]["path"] == str(bindir / "crun")
    assert info["host"]["conmon"]["path"] == str(bindir / "conmon")
    assert info["host"]["security"]["seccompEnabled"] is True
    assert info["host"]["cgroupVersion"] == "v2"
    assert info["store"]["graphRoot"] == str(tmp_path / "root")


def test_buildah_builds_an_image_from_scratch(tools, tmp_path):
    if not BUSYBOX.exists():
        pytest.skip("busybox-static is installed by `make setup`")
    _, _, out = tools
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(INSECURE_POLICY))
    conf = containers_conf(tmp_path / "containers.conf", out / "amd64" / "bin")
    storage = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), "--storage-driver", "vfs"]
    buildah = [str(out / "amd64" / "bin" / "buildah"), *storage]

    def run(*args: str) -> str:
        proc = subprocess.run([*buildah, *args], capture_output=True, text=True, timeout=120,
                              env=os.environ | {"CONTAINERS_CONF": str(conf)})
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    container = run("from", "--signature-policy", str(policy), "scratch")
    run("copy", container, str(BUSYBOX), "/bin/busybox")
    run("config", "--cmd", "/bin/busybox echo hi", container)
    image_id = run("commit", "--signature-policy", str(policy), container, "localhost/sb-busybox:1")
    images = json.loads(run("images", "--json"))
    assert any("localhost/sb-busybox:1" in (i.get("names") or []) and image_id.startswith(i["id"][:12])
               for i in images), images
