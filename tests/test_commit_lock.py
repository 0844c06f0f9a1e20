"""scripts/commit-lock, check.yml's bump job publishing the lock: real git, a bare repository as the remote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "commit-lock"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> tuple[Path, Path]:
    """A remote (bare) holding a lock and a README on main, and a job's clone of it."""
    remote, seed, clone = tmp_path / "remote.git", tmp_path / "seed", tmp_path / "clone"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(seed))
    (seed / "staticbuild.lock").write_text('[skopeo]\nversion = "1.19.0"\n')
    (seed / "README.md").write_text("readme\n")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "start")
    git(seed, "push", "-q", "origin", "HEAD:main")
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    return remote, clone


def commit_lock(clone: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=clone, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **env})


def bump(clone: Path) -> None:
    (clone / "staticbuild.lock").write_text('[skopeo]\nversion = "1.20.0"\n')
    (clone / "stray.txt").write_text("the job's own leftovers are never committed\n")


def test_commit_mode_pushes_only_the_lock_and_names_the_commit(repo, tmp_path):
    remote, clone = repo
    bump(clone)
    outputs = tmp_path / "github_output"
    proc = commit_lock(clone, "commit", "main", "skopeo 1.20.0", GITHUB_OUTPUT=str(outputs))
    assert proc.returncode == 0, proc.stderr
    head = git(remote, "rev-parse", "main")
    assert outputs.read_text() == f"sha={head}\n", "build.yml checks out and tags exactly this commit"
    assert git(remote, "log", "-1", "--format=%s", "main") == "lock: pin skopeo 1.20.0"
    assert git(remote, "show", "--name-only", "--format=", "main") == "staticbuild.lock"
    assert git(remote, "show", "main:staticbuild.lock") == '[skopeo]\nversion = "1.20.0"'


def test_a_push_made_meanwhile_is_kept_and_the_lock_commit_goes_on_top(repo, tmp_path):
    remote, clone = repo
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "README.md").write_text("someone else's change\n")
    git(other, "commit", "-q", "-am", "meanwhile")
    git(other, "push", "-q", "origin", "HEAD:main")
    bump(clone)
    outputs = tmp_path / "github_output"
    proc = commit_lock(clone, "commit", "main", "skopeo 1.20.0", GITHUB_OUTPUT=str(outputs))
    assert proc.returncode == 0, proc.stderr
    assert git(remote, "log", "--format=%s", "main").splitlines() == ["lock: pin skopeo 1.20.0", "meanwhile", "start"]
    assert outputs.read_text() == f"sha={git(remote, 'rev-parse', 'main')}\n"


@pytest.mark.parametrize("args, env, message", [
    (("pull-request", "main", "skopeo 1.20.0"), {"GH_TOKEN": ""}, "needs the secret STATICBUILD_BUMP_TOKEN"),
    (("merge", "main", "skopeo 1.20.0"), {}, "unknown mode 'merge'"),
    (("commit", "main", ""), {}, "nothing was pinned"),
])
def test_refusals_are_one_line_and_push_nothing(repo, args, env, message):
    remote, clone = repo
    before = git(remote, "rev-parse", "main")
    bump(clone)
    proc = commit_lock(clone, *args, **env)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert git(remote, "rev-parse", "main") == before
    assert git(remote, "for-each-ref", "--format=%(refname)") == "refs/heads/main"


def test_an_unchanged_lock_is_no_commit(repo):
    remote, clone = repo
    before = git(remote, "rev-parse", "main")
    proc = commit_lock(clone, "commit", "main", "skopeo 1.20.0")
    assert proc.returncode == 1 and "staticbuild.lock is unchanged" in proc.stderr
    assert git(remote, "rev-parse", "main") == before
