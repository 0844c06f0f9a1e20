"""The binaries under test: the release bundles, packaged from the staticbuild cache with the
command users run (`staticbuild package`, which builds only what is missing) and unpacked as
the README says (`tar --strip-components=1` into a prefix)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import staticbuild

from .common import Settings, UpstreamTestError, run, say

BUNDLES = {"podman": ("podman", "full"), "buildah": ("buildah", None), "skopeo": ("skopeo", None)}


def inputs_digest(settings: Settings) -> str:
    """The lock and staticbuild's own code (recipes, patches, bundle config): what a bundle is made from.
    Unchanged, the bundle packaged last time is this one (packaging again takes minutes on 2 cores)."""
    digest = hashlib.sha256(settings.lock.read_bytes())
    package_dir = Path(staticbuild.__file__).parent
    for path in sorted(p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(package_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def bundle_file(settings: Settings, name: str) -> Path:
    tool, variant = BUNDLES[name]
    out = settings.dir("dist")
    file = out / f"{tool}{'-' + variant if variant else ''}-linux-{settings.arch}.tar.zst"
    if settings.bundles is not None and (settings.bundles / file.name).is_file():
        return settings.bundles / file.name  # the bundle under release, exactly as it will be published
    stamp = file.with_name(file.name + ".inputs")
    key = inputs_digest(settings)
    if file.exists() and stamp.exists() and stamp.read_text() == key:
        return file
    argv = [sys.executable, "-m", "staticbuild", "--cache", settings.cache, "--lock", settings.lock,
            "package", tool, "--arch", settings.arch, "--out", out, *(["--variant", variant] if variant else [])]
    say(f"packaging the {name} bundle for {settings.arch} (cached builds are reused)")
    run(argv, settings.dir("logs") / f"package-{name}-{settings.arch}.log", timeout=4 * 3600)
    if not file.exists():
        raise UpstreamTestError(f"staticbuild package wrote no {file.name}")
    stamp.write_text(key)
    return file


def prefix(settings: Settings, name: str) -> Path:
    """The unpacked bundle (`bin/`, `lib/podman/`, `etc/containers/`), fresh for each new bundle."""
    file = bundle_file(settings, name)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:16]
    dest = settings.work / "static" / settings.arch / f"{name}-{digest}"
    if (dest / ".complete").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    proc = subprocess.run(["tar", "-C", dest, "--strip-components=1", "-xf", file], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UpstreamTestError(f"cannot unpack {file}: {proc.stderr.strip()[:200]}")
    (dest / ".complete").write_text(file.name + "\n")
    return dest
