from ..builders import DepPatch, Go
from ..recipe import Recipe, Smoke, Upstream

# With cgo, like podman and buildah: skopeo's Makefile documents DISABLE_CGO=1 for static
# builds, but without cgo containers/storage has no C constructor to re-execute skopeo inside a
# user namespace, so a non-root user's `skopeo copy ... containers-storage:` hung or failed
# ("parsing PID"): found by podman's rootless system tests, tested in tests/test_e2e.py.
recipe = Recipe(
    name="skopeo",
    summary="skopeo: inspects and copies container images between transports",
    homepage="https://github.com/containers/skopeo",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/skopeo/archive/refs/tags/v{version}.tar.gz"),
        Upstream(gomod="github.com/containers/skopeo"),
    ),
    builder=Go(packages=(("./cmd/skopeo", "usr/bin/skopeo"),),
               tags=("containers_image_openpgp", "exclude_graphdriver_btrfs", "exclude_graphdriver_devicemapper"),
               dep_patches=(DepPatch("github.com/containers/image/v5", "image-bundle-config.patch"),)),
    binaries=("usr/bin/skopeo",),
    smoke={"skopeo": Smoke(("--version",), "skopeo version {version}")},
)
