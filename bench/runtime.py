"""Run time: our static podman (podman-full) against the same versions built the ordinary way (dynamic, glibc).

**static** is the podman-full bundle as users unpack it (`tar --strip-components=1` into a
prefix; it finds its helpers and its etc/containers beside itself): musl, mimalloc, no shared
libraries. **dynamic** is the same pinned sources built the ordinary way on this machine
(glibc, Debian's libraries, our recipes' options and tags), installed as `make install` would
put it in /usr/local with the bundle's config files in /etc/containers. Both come from
upstream_tests (static.py packages and unpacks the bundle, dynamic.py builds the dynamic set);
this section reuses them and builds nothing of its own.

Each build runs in its own private mount namespace (upstream_tests' Isolation): a fresh tmpfs
/run and /dev/shm, a cgroup2 /sys/fs/cgroup (podman 6 refuses the hybrid layout of these
machines), its own network namespace, and its own graphroot under the bench work folder. The
two builds never share /dev/shm: podman keeps its locks there (libpod_lock, pthread mutexes),
and a glibc podman hangs on a lock file a musl podman made (their mutex layouts differ).

Paired: every repetition measures each workload for both builds back to back, the build that
goes first alternating between repetitions, so drift on the machine hits both alike. A figure
per repetition is the median over its invocations (latency) or their maximum (peak RSS); the
report shows the median and the min–max of those over the repetitions.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from staticbuild.bundle import CONFIG_DIR
from staticbuild.cli import default_cache
from upstream_tests import containers_env, dynamic, images, static, testdeps
from upstream_tests.common import BASE_PATH, RESULTS, Settings, UpstreamTestError, clean_env
from upstream_tests.isolation import Isolation
from upstream_tests.sources import version

from . import workloads
from .common import REPO, BenchSettings, remove_tree, say, summary

BUILDS = ("static", "dynamic")
# invocations per build and repetition (after one warm-up each); BENCH_RUNTIME_COUNT sets them
# all to one number, for a quick trial of the whole section
COUNTS = {"podman images": 20, "podman ps -a": 20, "podman run --rm": 10, "crun run": 100}
# the default network (a netavark bridge, in the namespace's own network namespace) unless
# BENCH_RUNTIME_NETWORK says otherwise (e.g. none)
NETWORK = os.environ.get("BENCH_RUNTIME_NETWORK", "bridge")
UPSTREAM_WORK = Path(os.environ.get("BENCH_UPSTREAM_WORK", "/var/tmp/staticbuild-upstream"))
IMAGE = f"quay.io/libpod/testimage:{images.TESTIMAGE_TAG}"  # podman's test image, as upstream_tests makes it


@dataclasses.dataclass(frozen=True)
class Build:
    name: str
    podman: str  # the path the namespace runs it by
    crun: Path
    binaries: dict[str, Path]  # on the host, for readelf
    podman_env: dict[str, str]
    podman_ns: Isolation
    log: Path


def run(s: BenchSettings) -> dict:
    try:
        return measure(s)
    except UpstreamTestError as exc:  # upstream_tests' one-line errors, as bench reports its own
        raise SystemExit(f"runtime: {exc}") from None


def measure(s: BenchSettings) -> dict:
    up = upstream_settings(s)
    root = s.work / "runtime"
    remove_tree(root)  # fresh storage every time: the image is loaded anew, no containers linger
    root.mkdir(parents=True)
    builds = [static_build(up, root), dynamic_build(up, root)]
    archive = images.oci_archive(images.testimage(testdeps.busybox(up), IMAGE), root / "testimage.tar")
    for build in builds:
        load_image(build, archive)
    seen = {b.name: podman_info(b) for b in builds}
    bundle = workloads.crun_bundle(root, builds[0].crun, workloads.seccomp_profile(common_seccomp(up)))
    counts = invocation_counts()
    measures = {
        "podman images": lambda b: podman_loop(b, counts["podman images"], "images"),
        "podman ps -a": lambda b: podman_loop(b, counts["podman ps -a"], "ps", "-a"),
        "podman run --rm": lambda b: podman_loop(b, counts["podman run --rm"], "run", "--rm",
                                                 f"--network={NETWORK}", IMAGE, "true"),
        "crun run": lambda b: crun_loop(b, bundle, counts["crun run"]),
    }
    return {
        "workloads": paired(s.runs, builds, measures),
        "setup": {"counts": counts, "network": NETWORK, "image": IMAGE, "image_bytes": archive.stat().st_size,
                  "runs": s.runs},
        "versions": {name: version(up, name) for name in dynamic.PODMAN_SET},
        "linkage": {b.name: {n: dynamic.linkage(p) for n, p in b.binaries.items()} for b in builds},
        "podman_info": seen,
    }


def upstream_settings(s: BenchSettings) -> Settings:
    """upstream_tests' settings for its work folder, where the bundle and the dynamic builds are kept.
    Packaging an out-of-date bundle writes the staticbuild cache, as `python -m upstream_tests` does."""
    return Settings(work=UPSTREAM_WORK, cache=s.downloads_from or default_cache(), lock=REPO / "staticbuild.lock",
                    arch=dynamic.host_arch(), results=RESULTS)


def invocation_counts() -> dict[str, int]:
    if "BENCH_RUNTIME_COUNT" in os.environ:
        return dict.fromkeys(COUNTS, max(1, int(os.environ["BENCH_RUNTIME_COUNT"])))
    return dict(COUNTS)


# -- the two builds --------------------------------------------------------------------------------
def podman_state(root: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A build's own state folder and the environment both builds share apart from paths: the test-only
    containers.conf override of upstream_tests (cgroups disabled, ulimits within this process's hard
    limits, network configs in the state folder) and the bundle's storage.conf with the graphroot here."""
    state = root / name
    (state / "tmp").mkdir(parents=True)
    return state, {"CONTAINERS_CONF_OVERRIDE": str(containers_env.override(state, rootful=True)),
                   "CONTAINERS_STORAGE_CONF": str(containers_env.storage_conf(state)),
                   "TMPDIR": str(state / "tmp")}  # podman load's scratch files


def isolation(**extra) -> Isolation:
    """One build's namespace: cgroup2 view, fresh /run and /dev/shm, its own network namespace."""
    return Isolation(cgroup="v2", fresh_run=True, network=True, **extra)


def static_build(up: Settings, root: Path) -> Build:
    prefix = static.prefix(up, "podman")
    state, env = podman_state(root, "static")
    binaries = {"podman": prefix / "bin/podman", "crun": prefix / "lib/podman/crun",
                "conmon": prefix / "lib/podman/conmon", "netavark": prefix / "lib/podman/netavark"}
    return Build("static", str(binaries["podman"]), binaries["crun"], binaries,
                 clean_env(PATH=f"{prefix / 'bin'}:{BASE_PATH}", **env), isolation(), state / "log")


def dynamic_build(up: Settings, root: Path) -> Build:
    usr_local = dynamic.ensure(up, *dynamic.PODMAN_SET)
    state, env = podman_state(root, "dynamic")
    # /etc/containers as a distribution's containers-common provides it: the bundle's config files,
    # written into this section's own folder (upstream_tests' layer belongs to its running suites)
    etc = containers_env.etc_layer(dataclasses.replace(up, work=root), "dynamic", CONFIG_DIR / "registries.conf")
    binaries = {"podman": usr_local / "bin/podman", "crun": usr_local / "bin/crun",
                "conmon": usr_local / "libexec/podman/conmon", "netavark": usr_local / "libexec/podman/netavark"}
    ns = isolation(overlays=(("/usr/local", (usr_local,)), ("/etc", (etc,))))
    return Build("dynamic", "/usr/local/bin/podman", binaries["crun"], binaries, clean_env(**env), ns, state / "log")


def common_seccomp(up: Settings) -> Path:
    """containers/common's default seccomp profile from a Go module cache the builds filled."""
    pattern = "go.podman.io/common@*/pkg/seccomp/seccomp.json"
    found = sorted(glob.glob(str(up.cache / "shared/go-mod" / pattern)) or
                   glob.glob(str(up.work / "dynamic/go-mod" / pattern)))
    if not found:
        raise SystemExit("containers/common's seccomp.json is in no Go module cache: build podman first")
    return Path(found[-1])


def load_image(build: Build, archive: Path) -> None:
    """Load the archive under the image's full name (its index names only the tag, which podman
    would load as localhost/<tag>)."""
    say(f"{build.name}: loading {IMAGE} into the bench's own storage")
    script = ('loaded=$("$0" load -q -i "$1" | sed -n "s/^Loaded image: //p")\n'
              '"$0" tag "$loaded" "$2"\n"$0" untag "$2" "$loaded"')
    in_namespace(build.podman_ns, build, ["sh", "-ec", script, build.podman, str(archive), IMAGE])


def podman_info(build: Build) -> dict[str, str]:
    """What each podman says it runs with (outside the timing): proof that each uses its own helpers."""
    info = json.loads(in_namespace(build.podman_ns, build, [build.podman, "info", "--format", "json"]))
    host, store = info["host"], info["store"]
    return {"crun": host["ociRuntime"]["path"], "conmon": host["conmon"]["path"],
            "netavark": host["networkBackendInfo"]["path"], "storage": store["graphDriverName"],
            "events": host["eventLogger"], "cgroups": f"{host['cgroupVersion']}, {host['cgroupManager']}"}


# -- measuring -------------------------------------------------------------------------------------
def in_namespace(ns: Isolation, build: Build, command: list[str]) -> str:
    """Run a command in a fresh namespace of this build; its stdout (stderr goes to the build's log)."""
    with build.log.open("a") as log:
        proc = subprocess.run(ns.argv(command, build.podman_env), stdout=subprocess.PIPE, stderr=log, text=True,
                              cwd=REPO)  # the loops are `python -m bench.…` modules of this checkout
    if proc.returncode != 0:
        raise SystemExit(f"runtime, {build.name}: {' '.join(command[:4])} … failed ({proc.returncode}); "
                         f"see {build.log}")
    return proc.stdout


def podman_loop(build: Build, count: int, *args: str) -> dict[str, float]:
    out = json.loads(in_namespace(build.podman_ns, build,
                                  [sys.executable, "-m", "bench.command_loop", str(count), build.podman, *args]))
    return {"latency_ms": 1000 * statistics.median(out["seconds"]), "peak_rss_kib": max(out["peak_rss_kib"])}


def crun_loop(build: Build, bundle: Path, count: int) -> dict[str, float]:
    """crun_loop (the allocator section's) in a namespace with plain cgroup v1 (crun 1.21 takes it,
    not the hybrid layout) and a fresh /run for crun's state."""
    ns = Isolation(cgroup="v1", fresh_run=True)
    out = json.loads(in_namespace(ns, build, [sys.executable, "-m", "bench.crun_loop", str(build.crun),
                                              str(bundle), str(count)]))
    return {"latency_ms": 1000 / out["starts_per_second"], "peak_rss_kib": out["peak_rss_kib"]}


def paired(runs: int, builds: list[Build], measures: dict[str, Callable[[Build], dict[str, float]]]) -> dict:
    """{workload: {build: {measure: summary over repetitions}}}; both builds back to back per workload,
    the first one alternating between repetitions."""
    samples: dict[str, dict[str, dict[str, list[float]]]] = {w: {b.name: {} for b in builds} for w in measures}
    for rep in range(runs):
        order = builds if rep % 2 == 0 else builds[::-1]
        say(f"run time, repetition {rep + 1} of {runs} ({order[0].name} first)")
        for workload, measure in measures.items():
            for build in order:
                for key, value in measure(build).items():
                    samples[workload][build.name].setdefault(key, []).append(value)
    return {w: {b: {k: summary(v) for k, v in m.items()} for b, m in per_build.items()}
            for w, per_build in samples.items()}
