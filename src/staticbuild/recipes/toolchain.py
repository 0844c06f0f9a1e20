from ..builders import MuslSysroot
from ..recipe import Recipe, ToolchainStage

recipe = Recipe(
    name="toolchain",
    summary="musl sysroot whose libc.a allocates with mimalloc; every target build links against it",
    homepage="https://musl.libc.org/",
    license="MIT",
    builder=MuslSysroot(),
    depends=("musl", "mimalloc"),
    stage=ToolchainStage.host_cross,
)
