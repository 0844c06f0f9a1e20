"""The Docker-compatible API act talks to: `podman system service` from this project's podman-full bundle.

The bundle is unpacked the README's way (tar --strip-components=1 into a prefix). The service
runs in the rehearsal's sandbox (sandbox.py: its own arm64 emulation, a cgroup2 view, its own
network connected by pasta). This machine needs three more things podman's defaults do not
give it, all kept out of the bundle and out of /etc (see ../shared/ENVIRONMENT.md and
tests/test_e2e.py):
* the cgroup2 tree the sandbox shows holds no controllers: containers run with
  `cgroups = "disabled"`;
* hard rlimits below podman's default ulimits: `default_ulimits` set to the hard limits;
* no /etc/containers on the host: storage, run state, networks and events live under the
  rehearsal's own folder.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from .common import RehearsalError, run, say

# containers/image keeps a blob-info cache in /var/lib/containers/cache when it imports or builds
# images, whatever --root says: in the namespace, /var/lib gets an overlay whose writes land here.
VARLIB = "mount -t overlay overlay -o lowerdir=/var/lib,upperdir={0}/upper,workdir={0}/work /var/lib"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def unpack_bundle(bundle: Path, prefix: Path) -> Path:
    """The README's install command: tar -C PREFIX --strip-components=1 -xf BUNDLE."""
    if not bundle.is_file():
        raise RehearsalError(f"no podman-full bundle at {bundle}: `staticbuild package podman --variant full` makes it")
    prefix.mkdir(parents=True, exist_ok=True)
    run(["tar", "-C", prefix, "--strip-components=1", "-xf", bundle], f"unpacking {bundle.name}")
    return prefix


@dataclass(frozen=True)
class Podman:
    prefix: Path  # where the bundle is unpacked
    state: Path  # storage, run state, networks, the test-only config

    @property
    def socket(self) -> Path:
        return self.state / "podman.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def override(self) -> Path:
        """Test-only containers.conf (CONTAINERS_CONF_OVERRIDE): this machine's workarounds, nothing else."""
        nofile, nproc = (resource.getrlimit(r)[1] for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC))
        path = self.state / "rehearsal-override.conf"
        self.state.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Written by the rehearsal (rehearsal/service.py) for this machine only.\n"
            "[containers]\n"
            'cgroups = "disabled"  # the cgroup2 view in the namespace has no controllers\n'
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]  # the hard limits here\n'
            "[network]\n"
            f'network_config_dir = "{self.state}/networks"\n'
            "[engine]\n"
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.state}/events.log"\n'
            f'tmp_dir = "{self.state}/tmp"\n'
            f'volume_path = "{self.state}/storage/volumes"\n'
            "[engine.runtimes_flags]\n"
            f'crun = ["root={self.state}/crun"]  # crun\'s state, not /run/crun\n')
        return path

    def env(self) -> dict[str, str]:
        return {"PATH": PATH, "HOME": str(self.state / "home"), "LANG": "C.UTF-8",
                "CONTAINERS_CONF_OVERRIDE": str(self.override()), "TMPDIR": str(self.state / "tmp")}

    def argv(self, *args: str | Path) -> list[str]:
        return [str(self.prefix / "bin" / "podman"), "--root", str(self.state / "storage"),
                "--runroot", str(self.state / "run"), *map(str, args)]

    def namespaced(self, argv: Sequence[str]) -> list[str]:
        """argv in the rehearsal's sandbox (sandbox.py: own arm64 emulation, cgroup2, network), with a clean
        environment."""
        for d in ("home", "tmp", "networks", "var-lib/upper", "var-lib/work"):
            (self.state / d).mkdir(parents=True, exist_ok=True)
        env = [f"{k}={v}" for k, v in self.env().items()]
        script = [VARLIB.format(shlex.quote(str(self.state / "var-lib"))),
                  f"exec env -i {shlex.join(env)} {shlex.join(argv)}"]
        return ["env", f"REHEARSAL_PASTA={self.prefix / 'lib' / 'podman' / 'pasta'}",
                *sandbox.argv(["sh", "-ec", "\n".join(script)], network=True)]

    def __call__(self, *args: str | Path, what: str | None = None, **kwargs) -> subprocess.CompletedProcess:
        """Run a podman command (its own process, in the namespace) against the service's storage."""
        return run(self.namespaced(self.argv(*args)), what or f"podman {args[0]}", **kwargs)

    def image_label(self, image: str, label: str) -> str | None:
        proc = subprocess.run(self.namespaced(self.argv("image", "inspect", image)), capture_output=True, text=True)
        if proc.returncode != 0:
            return None
        return (json.loads(proc.stdout)[0].get("Labels") or {}).get(label)

    @contextmanager
    def service(self, log: Path) -> Iterator[str]:
        """`podman system service --time=0` on a socket of its own; yields DOCKER_HOST, stops it after."""
        self.socket.unlink(missing_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            proc = subprocess.Popen(self.namespaced(self.argv("system", "service", "--time=0", self.docker_host)),
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_socket(self.socket, proc, log)
            say(f"podman system service (the bundle's podman {self.version()}) at {self.docker_host}")
            yield self.docker_host
        finally:
            # Containers first, through the API (their mounts live in the service's namespace), so no
            # conmon outlives the service; then the service itself.
            subprocess.run([str(self.prefix / "bin" / "podman"), "--url", self.docker_host, "rm", "-af", "-t", "0"],
                           capture_output=True, timeout=120)
            stop(proc)

    def version(self) -> str:
        return run([self.prefix / "bin" / "podman", "--version"], "podman --version").stdout.split()[-1]


def wait_for_socket(path: Path, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until the service answers the Docker API's /_ping on its socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise RehearsalError(f"podman system service exited ({proc.returncode}): {tail[0]} (log: {log})")
        if path.exists() and ping(path):
            return
        time.sleep(0.2)
    raise RehearsalError(f"podman system service did not answer on {path} within {timeout:.0f}s (log: {log})")


def ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the service's process group (it stops its containers' conmon monitors), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
