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
    # CXX=no: libffi's configure probes for C++ (libtool's C++ tag) although nothing here is C++; with the
    # toolchain's CXX=false it then wants a C++ preprocessor, which exists only where the host has g++
    # (cc1plus): the build failed in a plain debian:bookworm job container. "no" makes libtool skip C++.
    builder=Autotools(configure_args=("--disable-docs", "--disable-multi-os-directory", "--disable-exec-static-tramp",
                                      "CXX=no")),
)
