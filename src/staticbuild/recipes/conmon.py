from ..builders import Make
from ..recipe import Recipe, Smoke, Upstream

recipe = Recipe(
    name="conmon",
    summary="conmon: the monitor podman puts between itself and each container",
    homepage="https://github.com/containers/conmon",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/conmon/archive/refs/tags/v{version}.tar.gz"),
        Upstream(debian=("conmon", "conmon_{version}+ds1.orig.tar.xz")),
    ),
    # journald logging is enabled only when pkg-config finds libsystemd, which the staging
    # prefix never has (this Makefile has no DISABLE_SYSTEMD switch). Seccomp notify support
    # is enabled by conmon's probe when libseccomp >= 2.5 is found; the patch makes the probe
    # use the cross compiler and our pkg-config instead of the host's.
    builder=Make(make_args=("bin/conmon", "PREFIX=/usr", "GIT_COMMIT=v{version}"), install_target="install.bin"),
    patches=("conmon-cross-seccomp-probe.patch",),
    depends=("glib", "libseccomp"),
    binaries=("usr/bin/conmon",),
    smoke={"conmon": Smoke(("--version",), "conmon version {version}")},
)
