"""podman's `test/system/*.bats` from the module zip: the files for running containers, building,
volumes, networking, images and registry login, as root (`podman`) and as an unprivileged
user (`podman-rootless`), each file a unit.

PODMAN is the static bundle's podman (its helpers found beside it, as users get it) or, for the
dynamic run, /usr/local/bin/podman with the dynamic helpers in /usr/local/libexec/podman and
/etc/containers from the bundle's config files (see containers_env.py and isolation.py). The
skopeo the suite uses to load cached images is the same flavor's. The test image and the
registry image are stand-ins built here (images.py), found under upstream's names.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from .. import bats, containers_env, dynamic, images, registry, static, testdeps
from ..common import Settings, UpstreamTestError
from ..results import Unit
from ..sources import tree
from . import Prepared, Suite

TIMEOUT = 3600
PREFIX = r"^[\[|]\d{3}[\]|] "  # "[030] name" (serial) or "|030| name" (parallel)
ROOT_FILES = ("001-basic.bats", "010-images.bats", "030-run.bats", "040-ps.bats", "055-rm.bats", "070-build.bats",
              "075-exec.bats", "120-load.bats", "150-login.bats", "160-volumes.bats", "500-networking.bats")
ROOTLESS_FILES = ("001-basic.bats", "030-run.bats", "160-volumes.bats", "170-run-userns.bats",
                  "500-networking.bats")


class PodmanSuite(Suite):
    name = "podman"
    component = "podman"
    files = ROOT_FILES
    gate = ("001-basic.bats", "030-run.bats", "070-build.bats", "160-volumes.bats", "500-networking.bats")
    smoke = ("001-basic.bats",)
    rootless = False

    def test_dir(self, settings: Settings) -> Path:
        return tree(settings, "podman") / "test" / "system"

    def units(self, settings: Settings) -> list[str]:
        present = {p.name for p in self.test_dir(settings).glob("*.bats")}
        missing = [f for f in self.files if f not in present]
        if missing:
            raise UpstreamTestError(f"podman's test/system lacks {', '.join(missing)}")
        return list(self.files)

    def prepare(self, settings: Settings, flavor: str) -> Prepared:
        # skopeo loads the cached test image; buildah makes the "external" containers of a few tests
        # (upstream's CI installs both beside podman): each run gets its own build of them
        companions = ("skopeo", "buildah")
        if flavor == "static":
            prefix = static.prefix(settings, "podman")
            podman, seen = prefix / "bin/podman", str(prefix / "bin/podman")
            path = [prefix / "bin", *(static.prefix(settings, c) / "bin" for c in companions)]
        else:
            root = dynamic.ensure(settings, *dynamic.PODMAN_SET, *companions)
            podman, seen, path = root / "bin/podman", "/usr/local/bin/podman", []
        env = containers_env.make(settings, self.name, flavor, path, (*dynamic.PODMAN_SET, *companions),
                                  rootless=self.rootless)
        tmp = Path(env.env["TMPDIR"])
        cache = tmp / f"podman-systest-imagecache-{uid(env.user)}"  # helpers.bash's PODMAN_IMAGECACHE
        cache.mkdir(parents=True)
        busybox = testdeps.busybox(settings)
        for image in (images.testimage(busybox), images.registry_image(registry.binary(settings), busybox)):
            images.oci_archive(image, cache / images.cache_name(image.name))
        if env.user:
            entry = pwd.getpwnam(env.user)
            for folder, _, files in os.walk(tmp):
                os.chown(folder, entry.pw_uid, entry.pw_gid)
                for f in files:
                    os.chown(Path(folder) / f, entry.pw_uid, entry.pw_gid)
        env.env |= {"PODMAN": seen, "PODMAN_TIMEOUT": "240"}
        return Prepared(flavor, {"podman": podman}, {"env": env})

    def run_unit(self, settings: Settings, prepared: Prepared, unit: str, only: list[str] | None = None) -> Unit:
        env = prepared.data["env"]
        log = settings.work / "logs" / self.name / prepared.flavor / f"{unit}{'.only' if only else ''}.log"
        test_dir = self.test_dir(settings)
        try:
            return bats.run_file(test_dir / unit, unit, cwd=test_dir.parent.parent, env=env.env,
                                 isolation=env.isolation, only=only, timeout=TIMEOUT, user=env.user,
                                 prefix_strip=PREFIX, log=log)
        finally:
            if env.user:
                # rootless podman's pause process outlives the unit's namespaces (and the gate, in a
                # job container): each unit starts without one, none is left behind
                containers_env.kill_user_processes()


class PodmanRootlessSuite(PodmanSuite):
    name = "podman-rootless"
    files = ROOTLESS_FILES
    gate = ("001-basic.bats", "030-run.bats", "160-volumes.bats")
    smoke = ()
    rootless = True


def uid(user: str | None) -> int:
    return pwd.getpwnam(user).pw_uid if user else 0
