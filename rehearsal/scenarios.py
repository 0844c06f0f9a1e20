"""The runs the rehearsal makes, each a real `workflow_dispatch` of check.yml under act.

* `failing_build`: a commit that breaks skopeo's build (a wrong source digest in the lock):
  the build jobs fail, and the repository gets no release at all, not even a draft;
* `release`: check -> build (amd64, arm64 in the debian:bookworm container) -> test-arm64 ->
  release, published on the local GitHub;
* `noop`: the same dispatch again: check finds the version released, nothing else runs;
* `cut_off`: a run whose release upload is cut off (act and its containers killed while an
  asset is on the wire), then the same dispatch again, which completes the release.

Each returns what happened; tests/test_rehearsal.py asserts on it and on the server's state.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .act import RunResult, interrupt
from .common import RehearsalError, say
from .session import Session, clone

TOOL = "skopeo"  # the quickest tool to build
HELD_ASSET = f"{TOOL}-linux-arm64.tar.zst"  # uploaded after the amd64 files: a cut-off leaves a partial release


def locked_version(repo_dir: Path, tool: str = TOOL) -> str:
    text = (repo_dir / "staticbuild.lock").read_text()
    match = re.search(rf'^\[{tool}\]\nversion = "([^"]+)"', text, re.M)
    if not match:
        raise RehearsalError(f"staticbuild.lock pins no {tool}")
    return match[1]


def head(repo_dir: Path) -> str:
    return subprocess.run(["git", "-C", repo_dir, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


@dataclass
class Outcome:
    repo: str  # OWNER/NAME on the local GitHub
    clone: Path
    runs: list[RunResult] = field(default_factory=list)
    requests_before: int = 0  # server requests seen before the last run (for the no-op case)


def dispatch(s: Session, name: str, repo: str, clone_dir: Path, run_id: int) -> RunResult:
    return s.act.run(name, clone_dir, repo, run_id, {"tool": TOOL, "version": "", "force": "false"})


def break_the_build(repo_dir: Path) -> str:
    lock = repo_dir / "staticbuild.lock"
    text = lock.read_text()
    sha = re.search(rf'url = "gomod:github.com/containers/{TOOL}@[^"]+"\nsha256 = "([0-9a-f]{{64}})"', text)[1]
    wrong = sha[:-1] + ("0" if sha[-1] != "0" else "1")
    lock.write_text(text.replace(sha, wrong))
    return f"rehearsal: a wrong {TOOL} source digest, so that its build fails"


def failing_build(s: Session, repo: str = "rehearsal/failing") -> Outcome:
    out = Outcome(repo, clone(s.work, "failing", break_the_build))
    out.runs.append(dispatch(s, "failing-build", repo, out.clone, 101))
    return out


def release(s: Session, repo: str = "rehearsal/staticbuild") -> Outcome:
    out = Outcome(repo, clone(s.work, "main"))
    out.runs.append(dispatch(s, "release", repo, out.clone, 201))
    return out


def noop(s: Session, previous: Outcome) -> Outcome:
    out = Outcome(previous.repo, previous.clone, requests_before=len(s.github.requests))
    out.runs.append(dispatch(s, "second-dispatch", previous.repo, previous.clone, 202))
    return out


def cut_off(s: Session, repo: str = "rehearsal/cut-off") -> Outcome:
    out = Outcome(repo, clone(s.work, "cut-off"))
    reached, let_go = s.github.hold_upload(HELD_ASSET)
    started = time.monotonic()
    proc, log = s.act.start("cut-off", out.clone, repo, 301, {"tool": TOOL, "version": "", "force": "false"})
    try:
        while not reached.wait(timeout=5):
            if proc.poll() is not None:
                raise RehearsalError(f"cut-off: the run ended ({proc.returncode}) before uploading {HELD_ASSET} "
                                     f"(log: {log})")
        say(f"cut-off: {HELD_ASSET} is being uploaded: killing the run (act and its job containers)")
        interrupt(proc, grace=5)
        s.act.remove_leftovers()  # the release job's `staticbuild release` dies with its container
    finally:
        let_go.set()
        interrupt(proc, grace=5)
        s.act.remove_leftovers()
    out.runs.append(RunResult("cut-off", proc.returncode, log, {}, time.monotonic() - started))
    out.runs.append(dispatch(s, "after-cut-off", repo, out.clone, 302))
    return out
