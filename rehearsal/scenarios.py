"""The runs the rehearsal makes, each a real `workflow_dispatch` of check.yml under act.

* `failing_build`: a commit that breaks skopeo's build (a wrong source digest in the lock):
  the build jobs fail, and the repository gets no release at all, not even a draft;
* `release`: check -> build (amd64, arm64 in the debian:bookworm container) -> test-arm64 ->
  release, published on the local GitHub;
* `noop`: the same dispatch again: check finds the version released, nothing else runs;
* `bump`: the hourly `schedule` event (no inputs: every tool, as on GitHub) where upstream is
  ahead of the lock for skopeo (the repository's lock pins 1.18.0) and podman and buildah are
  released already: check proposes skopeo 1.19.0, the bump job pins it, commits the lock and
  pushes that commit to the repository's default branch on the local GitHub; build, test-arm64
  and release run at the bump commit, and the release's tag points at it;
* `cut_off`: a run whose release upload is cut off (act and its containers killed while an
  asset is on the wire: the local GitHub holds that upload, reading it slowly, so the cut comes
  at a known point of `staticbuild release`'s own code path, and sees the connection end short),
  then the same dispatch again, which completes the release.

Each repository is a fresh clone of HEAD with a change of its own, served by the local GitHub
(github.py, host_repository), where actions/checkout fetches and the bump job pushes. Each
returns what happened; tests/test_rehearsal.py asserts on it and on the server's state.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .act import RunResult, echo_progress, job_results, kill
from .common import RehearsalError, say
from .session import Session, clone

OLDER = "1.18.0"  # upstream's release before the newest (github.UPSTREAM), for the bump

TOOL = "skopeo"  # the quickest tool to build
OTHER_TOOLS = ("podman", "buildah")  # released already on the local GitHub when the scheduled run comes
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
    bump_commit: str = ""  # what the default branch points at after the run (bump)
    left: dict = field(default_factory=dict)  # what a cut-off run left on the local GitHub (cut_off)


def dispatch(s: Session, name: str, repo: str, clone_dir: Path, run_id: int) -> RunResult:
    return s.act.run(name, clone_dir, repo, run_id, {"tool": TOOL, "version": "", "force": "false"})


def break_the_build(repo_dir: Path) -> str:
    lock = repo_dir / "staticbuild.lock"
    text = lock.read_text()
    sha = re.search(rf'url = "gomod:github.com/containers/{TOOL}@[^"]+"\nsha256 = "([0-9a-f]{{64}})"', text)[1]
    wrong = sha[:-1] + ("0" if sha[-1] != "0" else "1")
    lock.write_text(text.replace(sha, wrong))
    return f"rehearsal: a wrong {TOOL} source digest, so that its build fails"


def repository(s: Session, repo: str, name: str, change=None) -> Path:
    """A fresh clone of HEAD (with `change` committed), served by the local GitHub as `repo`."""
    path = clone(s.work, name, change)
    s.github.host_repository(repo, path)
    return path


def pin_older(repo_dir: Path) -> str:
    """The lock pins skopeo's previous release: upstream is ahead, a bump is due."""
    lock = repo_dir / "staticbuild.lock"
    text = lock.read_text()
    version = locked_version(repo_dir)
    start = text.index(f"[{TOOL}]\n")
    end = text.index("\n[", text.index(f"[[{TOOL}.sources]]") + 1)
    lock.write_text(text[:start] + text[start:end].replace(version, OLDER) + text[end:])
    if locked_version(repo_dir) != OLDER:
        raise RehearsalError(f"could not pin {TOOL} {OLDER} in {lock}")
    return f"rehearsal: the lock pins {TOOL} {OLDER}, behind upstream's {version}"


def failing_build(s: Session, repo: str = "rehearsal/failing") -> Outcome:
    out = Outcome(repo, repository(s, repo, "failing", break_the_build))
    out.runs.append(dispatch(s, "failing-build", repo, out.clone, 101))
    return out


def release(s: Session, repo: str = "rehearsal/staticbuild") -> Outcome:
    out = Outcome(repo, repository(s, repo, "main"))
    out.runs.append(dispatch(s, "release", repo, out.clone, 201))
    return out


def bump(s: Session, repo: str = "rehearsal/bump") -> Outcome:
    """A scheduled run, unattended: only skopeo is behind upstream, the other tools are released here."""
    out = Outcome(repo, repository(s, repo, "bump", pin_older))
    for tool in OTHER_TOOLS:
        s.github.add_release(repo, f"{tool}-v{locked_version(out.clone, tool)}")
    out.runs.append(s.act.run("bump", out.clone, repo, 401, None))
    out.bump_commit = s.github.git_head(repo)
    return out


def noop(s: Session, previous: Outcome) -> Outcome:
    out = Outcome(previous.repo, previous.clone, requests_before=len(s.github.requests))
    out.runs.append(dispatch(s, "second-dispatch", previous.repo, previous.clone, 202))
    return out


def cut_off(s: Session, repo: str = "rehearsal/cut-off", timeout: float = 3 * 3600) -> Outcome:
    """Dispatch; when the release job's upload of HELD_ASSET is on the wire (the local GitHub holds it,
    reading it slowly), kill act and every container at once, and see the upload end short: the
    draft keeps a partial ("starter") asset. Then dispatch again, which must complete the release."""
    out = Outcome(repo, repository(s, repo, "cut-off"))
    hold = s.github.hold_upload(repo, HELD_ASSET)
    started = time.monotonic()
    proc, log = s.act.start("cut-off", out.clone, repo, 301, {"tool": TOOL, "version": "", "force": "false"})
    try:
        seen = 0
        while not hold.reached.wait(timeout=1):
            seen = echo_progress(log, seen)
            if proc.poll() is not None:
                raise RehearsalError(f"cut-off: the run ended ({proc.returncode}) before uploading {HELD_ASSET} "
                                     f"(log: {log})")
            if time.monotonic() - started > timeout:
                raise RehearsalError(f"cut-off: no upload of {HELD_ASSET} within {timeout / 60:.0f} min (log: {log})")
        echo_progress(log, seen)
        uploaders = processes_running(["staticbuild", "release"])
        say(f"cut-off: {HELD_ASSET} is on the wire ({hold.received} of {hold.length} bytes, sent by "
            f"`staticbuild release`, pid {', '.join(map(str, uploaders)) or '?'}): killing act and every container")
        if not uploaders:
            raise RehearsalError("cut-off: no `staticbuild release` process is running on this machine")
        kill(proc)
        running = s.act.kill_containers()
        if running:
            raise RehearsalError(f"cut-off: containers still running after `podman kill -a`: {running}")
        deadline = time.monotonic() + 60
        while alive := [pid for pid in uploaders if is_alive(pid)]:
            if time.monotonic() > deadline:
                raise RehearsalError(f"cut-off: `staticbuild release` (pid {alive}) outlived act and its container")
            time.sleep(0.2)
        at_kill = hold.received
        hold.hang_up()  # the uploader is gone: the local GitHub drops the connection (see github.Hold)
        if not hold.done.wait(timeout=60) or hold.outcome != "cut":
            raise RehearsalError(f"cut-off: the upload of {HELD_ASSET} was not cut off: "
                                 f"{hold.outcome or 'still open'} ({hold.received} of {hold.length} bytes)")
        out.left = draft_state(s, repo) | {"received": at_kill, "length": hold.length}
        say(f"cut-off: the upload ended at {at_kill} of {hold.length} bytes; on the local GitHub: {out.left}")
    finally:
        hold.hang_up()
        kill(proc)
        s.act.remove_leftovers()
    out.runs.append(RunResult("cut-off", proc.returncode, log, job_results(log), time.monotonic() - started))
    out.runs.append(dispatch(s, "after-cut-off", repo, out.clone, 302))
    return out


def processes_running(argv: list[str]) -> list[int]:
    """The pids of processes in containers (in a pid namespace other than ours: the host sees them)
    whose command line holds `argv` in order, the first word as a program's base name."""
    found, ours = [], os.readlink("/proc/self/ns/pid")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            words = [w.decode(errors="replace") for w in (proc / "cmdline").read_bytes().split(b"\0")]
            if os.readlink(proc / "ns" / "pid") == ours:
                continue
        except OSError:
            continue
        for i, word in enumerate(words):
            if Path(word).name == argv[0] and words[i + 1:i + len(argv)] == argv[1:]:
                found.append(int(proc.name))
                break
    return found


def is_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def draft_state(s: Session, repo: str) -> dict:
    """What a repository's releases look like now: tag -> draft flag and asset name -> state."""
    with s.github.lock:
        return {"releases": {tag: {"draft": r["draft"], "assets": s.github.uploaded(r)}
                             for tag, r in s.github.tags(repo).items()}}
