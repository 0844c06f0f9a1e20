from ..builders import Autotools
from ..recipe import Limit, Recipe, Smoke, Upstream

recipe = Recipe(
    name="fuse-overlayfs",
    summary="fuse-overlayfs: overlay storage for rootless containers (the C line; 2.x is a Rust rewrite)",
    homepage="https://github.com/containers/fuse-overlayfs",
    license="GPL-2.0-or-later",
    upstream=(
        Upstream(url="https://github.com/containers/fuse-overlayfs/archive/refs/tags/v{version}.tar.gz"),
        Upstream(debian=("fuse-overlayfs", "fuse-overlayfs_{version}.orig.tar.xz")),
    ),
    builder=Autotools(),
    patches=("fuse-overlayfs-1.14-version.patch",),
    depends=("fuse3",),
    binaries=("usr/bin/fuse-overlayfs",),
    smoke={"fuse-overlayfs": Smoke(("--version",), "fuse-overlayfs: version {version}")},
    limit=Limit("2", "2.x is a rewrite in Rust: it needs a cargo recipe"),
)
