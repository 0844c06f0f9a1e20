"""Everything a rehearsal run needs, set up once: the bundle's podman service, images, actions, the local GitHub."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import actions, images
from .act import Act
from .common import REPO, RehearsalError, file_sha256, run, say
from .github import LocalGitHub
from .service import Podman, unpack_bundle

ACT = REPO / ".venv" / "bin" / "act"


@dataclass
class Session:
    work: Path
    podman: Podman
    github: LocalGitHub
    act: Act


def podman_bundle(work: Path) -> Path:
    """podman-full for amd64, made by this checkout's staticbuild (a cache hit when it was built before),
    or the one REHEARSAL_PODMAN_BUNDLE names."""
    given = os.environ.get("REHEARSAL_PODMAN_BUNDLE")
    if given:
        return Path(given)
    out = work / "bundle"
    run([sys.executable, "-m", "staticbuild", "package", "podman", "--arch", "amd64", "--variant", "full",
         "--out", out], "staticbuild package podman --variant full", log=work / "logs" / "bundle.log", cwd=REPO)
    return out / "podman-full-linux-amd64.tar.zst"


def installed_podman(work: Path, bundle: Path) -> Podman:
    """The bundle unpacked the README's way into a prefix of its own (again when the bundle changed)."""
    prefix = work / "podman-prefix"
    stamp = prefix / ".bundle-sha256"
    sha = file_sha256(bundle)
    if not stamp.exists() or stamp.read_text() != sha:
        subprocess.run(["rm", "-rf", prefix], check=True)
        unpack_bundle(bundle, prefix)
        stamp.write_text(sha)
    return Podman(prefix, work / "podman")


def clone(work: Path, name: str, change: Callable[[Path], str] | None = None) -> Path:
    """A fresh clone of this repository's HEAD on branch main (what GitHub would run); `change` may edit
    it and return a commit message (the failing-build case)."""
    dest = work / "clones" / name
    subprocess.run(["rm", "-rf", dest], check=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run(["git", "clone", "--quiet", "--no-hardlinks", REPO, dest], f"git clone into {dest}")
    run(["git", "-C", dest, "checkout", "--quiet", "-B", "main"], "git checkout -B main")
    if change:
        message = change(dest)
        run(["git", "-C", dest, "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@localhost", "commit",
             "--quiet", "-am", message], f"committing the change in {dest}")
    return dest


@contextmanager
def session(work: Path, actions_folder: Path, bundle: Path | None = None) -> Iterator[Session]:
    if not ACT.exists():
        raise RehearsalError(f"act is not built at {ACT}: `make rehearse` builds it")
    work.mkdir(parents=True, exist_ok=True)
    podman = installed_podman(work, bundle or podman_bundle(work))
    say(f"images: {', '.join(images.ensure_all(podman, work))}")
    images.toolcache(podman, work)
    local_repositories = actions.prepare(actions_folder, work)
    with podman.service(work / "logs" / "podman-service.log") as docker_host, LocalGitHub() as github:
        github.seed_upstream()
        say(f"local GitHub at {github.url}")
        yield Session(work, podman, github, Act(ACT, docker_host, work, local_repositories, github.url,
                                               podman.prefix / "bin" / "podman"))
