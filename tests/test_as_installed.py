"""The commands the workflows run, run the way the workflows run them.

A clean copy of the repository (the files git tracks, nothing else), a fresh venv with the
exact install line the workflow jobs use (`pip install -c constraints.txt .`, not editable),
every command started from the checkout, GitHub played by the local server. The rest of
the suite runs from the editable install of `make setup`, which hides files missing from the
wheel and paths that only resolve inside a source tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import COSIGN_ENV, REPO, make_dist
from github_server import FakeGitHub
from rootfs import debian_rootfs, in_chroot

pytestmark = pytest.mark.build
WORKFLOWS = REPO / ".github" / "workflows"
INSTALL = re.compile(r"python3 -m venv \.venv && \.venv/bin/pip install .*")
COMMAND = re.compile(r"\.venv/bin/staticbuild\s+([a-z-]+)")
GH_REPO, TOKEN = "me/staticbuild", "test-token"
# What this module runs from the installed venv; the first test keeps it in step with the workflows.
COVERED = {"list", "check", "verify", "checksums", "sign", "release", "verify-release"}


def jobs() -> dict[str, list[str]]:
    """'workflow/job' -> the run: scripts of its steps."""
    found = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (yaml.safe_load(path.read_text()).get("jobs") or {}).items():
            found[f"{path.stem}/{name}"] = [s["run"] for s in job.get("steps") or [] if "run" in s]
    return found


def pip_jobs() -> dict[str, list[str]]:
    """The jobs that install staticbuild with pip (the others run `make setup`, an editable install)."""
    return {name: runs for name, runs in jobs().items() if any(INSTALL.search(r) for r in runs)}


def test_every_command_of_a_pip_installed_job_is_run_here():
    install_lines = {m.group(0) for runs in pip_jobs().values() for r in runs for m in [INSTALL.search(r)] if m}
    assert install_lines == {"python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt ."}, \
        "the jobs install one way, the way the fixture below does"
    used = {c for runs in pip_jobs().values() for r in runs for c in COMMAND.findall(r)}
    assert used, "the workflows run staticbuild commands"
    assert used <= COVERED, f"not run from an installed venv here: {sorted(used - COVERED)}"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A clean clone of the working tree with the workflows' own install line run in it."""
    clone = tmp_path_factory.mktemp("clone")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    install = next(iter({m.group(0) for runs in pip_jobs().values() for r in runs
                         for m in [INSTALL.search(r)] if m}))
    python = Path(sys.executable).resolve().parent  # the interpreter of this run stands for the runner's python3
    env = os.environ | {"PATH": f"{python}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", install], cwd=clone, env=env, check=True, capture_output=True, timeout=600)
    assert not list((clone / ".venv").glob("lib/python*/site-packages/__editable__*")), "a real install"
    return clone


def staticbuild(checkout: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "STATICBUILD_"))}
    return subprocess.run([str(checkout / ".venv/bin/staticbuild"), *args], cwd=checkout, capture_output=True,
                          text=True, env=clean | {"COLUMNS": "200"} | (env or {}), timeout=600)


def test_list_starts_from_the_checkout(checkout):
    proc = staticbuild(checkout, "list")
    assert proc.returncode == 0, proc.stderr
    assert "podman" in proc.stdout and "catatonit" in proc.stdout


def test_check_finds_upstreams_release_as_the_check_job_does(checkout):
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_release("containers/skopeo", "v1.19.0")
        fake.add_release("containers/podman", "v6.0.2")
        fake.add_release("containers/buildah", "v1.44.1")
        env = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": GH_REPO, "GITHUB_TOKEN": TOKEN}
        proc = staticbuild(checkout, "check", "skopeo", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '{"include":[{"tool":"skopeo","version":"1.19.0"}]}'


@pytest.fixture(scope="module")
def dist(built, settings, catalog, lock, tmp_path_factory) -> Path:
    return make_dist(settings, catalog, lock, tmp_path_factory.mktemp("dist"))


def test_verify_runs_the_bundles_of_both_arches(checkout, dist):
    proc = staticbuild(checkout, "verify", *map(str, sorted(dist.glob("*.tar.zst"))))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "arm64" in proc.stdout and "tini version 0.2.1_catatonit" in proc.stdout


def test_checksums_sign_verify_and_release_as_the_release_job_does(checkout, dist, cosign_keys, tmp_path):
    release_dir = tmp_path / "dist"
    shutil.copytree(dist, release_dir)
    (release_dir / "checksums.txt").unlink()
    private, public = cosign_keys
    for args in (["checksums", str(release_dir)], ["sign", str(release_dir), "--key", str(private)],
                 ["verify-release", str(release_dir), "--key", str(public)]):
        proc = staticbuild(checkout, *args, env=COSIGN_ENV)
        assert proc.returncode == 0, f"{args[0]}: {proc.stderr}"
    # `release` takes podman, buildah or skopeo; the small bundle's SBOMs name catatonit: call it what it holds
    for sbom in release_dir.glob("*.cdx.json"):
        sbom.write_text(sbom.read_text().replace('"name": "catatonit"', '"name": "skopeo"'))
    assert staticbuild(checkout, "checksums", str(release_dir)).returncode == 0
    assert staticbuild(checkout, "sign", str(release_dir), "--key", str(private), env=COSIGN_ENV).returncode == 0
    with FakeGitHub(token=TOKEN) as fake:
        env = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": GH_REPO, "GITHUB_TOKEN": TOKEN, "GITHUB_SHA": "abc123"}
        proc = staticbuild(checkout, "release", "skopeo", "--version", "0.2.1", "--key", str(public),
                           str(release_dir), env=env)
        assert proc.returncode == 0, proc.stderr
        release = fake.release(GH_REPO, "skopeo-v0.2.1")
        assert not release["draft"] and set(fake.asset_data(release)) == {p.name for p in release_dir.iterdir()}


@pytest.fixture(scope="module")
def arm64_root(checkout, tmp_path_factory) -> Path:
    """An arm64 Debian with python3 and staticbuild installed from the clean clone's wheel (arm64 wheels)."""
    root = debian_rootfs(tmp_path_factory.mktemp("arm64") / "root", "arm64", include=("python3",))
    wheels = tmp_path_factory.mktemp("wheel")
    pip = str(checkout / ".venv/bin/pip")
    subprocess.run([pip, "wheel", "-q", "--no-deps", "-w", str(wheels), str(checkout)], check=True, timeout=300)
    subprocess.run([pip, "install", "-q", "--target", str(root / "opt/staticbuild"), "--platform",
                    "manylinux2014_aarch64", "--python-version", "3.11", "--implementation", "cp",
                    "--only-binary=:all:", "-c", str(checkout / "constraints.txt"), *map(str, wheels.glob("*.whl"))],
                   check=True, timeout=600)
    (root / "work").mkdir()
    shutil.copy(checkout / "staticbuild.lock", root / "work" / "staticbuild.lock")
    return root


def test_verify_on_an_arm64_machine_runs_arm64_binaries_natively(arm64_root, dist):
    """What the test-arm64 job does on GitHub's arm64 runner, here in an arm64 tree under qemu-user binfmt:
    `uname -m` says aarch64 and there is no qemu binary inside, so nothing can be emulated by verify."""
    shutil.copy(dist / "catatonit-linux-arm64.tar.zst", arm64_root / "work")
    assert not list(arm64_root.glob("usr/bin/qemu-*"))
    script = ("cd /work && uname -m && PYTHONPATH=/opt/staticbuild COLUMNS=200 "
              "python3 -m staticbuild verify --json catatonit-linux-arm64.tar.zst")
    proc = in_chroot(arm64_root, script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    machine, _, reports = proc.stdout.partition("\n")
    assert machine == "aarch64"
    assert '"arch": "arm64"' in reports and "tini version 0.2.1_catatonit" in reports and '"ok": false' not in reports
