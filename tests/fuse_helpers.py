"""An unprivileged user's FUSE mount outside any user namespace: what fusermount3 is for.

libfuse opens /dev/fuse, fails to mount(2) without privilege, and hands the mount to
fusermount3 (first /usr/bin/fusermount3, then $PATH), which can do it only when setuid root.
/dev/fuse is 0600 on these machines and 0666 on distributions (libfuse calls fusermount3 only
once it could open the device), so a 0666 node is bound over it in a private mount namespace.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DEVICE_FIX = """mount -t tmpfs -o dev,mode=755 tmpfs "$DEVDIR"
mkdir "$DEVDIR/net" && mknod -m 666 "$DEVDIR/fuse" c 10 229 && mknod -m 666 "$DEVDIR/net/tun" c 10 200
mount --bind "$DEVDIR/fuse" /dev/fuse && mount --bind "$DEVDIR/net/tun" /dev/net/tun"""


def mount_as_user(bindir: Path, user: str, home: Path, scratch: Path) -> str:
    """fuse-overlayfs as `user` with bindir's fusermount3 (as given, then made setuid); the script's output.

    Prints "plain: refused|mounted", then "setuid: <mounts> <file read through it>" and
    "after -u: <mounts>" once fusermount3 -u unmounted it.
    """
    for d in ("lower", "upper", "work", "merged"):
        (home / d).mkdir()
    (home / "lower" / "file").write_text("from-lower\n")
    subprocess.run(["chown", "-R", f"{user}:{user}", home], check=True)
    fusermount = bindir / "fusermount3"
    mount = (f"{bindir}/fuse-overlayfs -o lowerdir={home}/lower,upperdir={home}/upper,workdir={home}/work "
             f"{home}/merged")
    as_user = f"setpriv --reuid {user} --regid {user} --init-groups env -i PATH={bindir}:/usr/bin:/bin HOME={home}"
    script = f"""DEVDIR={scratch}/dev
mkdir -p $DEVDIR
{DEVICE_FIX}
{as_user} {mount} 2>&1 && echo "plain: mounted" || echo "plain: refused"
chown root:root {fusermount} && chmod u+s {fusermount}
{as_user} {mount}
echo "setuid: $(grep -c ' {home}/merged fuse' /proc/self/mounts) $({as_user} cat {home}/merged/file)"
{as_user} {fusermount} -u {home}/merged
echo "after -u: $(grep -c ' {home}/merged ' /proc/self/mounts || true)"
"""
    proc = subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def assert_setuid_story(out: str) -> None:
    assert "fusermount3: mount failed: Operation not permitted" in out and "plain: refused" in out, out
    assert "setuid: 1 from-lower" in out, out
    assert "after -u: 0" in out, out
