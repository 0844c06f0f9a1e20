from ..builders import Autotools
from ..recipe import Limit, Recipe, Smoke, Upstream

recipe = Recipe(
    name="crun",
    summary="crun: the OCI runtime podman starts containers with",
    homepage="https://github.com/containers/crun",
    license="GPL-2.0-or-later",
    upstream=(
        Upstream(url="https://github.com/containers/crun/releases/download/{version}/crun-{version}.tar.gz"),
        Upstream(debian=("crun", "crun_{version}.orig.tar.gz")),
    ),
    # Upstream's options for a static build: its embedded yajl (1.28+ moved to json-c),
    # seccomp and capabilities on, no systemd, CRIU, eBPF device filters or dlopen'ed handlers.
    builder=Autotools(configure_args=("--enable-embedded-yajl", "--disable-systemd", "--disable-criu",
                                      "--disable-dl", "--enable-caps", "--enable-seccomp")),
    depends=("libseccomp", "libcap", "argp"),
    binaries=("usr/bin/crun",),
    smoke={"crun": Smoke(("--version",), "crun version {version}")},
    limit=Limit("1.28", "from 1.28 on crun parses JSON with json-c, not its embedded yajl: add a json-c recipe first"),
)
