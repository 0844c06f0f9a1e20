"""skopeo's `systemtest/*.bats` from the module zip, each file a unit, as root.

Only SKOPEO_BINARY differs between the runs. The suite runs its registries with `podman run
quay.io/libpod/registry:2.8.2`; that podman is the static bundle's in both runs (it is
infrastructure here, and tested in its own suite), and the image comes from the local mirror
(images.py: Debian's docker-registry in the registry image's layout). The images the tests
copy from quay.io are the stand-ins on the mirror.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import bats, containers_env, dynamic, static
from ..common import Settings
from ..results import Unit
from ..sources import test_files, tree
from . import Prepared, Suite

TIMEOUT = 1800


class SkopeoSuite(Suite):
    name = "skopeo"
    component = "skopeo"
    gate = ("001-basic.bats", "020-copy.bats", "030-local-registry-tls.bats", "040-local-registry-auth.bats")
    smoke = ("001-basic.bats",)

    def units(self, settings: Settings) -> list[str]:
        return test_files(settings, "skopeo", "systemtest/*.bats")

    def prepare(self, settings: Settings, flavor: str) -> Prepared:
        podman = static.prefix(settings, "podman")
        if flavor == "static":
            skopeo = static.prefix(settings, "skopeo") / "bin/skopeo"
        else:
            skopeo = dynamic.ensure(settings, "skopeo") / "bin/skopeo"
        go = shutil.which("go")  # 010-inspect asks `go env GOARCH` for the host's arch
        env = containers_env.make(settings, self.name, flavor, [podman / "bin", *([Path(go).parent] if go else [])],
                                  ("skopeo",))
        skopeo_seen = "/usr/local/bin/skopeo" if flavor == "dynamic" else str(skopeo)
        env.env |= {"SKOPEO_BINARY": skopeo_seen}
        return Prepared(flavor, {"skopeo": skopeo}, {"env": env})

    def run_unit(self, settings: Settings, prepared: Prepared, unit: str, only: list[str] | None = None) -> Unit:
        src = tree(settings, "skopeo") / "systemtest"
        env = prepared.data["env"]
        log = settings.work / "logs" / "skopeo" / prepared.flavor / f"{unit}{'.only' if only else ''}.log"
        return bats.run_file(src / unit, unit, cwd=src, env={**env.env, "TEST_SOURCE_DIR": str(src)},
                             isolation=env.isolation, only=only, timeout=TIMEOUT, log=log)
