from ..builders import Cargo
from ..recipe import Recipe, Smoke, Upstream

recipe = Recipe(
    name="netavark",
    summary="netavark: podman's network setup (bridge, nftables through the host's nft)",
    homepage="https://github.com/containers/netavark",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/netavark/archive/refs/tags/v{version}.tar.gz"),
        Upstream(crate=("netavark", "{version}")),  # the published crate carries Cargo.lock
    ),
    builder=Cargo(bins=("netavark",)),  # build.rs needs protoc (protobuf-compiler)
    binaries=("usr/libexec/podman/netavark",),
    smoke={"netavark": Smoke(("--version",), "netavark {version}")},
)
