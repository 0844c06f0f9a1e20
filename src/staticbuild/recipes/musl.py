from ..builders import MuslLibc
from ..recipe import Recipe, ToolchainStage, Upstream

recipe = Recipe(
    name="musl",
    summary="musl libc: the C library every binary is linked against, statically",
    homepage="https://musl.libc.org/",
    license="MIT",
    upstream=(
        Upstream(url="https://musl.libc.org/releases/musl-{version}.tar.gz"),
        Upstream(debian=("musl", "musl_{version}.orig.tar.gz")),
    ),
    # glibc's wording for every errno, so C and Rust binaries word errors as the Go ones do (and as
    # upstream's tests and users' scripts expect): scripts/musl-strerror-patch writes it.
    patches=("musl-glibc-error-messages.patch",),
    builder=MuslLibc(),
    stage=ToolchainStage.host_cross,
)
