from ..builders import Cargo
from ..recipe import Recipe, Smoke, Upstream

recipe = Recipe(
    name="aardvark-dns",
    summary="aardvark-dns: name resolution between containers on podman networks",
    homepage="https://github.com/containers/aardvark-dns",
    license="Apache-2.0",
    upstream=(
        Upstream(url="https://github.com/containers/aardvark-dns/archive/refs/tags/v{version}.tar.gz"),
        Upstream(crate=("aardvark-dns", "{version}")),
    ),
    # aardvark-dns 2.x calls close_range(2), which musl 1.2.5 lacks: the toolchain's compat
    # layer (builders/musl_compat.c) provides it as a syscall wrapper, and the patch declares
    # it for musl (the libc crate binds it only for glibc).
    builder=Cargo(bins=("aardvark-dns",)),
    patches=("aardvark-dns-musl-close-range.patch",),
    binaries=("usr/libexec/podman/aardvark-dns",),
    smoke={"aardvark-dns": Smoke(("--version",), "aardvark-dns {version}")},
)
