"""buildah's `tests/*.bats` (a subset: containers from images, run, commit, copy/add, config,
images, mount, tags, push and pull), each file a unit, as root, vfs storage (buildah's default
for its tests).

BUILDAH_BINARY is the static bundle's buildah (crun, netavark and pasta beside it, as users
get it) or the dynamic one at /usr/local/bin/buildah. The test helpers of buildah's Makefile
(bin/copy, bin/imgtype, ...) are built once with the dynamic toolchain and serve both runs.
buildah's suite pulls its images through its CI registry cache (CI_USE_REGISTRY_CACHE:
tests/registries-cached.conf, 127.0.0.1:60333), which is where the local mirror listens; the
images there are the busybox stand-ins of images.py (no alpine: its `apk` is not there).
"""

from __future__ import annotations

from pathlib import Path

from .. import bats, containers_env, dynamic, static
from ..common import Settings, UpstreamTestError, program
from ..results import Unit
from ..sources import tree
from . import Prepared, Suite

TIMEOUT = 3600
FILES = ("basic.bats", "info.bats", "from.bats", "run.bats", "commit.bats", "copy.bats", "add.bats",
         "config.bats", "images.bats", "containers.bats", "mount.bats", "tag.bats", "rm.bats", "rmi.bats",
         "push.bats", "pull.bats")


class BuildahSuite(Suite):
    name = "buildah"
    component = "buildah"
    gate = ("basic.bats", "from.bats", "run.bats", "commit.bats", "copy.bats")
    smoke = ()

    def units(self, settings: Settings) -> list[str]:
        present = {p.name for p in (tree(settings, "buildah") / "tests").glob("*.bats")}
        missing = [f for f in FILES if f not in present]
        if missing:
            raise UpstreamTestError(f"buildah's tests lack {', '.join(missing)}")
        return list(FILES)

    def prepare(self, settings: Settings, flavor: str) -> Prepared:
        helpers = dynamic.ensure(settings, "buildah-tests") / "share/buildah-tests"
        tools = {h: helpers / h for h in dynamic.BUILDAH_HELPERS}
        if flavor == "static":
            prefix = static.prefix(settings, "buildah")
            buildah, seen = prefix / "bin/buildah", str(prefix / "bin/buildah")
            # buildah's helpers look its runtime up by name on PATH (`type -p crun`) and skip every run
            # test when it is not there; the bundle keeps crun in lib/podman, where buildah finds it
            path = [prefix / "bin", prefix / "lib/podman"]
            tools = helpers_told_where(settings, tools, prefix)
        else:
            root = dynamic.ensure(settings, "buildah", "crun", "netavark", "passt")
            buildah, seen, path = root / "bin/buildah", "/usr/local/bin/buildah", []
        # the suite builds its test HTTP server (`go build serve.go`) and asks `go env GOARCH`, as in
        # upstream's CI, where Go is installed
        go = program("go").resolve().parent
        env = containers_env.make(settings, self.name, flavor, [*path, helpers, go],
                                  ("buildah", "crun", "netavark", "passt"))
        env.env |= {"BUILDAH_BINARY": seen, "CI_USE_REGISTRY_CACHE": "1",
                    **{f"{h.upper()}_BINARY": str(tool) for h, tool in tools.items()}}
        return Prepared(flavor, {"buildah": buildah}, {"env": env})

    def run_unit(self, settings: Settings, prepared: Prepared, unit: str, only: list[str] | None = None) -> Unit:
        tests: Path = tree(settings, "buildah") / "tests"
        env = prepared.data["env"]
        log = settings.work / "logs" / "buildah" / prepared.flavor / f"{unit}{'.only' if only else ''}.log"
        return bats.run_file(tests / unit, unit, cwd=tests, env={**env.env, "TEST_SOURCES": str(tests)},
                             isolation=env.isolation, only=only, timeout=TIMEOUT, log=log)


def helpers_told_where(settings: Settings, tools: dict[str, Path], prefix: Path) -> dict[str, Path]:
    """The test helpers (bin/copy, ...) are ordinary builds: they look for netavark and policy.json where
    a distribution installs them (/usr/libexec/podman, /etc/containers), which the dynamic run has and
    the static run does not (the bundle's buildah finds its own beside itself). Wrappers point the
    helpers at the bundle's; buildah itself is run as it is."""
    folder = settings.dir("buildah", settings.arch, "static-helpers")
    policy = prefix / "etc/containers/policy.json"
    wrapped = {}
    for name, tool in tools.items():
        extra = f" --signature-policy {policy}" if name == "copy" else ""
        wrapper = folder / name
        wrapper.write_text(f"#!/bin/sh\nCONTAINERS_HELPER_BINARY_DIR={prefix / 'lib/podman'} exec {tool}{extra} \"$@\"\n")
        wrapper.chmod(0o755)
        wrapped[name] = wrapper
    return wrapped
