"""`python -m rehearsal.sandbox [--network] -- COMMAND...`: COMMAND as root of namespaces of its own.

The podman service (and everything it runs) lives in here, for three reasons:
* arm64 emulation that no one else can switch off: binfmt_misc is host-wide, and the test
  suite's no_emulation() turns qemu-aarch64 off while it builds (other engineers' runs
  included). Since Linux 6.7 a user namespace can mount a binfmt_misc of its own: qemu-aarch64
  is registered there (flag F: the interpreter is opened at once, so containers use it too),
  and the host's entry is neither needed nor touched.
* podman 6 refuses this machine's hybrid cgroup layout: a cgroup namespace shows it a cgroup2
  /sys/fs/cgroup (with no controllers, hence `cgroups = "disabled"`, see service.py).
* --network: a network namespace owned by this user namespace, since only its owner may mount
  sysfs for a privileged container (build.yml's job container is one). The bundle's pasta
  connects it: outbound traffic goes out as the host's, and every TCP port bound on the host's
  loopback is forwarded (`-T auto`), so act's artifact and cache servers and the local GitHub
  answer at 127.0.0.1 inside as outside; act's `host` network means this namespace.

The user namespace maps every id but the last onto itself (0 0 4294967294): files keep their
owners, while crun and containers/storage see a user namespace and bind devices instead of
making them. A pid namespace ends everything in it when COMMAND ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BINFMT_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")  # from qemu-user-static
ID_MAP = "0 0 4294967294\n"
SETUP = f"""mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || {{
  echo "sandbox: this kernel cannot give a user namespace a binfmt_misc of its own (Linux 6.7 and later can)" >&2
  exit 1; }}
cat {BINFMT_CONF} > /proc/sys/fs/binfmt_misc/register
mount -t cgroup2 none /sys/fs/cgroup"""


def argv(command: list[str], network: bool = False) -> list[str]:
    """The command line that runs `command` in the sandbox (from any working directory)."""
    return ["env", f"PYTHONPATH={Path(__file__).resolve().parents[1]}", sys.executable, "-m", "rehearsal.sandbox",
            *(["--network"] if network else []), "--", *command]


def wait_for_new_userns(pid: int, timeout: float = 10) -> None:
    mine = os.readlink("/proc/self/ns/user")
    deadline = time.monotonic() + timeout
    while os.readlink(f"/proc/{pid}/ns/user") == mine:
        if time.monotonic() > deadline:
            raise SystemExit("sandbox: unshare did not make a user namespace")
        time.sleep(0.01)


def pasta(pid: int) -> subprocess.Popen:
    """pasta (the bundle's: REHEARSAL_PASTA) connecting the network namespace of pid; returns once it is set up."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "pasta.pid"  # pasta writes it when the namespace's interface is configured
        proc = subprocess.Popen([os.environ.get("REHEARSAL_PASTA", "pasta"), "--runas", "0:0", "--config-net",
                                 "-t", "none", "-u", "none", "-T", "auto", "-U", "none", "--quiet", "--foreground",
                                 "--pid", str(ready), str(pid)])
        deadline = time.monotonic() + 20
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"sandbox: pasta did not set up the network (exit {proc.poll()})")
            time.sleep(0.02)
    return proc


def main(args: list[str]) -> int:
    network = args[:1] == ["--network"]
    args = args[1:] if network else args
    if args[:1] != ["--"] or len(args) < 2:
        raise SystemExit("usage: python -m rehearsal.sandbox [--network] -- COMMAND...")
    if not BINFMT_CONF.exists():
        raise SystemExit(f"sandbox: {BINFMT_CONF} is missing: `make setup` installs qemu-user-static")
    read_end, write_end = os.pipe()
    script = f"read _ <&{read_end}\nexec {read_end}<&-\n{SETUP}\nexec \"$@\""
    child = subprocess.Popen(["unshare", "-U", "-m", "-C", "-p", "--fork", "--mount-proc", "--propagation", "private",
                              *(["-n"] if network else []), "sh", "-ec", script, "sh", *args[1:]],
                             pass_fds=(read_end,))
    os.close(read_end)
    helper = None
    try:
        wait_for_new_userns(child.pid)
        for name in ("uid_map", "gid_map"):  # root of the host may map any ids
            Path(f"/proc/{child.pid}/{name}").write_text(ID_MAP)
        if network:
            helper = pasta(child.pid)
        os.write(write_end, b"go\n")
        os.close(write_end)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGINT))
        return child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if helper and helper.poll() is None:
            helper.terminate()
            helper.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
