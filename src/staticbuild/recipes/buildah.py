from ..builders import DepPatch, Go
from ..recipe import Recipe, Smoke, Upstream

# Same tag choices as podman (see recipes/podman.py); buildah needs cgo for its rootless
# re-exec code, a C constructor in go.podman.io/storage.
TAGS = ("seccomp", "containers_image_openpgp", "exclude_graphdriver_btrfs", "exclude_graphdriver_devicemapper")

recipe = Recipe(
    name="buildah",
    summary="buildah: builds OCI images",
    homepage="https://buildah.io/",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/buildah/archive/refs/tags/v{version}.tar.gz"),
        Upstream(gomod="go.podman.io/buildah"),
    ),
    builder=Go(packages=(("./cmd/buildah", "usr/bin/buildah"),), tags=TAGS,
               ldflags=("-X main.buildInfo={epoch}",),
               dep_patches=(DepPatch("go.podman.io/storage", "storage-bundle-config.patch"),
                            DepPatch("go.podman.io/common", "common-bundled-helpers.patch"))),
    depends=("libseccomp",),
    binaries=("usr/bin/buildah",),
    smoke={"buildah": Smoke(("--version",), "buildah version {version}")},
)
