"""Where a suite runs: a private mount namespace set up for this machine, never the host itself.

* cgroups: these machines mount a hybrid layout. crun 1.21 takes plain cgroup v1 once the
  cgroup2 mount is gone ("v1"); podman 6 refuses v1 and gets a cgroup2 mount ("v2"), whose
  tree holds no controllers here (tests/podman_helpers.py says the same).
* overlays: the dynamic builds appear at /usr/local and their config at /etc/containers, as an
  ordinary `make install` and a distribution's containers-common would put them, read-only,
  and only inside the namespace: the host keeps no /etc/containers and no container tools.
* /run is a fresh tmpfs (network namespaces, podman's run state die with the namespace), and so
  is /dev/shm: podman keeps its container locks in /dev/shm/libpod_lock, one file for every
  rootful podman of the machine, pthread mutexes in shared memory. Shared with another podman on
  the machine (a glibc one reading a musl one's mutexes, or one holding a lock), a suite's podman
  hung in `podman info`. A rootless run's XDG_RUNTIME_DIR is `/run/user/UID` in it, as a login
  gives one: kept short because rootlessport's socket (`$XDG_RUNTIME_DIR/libpod/tmp/rootlessportN/
  .bp.sock`) must fit the 108 bytes of a unix socket address. In the work folder it did not, and
  every rootless `-p` on a bridge network hung until PODMAN_TIMEOUT (rootlesskit's child driver
  fails to bind and never tells the parent, which waits for it forever).
* network: a private network namespace with loopback and a veth `eth0` (its peer left unplugged) holding a default
  route (this machine has no route out anyway): ports the suites hard-code (5000) and the
  nftables rules podman's networks add stay out of the host's, and of other users' way.
* services: started in the background inside the namespace before the suite (the mirror
  registry), killed when it ends.
* devices: /dev/fuse and /dev/net/tun are 0600 here; rootless runs see 0666 nodes, the
  distributions' default.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CGROUP = {
    None: [],
    "v1": ["umount /sys/fs/cgroup/unified 2>/dev/null || true"],
    "v2": ["umount -l /sys/fs/cgroup", "mount -t cgroup2 none /sys/fs/cgroup"],
}
NETWORK = ["ip link set lo up", "ip link add eth0 type veth peer name eth0peer", "ip link set eth0peer up", "ip link set eth0 up",
           "ip addr add 10.0.2.15/24 dev eth0", "ip -6 addr add fd00::15/64 dev eth0 nodad",
           "ip route add default via 10.0.2.2 dev eth0", "ip -6 route add default via fd00::2 dev eth0"]
DEVICES = """devdir=$(mktemp -d)
mount -t tmpfs -o dev,mode=755 tmpfs "$devdir"
mkdir "$devdir/net" && mknod -m 666 "$devdir/fuse" c 10 229 && mknod -m 666 "$devdir/net/tun" c 10 200
mount --bind "$devdir/fuse" /dev/fuse && mount --bind "$devdir/net/tun" /dev/net/tun"""


def runtime_dir(uid: int) -> str:
    return f"/run/user/{uid}"


@dataclass(frozen=True)
class Isolation:
    cgroup: str | None = None
    overlays: tuple[tuple[str, tuple[Path, ...]], ...] = ()  # (mount point, folders laid over it, topmost first)
    fresh_run: bool = False
    runtime_dir_of: tuple[int, int] | None = None  # (uid, gid): /run/user/UID for that user, in the fresh /run
    devices_0666: bool = False
    binds: tuple[tuple[Path, str], ...] = field(default=())  # (source, existing target)
    # folders seen read-only: crun re-executes itself from a memfd, which qemu-user cannot follow,
    # and skips that when its binary is on a read-only file system (as `staticbuild verify` does)
    read_only: tuple[Path, ...] = ()
    network: bool = False
    services: tuple[str, ...] = ()  # shell commands, each started in the background
    ready: tuple[str, ...] = ()  # shell conditions waited for (10 s each) before the suite starts

    def script(self) -> list[str]:
        lines = list(CGROUP[self.cgroup])
        for target, layers in self.overlays:
            lower = ":".join([*(str(p) for p in layers), target])
            lines.append(f"mount -t overlay overlay -o ro,lowerdir={shlex.quote(lower)} {shlex.quote(target)}")
        if self.fresh_run:
            lines.append("mount -t tmpfs -o mode=755 tmpfs /run")
            lines.append("mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm")
            if self.runtime_dir_of:
                uid, gid = self.runtime_dir_of
                lines.append(f"install -d -m 0700 -o {uid} -g {gid} {runtime_dir(uid)}")
        if self.devices_0666:
            lines.append(DEVICES)
        lines += [f"mount --bind {shlex.quote(str(s))} {shlex.quote(t)}" for s, t in self.binds]
        for folder in self.read_only:
            q = shlex.quote(str(folder))
            lines += [f"mount --bind {q} {q}", f"mount -o remount,bind,ro {q}"]
        if self.network:
            lines += NETWORK
        if self.services:
            lines.append("services=")
        for service in self.services:
            lines += [f"{service} &", 'services="$services $!"']
        for condition in self.ready:
            lines.append(f"n=0; until {condition}; do n=$((n+1)); [ $n -lt 100 ] || {{ echo 'not ready: "
                         f"{condition}' >&2; exit 1; }}; sleep 0.1; done")
        return lines

    def argv(self, command: Sequence[str | Path], env: Mapping[str, str], user: str | None = None) -> list[str]:
        """`unshare -m` running `command` with exactly `env` (as `user` if given)."""
        inner = [str(a) for a in command]
        if user:
            inner = ["setpriv", "--reuid", user, "--regid", user, "--init-groups", *inner]
        inner = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *inner]
        last = ['exec "$@"'] if not self.services else ['"$@" && status=0 || status=$?', "kill $services 2>/dev/null || true",
                                                        "wait 2>/dev/null || true", 'exit "$status"']
        script = "\n".join([*self.script(), *last])
        unshare = ["unshare", "-m", "--propagation", "private", *(["-n"] if self.network else [])]
        return [*unshare, "sh", "-ec", script, "upstream-tests", *inner]
