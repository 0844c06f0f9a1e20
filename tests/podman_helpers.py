"""Running the bundle's podman on these machines: a cgroup2 view, a chroot, an unprivileged user.

podman 6 refuses cgroup v1, and these machines mount a hybrid layout; tests show podman a
cgroup2 /sys/fs/cgroup in a private mount namespace (a real cgroup v2 host needs none of
this). The namespace is private, so nothing mounted there reaches the host.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

CGROUP2 = "umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup"
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
SUBID_RANGE = "200000-265535"


def in_cgroup2_namespace(argv: Sequence[str | Path], env: dict[str, str] | None = None, user: str | None = None,
                         chroot: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run argv with a clean environment (BASE_ENV + env), optionally as `user` or inside `chroot`."""
    command = [str(a) for a in argv]
    if chroot:
        command = ["chroot", str(chroot), *command]
    if user:
        command = ["setpriv", "--reuid", user, "--regid", user, "--init-groups", *command]
    command = ["env", "-i", *(f"{k}={v}" for k, v in (BASE_ENV | (env or {})).items()), *command]
    script = [CGROUP2]
    if chroot:
        script += [f"mount --rbind {d} {chroot}{d}" for d in ("/proc", "/sys", "/dev")]
        script += [f"mount -t tmpfs tmpfs {chroot}{d}" for d in ("/run", "/tmp")]
    script.append("exec " + shlex.join(command))
    return subprocess.run(["unshare", "-m", "sh", "-ec", "\n".join(script)], capture_output=True, text=True,
                          timeout=timeout, cwd="/")


def podman_info(podman: Path, *args: str, **kwargs) -> dict:
    proc = in_cgroup2_namespace([podman, *args, "info", "--format", "json"], **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def unpack(bundle: Path, prefix: Path) -> Path:
    """What the README tells users to do: tar --strip-components=1 into the prefix."""
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", bundle], check=True)
    return prefix


def usrmerged_root(root: Path) -> Path:
    """An empty root file system laid out like a current distribution (/bin -> usr/bin, /lib -> usr/lib)."""
    for d in ("usr/bin", "usr/lib", "etc", "proc", "sys", "dev", "run", "tmp", "var/tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "lib", "sbin"):
        (root / link).symlink_to(f"usr/{'bin' if link == 'sbin' else link}")
    return root


@contextmanager
def unprivileged_user() -> Iterator[tuple[str, Path]]:
    """A throw-away user with subordinate uid/gid ranges (newuidmap/newgidmap come from Debian's uidmap)."""
    if not shutil.which("newuidmap"):
        raise RuntimeError("newuidmap is missing: `make setup` installs uidmap")
    name = f"sbtest{os.getpid()}"
    home = Path(tempfile.mkdtemp(prefix="staticbuild-home-"))  # not under pytest's 0700 root-only folder
    # No automatic ranges: once /etc/subuid exists, useradd allocates one of its own (login.defs'
    # SUB_UID_COUNT), which can overlap SUBID_RANGE, and newuidmap then refuses the whole map.
    subprocess.run(["useradd", "--home-dir", home, "--no-create-home", "--shell", "/bin/sh",
                    "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name], check=True)
    try:
        subprocess.run(["usermod", "--add-subuids", SUBID_RANGE, "--add-subgids", SUBID_RANGE, name], check=True)
        entry = pwd.getpwnam(name)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        runtime = home / ".run"
        runtime.mkdir(mode=0o700)
        os.chown(runtime, entry.pw_uid, entry.pw_gid)
        yield name, home
    finally:
        for _ in range(50):  # rootless podman leaves a pause process holding its user namespace
            if subprocess.run(["pkill", "-KILL", "-u", name]).returncode == 1:  # 1: none left
                break
            time.sleep(0.1)
        subprocess.run(["userdel", name], check=True)
        shutil.rmtree(home, ignore_errors=True)


def user_env(home: Path, name: str) -> dict[str, str]:
    return {"HOME": str(home), "USER": name, "XDG_RUNTIME_DIR": str(home / ".run")}


def chown_tree(path: Path, user: str) -> None:
    subprocess.run(["chown", "-R", f"{user}:{user}", path], check=True)
