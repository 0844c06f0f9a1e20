from ..builders import Autotools
from ..recipe import Recipe, Upstream

recipe = Recipe(
    name="libffi",
    summary="libffi: foreign calls for glib's gobject (required by glib's build)",
    homepage="https://sourceware.org/libffi/",
    license="MIT",
    upstream=(
        Upstream(url="https://github.com/libffi/libffi/releases/download/v{version}/libffi-{version}.tar.gz"),
        Upstream(debian=("libffi", "libffi_{version}.orig.tar.gz")),
    ),
    builder=Autotools(configure_args=("--disable-docs", "--disable-multi-os-directory", "--disable-exec-static-tramp")),
)
