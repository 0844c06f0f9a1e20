"""The Dockerfile fallback, shown to work: `podman build` with the bundle's podman, then `package skopeo` in it.

The Dockerfile names Docker Hub's `golang:1.26.8-bookworm` and `debian:bookworm-slim`; the
rehearsal's podman storage holds stand-ins under exactly those names (images.py), and the
build is told not to pull, so the Dockerfile itself is unchanged. The run is the one its
header comment shows, with skopeo for both arches: a dist/ folder and a cache volume mounted.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .common import RehearsalError, say
from .images import DOCKERFILE_IMAGES, Builder
from .service import Podman
from .session import clone

IMAGE = "localhost/staticbuild:rehearsal"


@dataclass
class Result:
    dist: Path
    bundles: list[str]
    verify_output: str


def rehearse(podman: Podman, work: Path) -> Result:
    builder = Builder(podman, work)
    for recipe in DOCKERFILE_IMAGES:
        builder.ensure(recipe)
    context = clone(work, "dockerfile")
    log = work / "logs" / "dockerfile.log"
    say(f"podman build -t {IMAGE} . (the repository's Dockerfile, on the local base images); log {log}")
    podman("build", "--pull=never", "-t", IMAGE, "-f", context / "Dockerfile", context,
           what="podman build of the Dockerfile", log=log)
    dist = work / "dockerfile-dist"
    subprocess.run(["rm", "-rf", dist], check=True)
    dist.mkdir(parents=True)
    mounts = ["-v", f"{dist}:/src/dist", "-v", "staticbuild-cache:/root/.cache/staticbuild"]
    say("podman run --rm -v $PWD/dist:/src/dist -v staticbuild-cache:/root/.cache/staticbuild staticbuild "
        "package skopeo --arch all --out dist")
    podman("run", "--rm", *mounts, IMAGE, "package", "skopeo", "--arch", "all", "--out", "dist",
           what="package skopeo in the Dockerfile's image", log=log)
    bundles = sorted(p.name for p in dist.glob("*.tar.zst"))
    if bundles != ["skopeo-linux-amd64.tar.zst", "skopeo-linux-arm64.tar.zst"]:
        raise RehearsalError(f"the Dockerfile's image packaged {bundles}, not skopeo for amd64 and arm64")
    verify = podman("run", "--rm", "--privileged", *mounts, IMAGE, "verify", "dist/skopeo-linux-amd64.tar.zst",
                    "dist/skopeo-linux-arm64.tar.zst", what="verify in the Dockerfile's image")
    return Result(dist, bundles, verify.stdout)
