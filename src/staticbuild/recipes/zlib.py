from ..builders import Script
from ..recipe import Recipe, Upstream

recipe = Recipe(
    name="zlib",
    summary="zlib: compression, needed by glib's gio (built because glib's build requires it)",
    homepage="https://zlib.net/",
    license="Zlib",
    upstream=(
        Upstream(url="https://zlib.net/fossils/zlib-{version}.tar.gz"),
        Upstream(debian=("zlib", "zlib_1.3.dfsg+really{version}.orig.tar.gz")),
    ),
    # zlib's own configure takes no --host: it reads $CC and builds the static library only.
    builder=Script(steps=(
        ("configure", "./configure --static --prefix=/usr --libdir=/usr/lib"),
        ("make", 'make -j"$JOBS" libz.a'),
        ("install", 'make install-libs DESTDIR="$DESTDIR"\n'
                    'install -Dm644 -t "$DESTDIR/usr/include" zlib.h zconf.h'),
    )),
)
