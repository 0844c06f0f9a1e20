from ..builders import DepPatch, Go
from ..recipe import Needs, Recipe, Smoke, Upstream

# Build tags, as upstream's Makefile and the known static builds choose them:
#   grpcnotrace       upstream default: no gRPC tracing code
#   seccomp           seccomp filters, through the libseccomp recipe (cgo)
#   containers_image_openpgp  signature checks in Go instead of gpgme (a C library we do not ship)
#   exclude_graphdriver_btrfs / _devicemapper  drivers that need C libraries we do not ship
# Not set: libsqlite3 (go-sqlite3 then compiles its bundled SQLite with our toolchain),
# systemd (no libsystemd), apparmor (no libapparmor), libsubid (no shadow library).
TAGS = ("grpcnotrace", "seccomp", "containers_image_openpgp",
        "exclude_graphdriver_btrfs", "exclude_graphdriver_devicemapper")
LIBPOD = "go.podman.io/podman/v6/libpod"

recipe = Recipe(
    name="podman",
    summary="podman: the container engine",
    homepage="https://podman.io/",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/podman/archive/refs/tags/v{version}.tar.gz"),
        Upstream(gomod="go.podman.io/podman/v6"),
    ),
    builder=Go(
        packages=(("./cmd/podman", "usr/bin/podman"),
                  ("./cmd/rootlessport", "usr/libexec/podman/rootlessport"),  # rootless port forwarding
                  ("./cmd/quadlet", "usr/libexec/podman/quadlet")),  # the systemd generator for .container etc.
        tags=TAGS,
        ldflags=(f"-X {LIBPOD}/define.buildInfo={{epoch}}",),  # `podman version` shows the release date
        # Relocatable bundles: config from <prefix>/etc/containers, helpers from <prefix>/lib/podman.
        dep_patches=(DepPatch("go.podman.io/storage", "storage-bundle-config.patch"),
                     DepPatch("go.podman.io/common", "common-bundled-helpers.patch")),
    ),
    # quadlet's units run the podman beside it in the bundle, not the link-time /usr/bin/podman.
    patches=("podman-quadlet-bundled-podman.patch",),
    depends=("libseccomp",),
    binaries=("usr/bin/podman", "usr/libexec/podman/rootlessport", "usr/libexec/podman/quadlet"),
    smoke={"podman": Smoke(("--version",), "podman version {version}"),
           "quadlet": Smoke(("-version",), "{version}")},
    # podman 6 talks to netavark and aardvark-dns 2.x only (and needs cgroup v2 on the host).
    needs=(Needs("6", (("netavark", "2", "3"), ("aardvark-dns", "2", "3"))),),
)
