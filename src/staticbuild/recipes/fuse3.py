from ..builders import Meson
from ..recipe import Recipe, Upstream

# The library only: no fusermount3/mount.fuse3 (their install hooks create /dev/fuse, udev
# rules and init scripts on the build machine), no examples, no tests.
recipe = Recipe(
    name="fuse3",
    summary="libfuse 3: the FUSE library fuse-overlayfs is built on",
    homepage="https://github.com/libfuse/libfuse",
    license="LGPL-2.1-only",
    upstream=(
        Upstream(url="https://github.com/libfuse/libfuse/releases/download/fuse-{version}/fuse-{version}.tar.gz"),
        Upstream(debian=("fuse3", "fuse3_{version}.orig.tar.gz")),
    ),
    builder=Meson(options=("-Dutils=false", "-Dexamples=false", "-Dtests=false", "-Duseroot=false",
                           "-Dinitscriptdir=", "-Dudevrulesdir=", "-Denable-io-uring=false",
                           "-Ddisable-libc-symbol-version=true")),
)
