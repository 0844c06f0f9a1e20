from ..builders import DepPatch, Go
from ..recipe import Recipe, Smoke, Upstream

# skopeo's Makefile documents DISABLE_CGO=1 for static builds, with exactly these tags; with
# no C code there is no C allocator, and verify reports it as pure Go.
recipe = Recipe(
    name="skopeo",
    summary="skopeo: inspects and copies container images between transports",
    homepage="https://github.com/containers/skopeo",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/skopeo/archive/refs/tags/v{version}.tar.gz"),
        Upstream(gomod="github.com/containers/skopeo"),
    ),
    builder=Go(packages=(("./cmd/skopeo", "usr/bin/skopeo"),), cgo=False,
               tags=("exclude_graphdriver_btrfs", "containers_image_openpgp"),
               dep_patches=(DepPatch("github.com/containers/image/v5", "image-bundle-config.patch"),)),
    binaries=("usr/bin/skopeo",),
    smoke={"skopeo": Smoke(("--version",), "skopeo version {version}")},
)
