"""act (nektos/act) running the real workflow files against the bundle's podman service.

Everything act is told, and why:
* `-P LABEL=IMAGE` for both runner labels, `--pull=false`: the images are made here (images.py);
* `--container-daemon-socket -`: no job needs a Docker socket inside its container;
* `--container-options --privileged` for runner-label jobs (not `container:` jobs, which bring
  their own options): GitHub's runners are whole VMs with root through sudo, and test-arm64
  runs podman itself;
* `--local-repository` for every pinned action (actions.py);
* act's artifact server (`--artifact-server-path`, new for each run, as GitHub's artifacts
  belong to one run) and cache server (`--cache-server-path`, kept, as a repository's caches are);
* GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_REPOSITORY and the GITHUB_TOKEN secret pointing at
  the local GitHub, which serves the repository too (github.py): actions/checkout with a `ref:`
  (build.yml) is not replaced by act's copy of the working directory, and fetches from there;
* its own HOME and XDG folders, so no ~/.actrc or cache of the machine's user changes the run;
* `--reuse`: act gives itself one minute to stop and remove a job's container, and fails the
  whole run past it; the build job's container holds gigabytes (the toolchain packages, the
  staticbuild cache), whose removal takes longer on a busy 2-core machine. So act leaves its
  containers and volumes, and the rehearsal removes all of them after every run
  (`remove_leftovers`): each run still starts from fresh containers, as on GitHub.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import RehearsalError, say
from .github import TOKEN
from .images import PLATFORMS

JOB_RESULT = re.compile(r"^\[(?P<job>[^\]]+)\]\s+🏁\s+Job (?P<result>succeeded|failed)")
PROGRESS = re.compile(r"(🏁|❌|⭐ Run Main|Success - Main|Failure - Main)")


@dataclass
class RunResult:
    name: str
    returncode: int
    log: Path
    jobs: dict[str, str] = field(default_factory=dict)  # act's job name -> succeeded / failed
    seconds: float = 0.0

    def job(self, suffix: str) -> str | None:
        """The result of the one job whose act name ends with `suffix` (e.g. "/release"), if it ran."""
        found = [r for j, r in self.jobs.items() if j.endswith(suffix)]
        return found[0] if len(found) == 1 else ("ambiguous" if found else None)


def event_name(inputs: dict[str, str] | None) -> str:
    """A dispatch carries inputs; the hourly schedule carries none (None)."""
    return "schedule" if inputs is None else "workflow_dispatch"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Act:
    binary: Path
    docker_host: str
    work: Path
    local_repositories: list[str]
    api_url: str
    server_url: str  # GITHUB_SERVER_URL: the same server as github.localhost (github.py)
    podman_remote: Path  # the bundle's podman, as a client of the service (`podman --url`)

    def argv(self, clone: Path, run_dir: Path, repo: str, run_id: int, inputs: dict[str, str] | None) -> list[str]:
        """act's command line: a workflow_dispatch with `inputs`, or with None the hourly `schedule` event
        (no inputs at all, as GitHub's scheduled runs)."""
        platforms = [f"-P={label}={image}" for label, image in PLATFORMS.items()]
        return [str(self.binary), event_name(inputs), "-W", ".github/workflows/check.yml", "-C", str(clone),
                *(f"--input={k}={v}" for k, v in (inputs or {}).items()), *platforms, "--pull=false",
                "--container-daemon-socket=-", "--container-options=--privileged", "--reuse",
                f"--artifact-server-path={run_dir / 'artifacts'}", "--artifact-server-addr=127.0.0.1",
                f"--artifact-server-port={free_port()}", f"--cache-server-path={self.work / 'act-cache'}",
                "--cache-server-addr=127.0.0.1", f"--action-cache-path={self.work / 'act-actions'}",
                *self.local_repositories, f"--secret=GITHUB_TOKEN={TOKEN}", f"--env=GITHUB_API_URL={self.api_url}",
                f"--env=GITHUB_SERVER_URL={self.server_url}",
                f"--env=GITHUB_REPOSITORY={repo}", f"--env=GITHUB_RUN_ID={run_id}", "--defaultbranch=main",
                "--env-file=/dev/null", "--secret-file=/dev/null", "--var-file=/dev/null", "--input-file=/dev/null"]

    def env(self) -> dict[str, str]:
        home = self.work / "act-home"
        home.mkdir(parents=True, exist_ok=True)
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "DOCKER_HOST": self.docker_host,
                "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"), "LANG": "C.UTF-8"}

    def start(self, name: str, clone: Path, repo: str, run_id: int,
              inputs: dict[str, str] | None) -> tuple[subprocess.Popen, Path]:
        run_dir = self.work / "runs" / name
        run_dir.mkdir(parents=True, exist_ok=True)
        log = run_dir / "act.log"
        given = "" if inputs is None else f" ({', '.join(f'{k}={v}' for k, v in inputs.items())})"
        say(f"{name}: act {event_name(inputs)}{given} check.yml for {repo}; log {log}")
        out = log.open("w")
        proc = subprocess.Popen(self.argv(clone, run_dir, repo, run_id, inputs), stdout=out, stderr=subprocess.STDOUT,
                                env=self.env(), cwd=clone, start_new_session=True)
        out.close()
        return proc, log

    def wait(self, name: str, proc: subprocess.Popen, log: Path, started: float, timeout: float) -> RunResult:
        seen = 0
        while proc.poll() is None:
            seen = echo_progress(log, seen)
            if time.monotonic() - started > timeout:
                interrupt(proc)
                raise RehearsalError(f"{name}: act did not finish within {timeout / 60:.0f} min (log: {log})")
            time.sleep(2)
        echo_progress(log, seen)
        return RunResult(name, proc.returncode, log, job_results(log), time.monotonic() - started)

    def run(self, name: str, clone: Path, repo: str, run_id: int, inputs: dict[str, str] | None,
            timeout: float = 3 * 3600) -> RunResult:
        started = time.monotonic()
        proc, log = self.start(name, clone, repo, run_id, inputs)
        try:
            return self.wait(name, proc, log, started, timeout)
        finally:
            self.remove_leftovers()

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The bundle's podman as a client of the service (what act talks to)."""
        return subprocess.run([str(self.podman_remote), "--url", self.docker_host, *args], capture_output=True,
                              text=True, timeout=timeout)

    def kill_containers(self) -> list[str]:
        """Kill every container at once (a cut-off run's jobs stop now; `rm` would work through them one
        by one) and return the names of those still running afterwards (none, when it worked)."""
        self.podman("kill", "-a")
        return self.podman("ps", "--format", "{{.Names}}").stdout.split()

    def remove_leftovers(self) -> None:
        """Every container and volume act left (see --reuse above), but the tool cache; through the API."""
        self.kill_containers()
        self.podman("rm", "-af", "-t", "0", timeout=1800)
        stale = [v for v in self.podman("volume", "ls", "-q").stdout.split() if v != "act-toolcache"]
        if stale:
            self.podman("volume", "rm", "-f", *stale, timeout=600)


def echo_progress(log: Path, seen: int) -> int:
    """Print act's job results and step outcomes as they appear (the full log stays in the file)."""
    lines = log.read_text(errors="replace").splitlines()
    for line in lines[seen:]:
        if PROGRESS.search(line):
            print("    " + line.strip()[:160], flush=True)
    return len(lines)


def job_results(log: Path) -> dict[str, str]:
    results = {}
    for line in log.read_text(errors="replace").splitlines():
        if m := JOB_RESULT.match(line.strip()):
            results[m["job"].strip()] = m["result"]  # act pads names to align its columns
    return results


def kill(proc: subprocess.Popen) -> None:
    """Kill act and everything it started on this machine at once (SIGKILL to its process group), as
    a runner that is switched off; its jobs' processes run in containers, see Act.kill_containers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def interrupt(proc: subprocess.Popen, grace: float = 30) -> None:
    """Stop act as a cancelled run stops: SIGINT (act cancels its jobs), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
