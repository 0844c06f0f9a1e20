from ..builders import Script
from ..recipe import Limit, Recipe, Upstream

# musl has no argp; crun needs it. gnulib's argp module, turned into a small standalone
# library with gnulib's own tool, gives libargp.a and argp.h.
# gnulib's argp.h expects these from gnulib's config.h; users of the library have none.
# The inline helpers are gnu_inline: their out-of-line definitions are in libargp.a.
PRELUDE = """/* staticbuild: what gnulib's config.h would define for argp.h */
#define _GL_ATTRIBUTE_FORMAT(spec) __attribute__ ((__format__ spec))
#define _GL_ATTRIBUTE_SPEC_PRINTF_STANDARD __printf__
#define _GL_ATTRIBUTE_SPEC_PRINTF_SYSTEM __printf__
#define _GL_INLINE_HEADER_BEGIN
#define _GL_INLINE_HEADER_END
#define _GL_INLINE extern inline __attribute__ ((__gnu_inline__))"""

recipe = Recipe(
    name="argp",
    summary="argp (from gnulib): the argument parser crun uses, which musl lacks",
    homepage="https://www.gnu.org/software/gnulib/",
    license="LGPL-2.1-or-later",
    upstream=(Upstream(debian=("gnulib", "gnulib_{version}.orig.tar.gz")),),
    # Found by the rehearsal's unattended bump: gnulib 20250303 builds argp_parse as rpl_argp_parse
    # (argp.h renames it), so crun's configure, which links for argp_parse without the header,
    # finds no argp. 20230209 is the last snapshot known to work; the first failing one known is this.
    limit=Limit("20250303", "gnulib 20250303 names argp_parse rpl_argp_parse, which crun's configure "
                            "cannot find: the recipe must export the plain names first"),
    builder=Script(steps=(
        ("gnulib-tool", './gnulib-tool --create-testdir --dir="$BUILD/argp" --without-tests argp'),
        ("configure", 'cd "$BUILD/argp" && ./configure $CONFIGURE_ARGS'),
        ("make", 'make -C "$BUILD/argp" -j"$JOBS"'),
        ("install", 'install -Dm644 "$BUILD/argp/gllib/libgnu.a" "$DESTDIR/usr/lib/libargp.a"\n'
                    f"cat - \"$BUILD/argp/gllib/argp.h\" > argp.h <<'EOF'\n{PRELUDE}\nEOF\n"
                    'install -Dm644 -t "$DESTDIR/usr/include" argp.h'),
    )),
)
