from ..builders import Meson
from ..recipe import Recipe, Upstream

# Only what conmon links: the library, without tests, docs, translations, introspection or
# optional system integrations.
OPTIONS = ("-Dtests=false", "-Dinstalled_tests=false", "-Dintrospection=disabled", "-Dnls=disabled",
           "-Dlibmount=disabled", "-Dselinux=disabled", "-Dxattr=false", "-Dman-pages=disabled",
           "-Ddocumentation=false", "-Dsysprof=disabled", "-Dlibelf=disabled", "-Ddtrace=disabled",
           "-Dsystemtap=disabled", "-Dglib_debug=disabled", "-Dbsymbolic_functions=false")

recipe = Recipe(
    name="glib",
    summary="GLib: the main loop and utilities conmon is written with",
    homepage="https://gitlab.gnome.org/GNOME/glib",
    license="LGPL-2.1-or-later",
    upstream=(
        Upstream(url="https://download.gnome.org/sources/glib/{version}/glib-{version}.tar.xz"),
        Upstream(debian=("glib2.0", "glib2.0_{version}.orig.tar.xz")),
    ),
    builder=Meson(options=OPTIONS),
    depends=("pcre2", "libffi", "zlib"),
)
