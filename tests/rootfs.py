"""Small Debian root file systems for tests, arm64 ones included, made without running anything foreign.

`debootstrap --foreign` downloads and unpacks the base system for any arch; the packages
asked for with --include are only downloaded, so they are unpacked here with dpkg-deb. No
maintainer script runs (that would need the second stage under emulation), which is enough
for running programs: an arm64 tree is then entered with chroot, and qemu-user, registered
in binfmt_misc with the F flag, runs its binaries without any qemu binary inside the tree.
The mirror is the one apt on this machine uses.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SUITE = "bookworm"


def debian_mirror() -> str:
    """The archive apt downloads this machine's binary packages from."""
    out = subprocess.run(["apt-get", "indextargets", "--format", "$(REPO_URI)\t$(CODENAME)", "Created-By: Packages"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        uri, _, codename = line.partition("\t")
        if codename == SUITE and "security" not in uri:
            return uri
    raise RuntimeError(f"apt has no {SUITE} archive configured")


def debian_rootfs(dest: Path, arch: str, include: tuple[str, ...] = ()) -> Path:
    """A minbase Debian tree at `dest` (reused when it is there already) with `include` unpacked."""
    done = dest / ".staticbuild-rootfs"
    if done.exists():
        return dest
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed: `make setup` installs it")
    shutil.rmtree(dest, ignore_errors=True)
    args = ["debootstrap", "--foreign", f"--arch={arch}", "--variant=minbase"]
    if include:
        args.append(f"--include={','.join(include)}")
    subprocess.run([*args, SUITE, str(dest), debian_mirror()], check=True, capture_output=True)
    for deb in sorted((dest / "var/cache/apt/archives").glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    done.write_text(f"{arch} {' '.join(include)}\n")
    return dest


def in_chroot(root: Path, script: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `script` with sh inside `root`, with /dev and /proc from a private mount namespace."""
    setup = f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" && exec chroot "{root}" sh -c "$0"'
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", setup, script],
                          capture_output=True, text=True, timeout=timeout)
