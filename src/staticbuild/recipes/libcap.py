from ..builders import Script
from ..recipe import Recipe, Upstream

# libcap's own Makefile: the library and its pkg-config file only (no shared object, no
# PAM module, no Go bindings); _makenames is a helper that runs on the build machine.
MAKE = ('make -C libcap CC="$CC" CFLAGS="$CFLAGS" AR="$AR" RANLIB="$RANLIB" BUILD_CC=gcc '
        'SHARED=no PAM_CAP=no GOLANG=no prefix=/usr lib=lib')

recipe = Recipe(
    name="libcap",
    summary="libcap: POSIX capabilities for crun",
    homepage="https://sites.google.com/site/fullycapable/",
    license="BSD-3-Clause OR GPL-2.0-only",
    upstream=(
        Upstream(url="https://www.kernel.org/pub/linux/libs/security/linux-privs/libcap2/libcap-{version}.tar.xz"),
        Upstream(debian=("libcap2", "libcap2_{version}.orig.tar.xz")),
    ),
    builder=Script(steps=(
        ("make", f'{MAKE} -j"$JOBS" libcap.a pcs'),
        ("install", f'{MAKE} install-static-cap DESTDIR="$DESTDIR"'),
    )),
)
