from ..builders import Autotools
from ..recipe import Recipe, Smoke, Upstream

recipe = Recipe(
    name="catatonit",
    summary="catatonit: the tiny init podman runs as PID 1 for `--init`",
    homepage="https://github.com/openSUSE/catatonit",
    license="GPL-2.0-or-later",
    upstream=(
        Upstream(url="https://github.com/openSUSE/catatonit/archive/refs/tags/v{version}.tar.gz"),
        Upstream(debian=("catatonit", "catatonit_{version}.orig.tar.gz")),
    ),
    builder=Autotools(),
    binaries=("usr/bin/catatonit",),
    smoke={"catatonit": Smoke(("--version",), "{version}_catatonit")},
)
