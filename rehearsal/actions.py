"""The actions the workflows use, as local repositories for act (`--local-repository OWNER/REPO@SHA=DIR`).

GitHub is not reachable, so act cannot clone them: each is unpacked from the snapshot of its
repository at the pinned commit (../shared/actions, listed with their commits in its
README). A snapshot lacks the bundled JavaScript that actions commit to their repository
(dist/*.js); it is rebuilt from the action's own sources and lock file with npm, by the
`ncc build` commands of the action's `release` script.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .common import REPO, RehearsalError, file_sha256, need, run, say

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)(/[\w./-]+)?@([0-9a-f]{40})\s*(?:#\s*(\S+))?", re.M)


@dataclass(frozen=True)
class Snapshot:
    repo: str  # OWNER/NAME
    tag: str
    file: str
    commit: str
    absent: tuple[str, ...]  # generated files left out of the snapshot


def snapshots(folder: Path) -> dict[tuple[str, str], Snapshot]:
    """(repo, commit) -> snapshot, from the table in the folder's README."""
    readme = folder / "README.md"
    if not readme.is_file():
        raise RehearsalError(f"no action snapshots at {folder} (set REHEARSAL_ACTIONS to the folder with their README)")
    found = {}
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[0-9a-f]{40}", cells[3]):
            absent = tuple(a for a in cells[4].split(",") if a and a != "-")
            found[(cells[0], cells[3])] = Snapshot(cells[0], cells[1], cells[2], cells[3], absent)
    return found


def pinned(workflows: Path = REPO / ".github" / "workflows") -> set[tuple[str, str]]:
    """(OWNER/REPO, commit) of every action the workflows use."""
    return {(m[1], m[3]) for path in sorted(workflows.glob("*.yml")) for m in USES.finditer(path.read_text())}


def prepare(folder: Path, work: Path, workflows: Path = REPO / ".github" / "workflows") -> list[str]:
    """Unpack (and complete) every pinned action; return act's --local-repository arguments."""
    table = snapshots(folder)
    args = []
    for repo, commit in sorted(pinned(workflows)):
        snap = table.get((repo, commit))
        if snap is None:
            raise RehearsalError(f"{repo}@{commit} is pinned by a workflow but has no snapshot in {folder}/README.md")
        args.append(f"--local-repository={repo}@{commit}={unpack(snap, folder, work)}")
    return args


def unpack(snap: Snapshot, folder: Path, work: Path) -> Path:
    archive = folder / snap.file
    dest = work / "actions" / f"{snap.repo.replace('/', '+')}@{snap.tag}-{file_sha256(archive)[:12]}"
    if (dest / ".rehearsal-ready").exists():
        return dest
    say(f"unpacking {snap.repo} {snap.tag}" + (f" and rebuilding {', '.join(snap.absent)} with npm" if snap.absent else ""))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")
    if snap.absent:
        rebuild(dest, snap, work / "logs" / f"npm-{dest.name}.log")
    (dest / ".rehearsal-ready").write_text(snap.commit + "\n")
    return dest


def rebuild(dest: Path, snap: Snapshot, log: Path) -> None:
    """`npm ci` (each package checked against the lock's integrity), then the release script's ncc builds."""
    npm = need("npm", "install Debian's npm")
    run([npm, "ci", "--no-audit", "--no-fund"], f"npm ci in {snap.repo} {snap.tag}", log=log, cwd=dest)
    script = json.loads((dest / "package.json").read_text()).get("scripts", {}).get("release", "")
    builds = [part.strip() for part in script.split("&&") if part.strip().startswith("ncc build")]
    if not builds:
        raise RehearsalError(f"{snap.repo} {snap.tag}: no `ncc build` in its release script to rebuild {snap.absent}")
    for command in builds:  # the rest of the script (e.g. `git add -f dist/`) is release bookkeeping
        run([npm, "exec", "--", *command.split()], f"{command} in {snap.repo} {snap.tag}", log=log, cwd=dest)
    missing = [f for f in snap.absent if not (dest / f).is_file()]
    if missing:
        raise RehearsalError(f"{snap.repo} {snap.tag}: rebuilding did not make {', '.join(missing)}")
    shutil.rmtree(dest / "node_modules")  # the bundle needs none of it; act copies the tree into each job
