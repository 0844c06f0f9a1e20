from ..builders import Make
from ..recipe import Recipe, Smoke, Upstream

recipe = Recipe(
    name="passt",
    summary="passt/pasta: user-mode networking for rootless containers",
    homepage="https://passt.top/",
    license="GPL-2.0-or-later AND BSD-3-Clause",
    upstream=(
        Upstream(url="https://passt.top/passt/snapshot/passt-{version}.tar.xz"),
        Upstream(debian=("passt", "passt_0.0~git{version_compact}.orig.tar.xz")),
    ),
    # On x86_64 upstream's Makefile also builds the .avx2 variants that pasta re-executes
    # when the CPU has AVX2; the toolchain links everything statically (upstream's `make static`).
    builder=Make(make_args=("VERSION={version}",)),
    binaries=("usr/bin/pasta", "usr/bin/passt"),
    arch_binaries={"amd64": ("usr/bin/pasta.avx2", "usr/bin/passt.avx2")},
    smoke={
        "pasta": Smoke(("--version",), "pasta {version}"),
        "passt": Smoke(("--version",), "passt {version}"),
        "pasta.avx2": Smoke(("--version",), "pasta {version}"),
        "passt.avx2": Smoke(("--version",), "passt {version}"),
    },
)
