"""netavark's `test/*.bats`, from the crate the lock pins (the crate carries them), each file a
unit, as root in private network namespaces the helpers make.

Only NETAVARK differs between the runs. The test helpers, netavark-connection-tester and the
example plugins, are built once from the same crate with the host's cargo and serve both. netavark
starts aardvark-dns from its default path, /usr/libexec/podman/aardvark-dns: each run lays its
own flavor's aardvark-dns there, inside its private mount namespace only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import bats, dynamic, static
from ..common import Settings, clean_env, need
from ..isolation import Isolation
from ..results import Unit
from ..sources import test_files, tree
from . import Prepared, Suite

TIMEOUT = 1800


class NetavarkSuite(Suite):
    name = "netavark"
    component = "netavark"
    # every file but the firewalld driver's (it needs a firewalld and a D-Bus daemon it starts itself;
    # neither is on these machines nor on GitHub's runners, and each of its tests waits 5 s for them)
    gate = ("001-basic.bats", "250-bridge-nftables.bats", "300-macvlan.bats", "400-ipvlan.bats",
            "500-bridge-fwnone.bats", "500-plugin.bats", "600-bridge-vrf.bats", "610-bridge-vethname.bats",
            "620-bridge-mode.bats", "630-bridge-vlan.bats", "640-bridge-mtu.bats", "700-create.bats")
    smoke = ()  # netns, nftables and raw sockets under qemu-user: nothing of it is meaningful

    def units(self, settings: Settings) -> list[str]:
        return test_files(settings, "netavark", "test/*.bats")

    def prepare(self, settings: Settings, flavor: str) -> Prepared:
        need("nft", "ip", "jq", "unshare", "nsenter")
        helpers = dynamic.ensure(settings, "netavark") / "share/netavark-tests"
        if flavor == "static":
            prefix = static.prefix(settings, "podman")
            netavark, aardvark = prefix / "lib/podman/netavark", prefix / "lib/podman/aardvark-dns"
        else:
            root = dynamic.ensure(settings, "netavark", "aardvark-dns")
            netavark, aardvark = root / "libexec/podman/netavark", root / "libexec/podman/aardvark-dns"
        layer = settings.work / "netavark" / flavor / "libexec-layer"
        if layer.exists():
            shutil.rmtree(layer)
        (layer / "podman").mkdir(parents=True)
        shutil.copy2(aardvark, layer / "podman" / "aardvark-dns")
        return Prepared(flavor, {"netavark": netavark, "aardvark-dns": aardvark},
                        {"helpers": helpers, "layer": layer})

    def run_unit(self, settings: Settings, prepared: Prepared, unit: str, only: list[str] | None = None) -> Unit:
        src = tree(settings, "netavark")
        helpers: Path = prepared.data["helpers"]
        env = clean_env(NETAVARK=str(prepared.binaries["netavark"]),
                        NETAVARK_CONNECTION_TESTER=str(helpers / "netavark-connection-tester"),
                        TEST_PLUGINS=str(helpers / "examples"), BATS_TMPDIR="/tmp", TMPDIR="/tmp")
        isolation = Isolation(overlays=(("/usr/libexec", (prepared.data["layer"],)),), fresh_run=True)
        log = settings.work / "logs" / "netavark" / prepared.flavor / f"{unit}{'.only' if only else ''}.log"
        return bats.run_file(src / "test" / unit, unit, cwd=src, env=env, isolation=isolation, only=only,
                             timeout=TIMEOUT, log=log)
