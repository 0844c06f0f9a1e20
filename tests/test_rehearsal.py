"""The release pipeline rehearsed: the real workflow files run by act on the bundle's podman service.

`make rehearse` (part of the full suite, never of `make test`). One session serves every
test: the podman-full bundle's `podman system service` as the Docker API, runner images made
with debootstrap, the actions from their snapshots, and the local GitHub (FakeGitHub) that
act's jobs reach through GITHUB_API_URL. Each scenario is a real `workflow_dispatch` of
check.yml; the assertions are on the local GitHub's state and on act's job results. See
rehearsal/ for how each piece is made and README ("Rehearsing the release pipeline") for
what is switched under act and what the stand-ins cannot show.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))  # the rehearsal/ package sits beside tests/, like bench/
from rehearsal import dockerfile, scenarios  # noqa: E402
from rehearsal.common import DEFAULT_ACTIONS, DEFAULT_WORK  # noqa: E402
from rehearsal.session import session  # noqa: E402

pytestmark = [pytest.mark.full, pytest.mark.rehearse]
TOOL = scenarios.TOOL
ARCHES = ("amd64", "arm64")


@pytest.fixture(scope="module")
def s():
    with session(DEFAULT_WORK, DEFAULT_ACTIONS) as live:
        yield live


def expected_assets(version: str) -> set[str]:
    files = {f"{TOOL}-linux-{a}{ext}" for a in ARCHES for ext in (".tar.zst", ".cdx.json")}
    files |= {"checksums.txt", "install.sh", f"{TOOL}-v{version}-sources.tar.zst"}
    return files | {f + ".sigstore.json" for f in files}


def published_version(release: dict) -> str:
    return release["tag_name"].removeprefix(f"{TOOL}-v")


def releases(s, repo: str) -> list[dict]:
    return s.github.releases.get(repo, [])


# --- the scenarios run in this order (module-scoped fixtures keep their outcomes) ---------------------------

@pytest.fixture(scope="module")
def failing(s):
    return scenarios.failing_build(s)


@pytest.fixture(scope="module")
def released(s, failing):
    return scenarios.release(s)


@pytest.fixture(scope="module")
def second(s, released):
    return scenarios.noop(s, released)


@pytest.fixture(scope="module")
def bumped(s, second):
    return scenarios.bump(s)


@pytest.fixture(scope="module")
def cut(s, bumped):
    return scenarios.cut_off(s)


def test_a_failing_build_leaves_no_release_at_all(s, failing):
    run = failing.runs[-1]
    assert run.returncode != 0, run.log
    assert run.job("/check") == "succeeded", run.jobs
    builds = {j: r for j, r in run.jobs.items() if "/build" in j and "test-arm64" not in j}
    assert builds and set(builds.values()) == {"failed"}, run.jobs
    assert run.job("/release") is None and run.job("/test-arm64") is None, run.jobs  # never started
    assert releases(s, failing.repo) == []  # not even a draft
    assert s.github.calls("POST", f"/repos/{failing.repo}/releases") == 0


def test_the_release_is_published_with_every_asset(s, released):
    run = released.runs[-1]
    assert run.returncode == 0, run.log
    for job in ("/check", "/test-arm64", "/release"):
        assert run.job(job) == "succeeded", (job, run.jobs)
    version = scenarios.locked_version(released.clone)
    (release,) = releases(s, released.repo)
    assert release["tag_name"] == f"{TOOL}-v{version}" and not release["draft"] and not release["prerelease"]
    assert release["name"] == f"{TOOL.capitalize()} {version}"
    assert f"| {TOOL} | {version} |" in release["body"] and "sha256sum -c checksums.txt" in release["body"]
    # the build job's upstream-suite gate ran in the debian:bookworm container, and release read its file
    assert "### Upstream test suites (release gate)" in release["body"]
    assert f"| amd64 | {TOOL} {version} |" in release["body"], release["body"]
    assert release["_make_latest"] == "false"  # the one "latest" badge is podman's
    head = scenarios.head(released.clone)
    assert release["target_commitish"] == head  # GITHUB_SHA: the commit the run was dispatched at
    data = s.github.asset_data(release)
    assert set(data) == expected_assets(version) and s.github.uploaded(release) == dict.fromkeys(data, "uploaded")
    sums = dict(reversed(line.split("  ")) for line in data["checksums.txt"].decode().splitlines())
    assert sums == {n: hashlib.sha256(d).hexdigest() for n, d in data.items()
                    if n.endswith((".tar.zst", ".cdx.json", ".sh"))}
    assert f"DEFAULT_REPO='{released.repo}'" in data["install.sh"].decode()  # the installer knows its repository
    for name, blob in data.items():
        if name.endswith(".sigstore.json"):  # a Sigstore bundle over exactly that asset's bytes
            signed = json.loads(blob)["messageSignature"]["messageDigest"]
            subject = data[name.removesuffix(".sigstore.json")]
            assert base64.b64decode(signed["digest"]) == hashlib.sha256(subject).digest(), name
    sbom = json.loads(data[f"{TOOL}-linux-arm64.cdx.json"])
    assert any(c["name"] == TOOL and c["version"] == version for c in sbom["components"])


def test_a_second_dispatch_is_a_no_op(s, second):
    run = second.runs[-1]
    assert run.returncode == 0, run.log
    assert run.job("/check") == "succeeded" and set(run.jobs) == {j for j in run.jobs if j.endswith("/check")}, run.jobs
    new = s.github.requests[second.requests_before:]
    assert new and all(method == "GET" for method, _, _ in new), [(m, p) for m, p, _ in new if m != "GET"]
    assert len(releases(s, second.repo)) == 1


def test_a_scheduled_bump_pins_commits_and_pushes_the_lock_and_the_release_is_tagged_at_that_commit(s, bumped):
    run = bumped.runs[-1]
    for job in ("/check", "/bump", "/test-arm64", "/release"):
        assert run.job(job) == "succeeded", (job, run.jobs)
    # The bump also proposes podman-full's helpers from the real upstreams (Debian's archive); one
    # that cannot be verified (e.g. a source this machine's archive mirror lacks) is left out and
    # ends the run red after the release, by design (`bump-failures`). Nothing else may fail.
    assert run.returncode == 0 or run.job("/bump-failures") == "failed", run.log
    assert {r for j, r in run.jobs.items() if not j.endswith("/bump-failures")} == {"succeeded"}, run.jobs
    assert scenarios.locked_version(bumped.clone) == scenarios.OLDER  # what the run was dispatched at
    start = scenarios.head(bumped.clone)
    commit = bumped.bump_commit  # the default branch on the local GitHub, after the run
    assert commit != start and s.github.git_show(bumped.repo, f"{commit}~1", "staticbuild.lock") == \
        s.github.git_show(bumped.repo, start, "staticbuild.lock")  # one commit on top of the dispatched one
    changed = s.github.git_diff_names(bumped.repo, start, commit)
    assert changed == ["staticbuild.lock"]  # only the lock is committed
    # a scheduled run checks every tool: podman and buildah, released already, build nothing
    assert not [j for j in run.jobs if "podman" in j or "buildah" in j], run.jobs
    others = [r for r in releases(s, bumped.repo) if not r["tag_name"].startswith(f"{TOOL}-v")]
    assert sorted(r["tag_name"].split("-v")[0] for r in others) == sorted(scenarios.OTHER_TOOLS)
    assert all(s.github.asset_data(r) == {} for r in others)  # untouched
    (release,) = [r for r in releases(s, bumped.repo) if r["tag_name"].startswith(f"{TOOL}-v")]
    version = published_version(release)
    assert version != scenarios.OLDER and not release["draft"]
    assert release["target_commitish"] == commit  # the tag points at the bump commit ...
    lock = s.github.git_show(bumped.repo, commit, "staticbuild.lock")  # ... whose lock pins what was released
    assert f'[{TOOL}]\nversion = "{version}"' in lock and f"{TOOL}@v{version}" in lock
    assert s.github.uploaded(release) == dict.fromkeys(expected_assets(version), "uploaded")
    # build, test-arm64 and release checked out the bump commit from the local GitHub (git or tarball)
    fetched = [p for m, p in s.github.git_requests if "upload-pack" in p or p.startswith("tarball")]
    assert any(commit in p for p in fetched), s.github.git_requests
    assert ("POST", f"/{bumped.repo}.git/git-receive-pack") in s.github.git_requests  # the bump's push


def test_a_run_cut_off_during_upload_leaves_a_partial_draft(s, cut):
    killed = cut.runs[0]
    assert killed.returncode != 0
    assert killed.job("/test-arm64") == "succeeded" and killed.job("/release") is None, killed.jobs  # cut in release
    assert 0 < cut.left["received"] < cut.left["length"]  # the connection ended short of the asset's length
    ((tag, left),) = cut.left["releases"].items()
    assert tag.startswith(f"{TOOL}-v") and left["draft"]
    assert left["assets"][scenarios.HELD_ASSET] == "starter"  # the partial upload GitHub keeps
    uploaded = {n for n, state in left["assets"].items() if state == "uploaded"}
    version = tag.removeprefix(f"{TOOL}-v")
    assert uploaded and uploaded < expected_assets(version) - {scenarios.HELD_ASSET}  # some files up, not all


def test_a_run_cut_off_during_upload_completes_when_dispatched_again(s, cut):
    again = cut.runs[1]
    assert again.returncode == 0, again.log
    assert again.job("/release") == "succeeded", again.jobs
    (release,) = releases(s, cut.repo)  # the draft the cut-off run left, now published
    assert not release["draft"] and release["tag_name"] in cut.left["releases"]
    assert s.github.uploaded(release) == dict.fromkeys(expected_assets(published_version(release)), "uploaded")
    assert s.github.calls("DELETE", f"/repos/{cut.repo}/releases/assets/") >= 1  # the starter was removed


def test_the_dockerfile_builds_with_podman_and_packages_skopeo(s):
    result = dockerfile.rehearse(s.podman, s.work)
    assert result.bundles == [f"{TOOL}-linux-amd64.tar.zst", f"{TOOL}-linux-arm64.tar.zst"]
    assert "static" in result.verify_output and "fail" not in result.verify_output.lower()
