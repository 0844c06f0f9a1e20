from ..builders import Autotools
from ..recipe import Recipe, Upstream

recipe = Recipe(
    name="libseccomp",
    summary="libseccomp: syscall filters for crun, conmon and podman",
    homepage="https://github.com/seccomp/libseccomp",
    license="LGPL-2.1-only",
    upstream=(
        Upstream(url="https://github.com/seccomp/libseccomp/releases/download/v{version}/libseccomp-{version}.tar.gz"),
        Upstream(debian=("libseccomp", "libseccomp_{version}.orig.tar.gz")),
    ),
    builder=Autotools(configure_args=("--disable-python",)),
)
