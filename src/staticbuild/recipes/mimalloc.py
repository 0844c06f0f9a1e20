from ..builders import Script
from ..recipe import Recipe, ToolchainStage, Upstream

# mimalloc's own CMake settings for a static musl build: MI_LIBC_MUSL, local-dynamic TLS
# (relaxed to local-exec in a static executable) and no builtin malloc assumptions.
# Arenas are committed on demand, not eagerly (mimalloc's default on overcommitting Linux):
# measured in `make bench`, eager commit raised peak RSS 4x (aardvark-dns 12 → 3 MiB,
# threaded fuse-overlayfs 36 → 7 MiB) for no gain in speed; MIMALLOC_ARENA_EAGER_COMMIT=1
# at run time restores it.
CFLAGS = ("$CFLAGS -DNDEBUG -DMI_MALLOC_OVERRIDE -DMI_LIBC_MUSL=1 -DMI_DEFAULT_ARENA_EAGER_COMMIT=0 "
          "-ftls-model=local-dynamic -fno-builtin-malloc -Iinclude")

recipe = Recipe(
    name="mimalloc",
    summary="mimalloc: the allocator that replaces musl's malloc in every binary",
    homepage="https://github.com/microsoft/mimalloc",
    license="MIT",
    upstream=(
        Upstream(url="https://github.com/microsoft/mimalloc/archive/refs/tags/v{version}.tar.gz"),
        # The crate registry's libmimalloc-sys carries mimalloc's release sources verbatim.
        Upstream(crate=("libmimalloc-sys", "0.1.49"), subdir="c_src/mimalloc/v2"),
    ),
    builder=Script(steps=(
        ("compile", f'$CC {CFLAGS} -c src/static.c -o mimalloc.o'),
        ("install", 'install -Dm644 mimalloc.o "$DESTDIR/usr/lib/mimalloc.o"\n'
                    '$AR rcsD "$DESTDIR/usr/lib/libmimalloc.a" mimalloc.o\n'
                    'install -Dm644 -t "$DESTDIR/usr/include" include/mimalloc.h include/mimalloc-stats.h'),
    )),
    stage=ToolchainStage.bare_musl,
)
