from ..builders import Meson
from ..recipe import Recipe, Smoke, Upstream

# The library and fusermount3 (for fuse-overlayfs outside a user namespace). With useroot,
# init script and udev rules off, the install hook writes only etc/fuse.conf into the staging
# prefix: no chown/setuid, no /dev/fuse node, nothing on the build machine. fusermount3 reads
# the machine's /etc/fuse.conf. No examples, no tests.
recipe = Recipe(
    name="fuse3",
    summary="libfuse 3: the FUSE library fuse-overlayfs is built on",
    homepage="https://github.com/libfuse/libfuse",
    license="LGPL-2.1-only",
    upstream=(
        Upstream(url="https://github.com/libfuse/libfuse/releases/download/fuse-{version}/fuse-{version}.tar.gz"),
        Upstream(debian=("fuse3", "fuse3_{version}.orig.tar.gz")),
    ),
    builder=Meson(options=("-Dutils=true", "-Dexamples=false", "-Dtests=false", "-Duseroot=false",
                           "-Dinitscriptdir=", "-Dudevrulesdir=", "-Denable-io-uring=false",
                           "-Ddisable-libc-symbol-version=true")),
    binaries=("usr/bin/fusermount3",),  # shipped without the setuid bit: see the README
    smoke={"fusermount3": Smoke(("-V",), "fusermount3 version: {version}")},
)
