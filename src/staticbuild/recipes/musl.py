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
    builder=MuslLibc(),
    stage=ToolchainStage.host_cross,
)
