"""staticbuild: fully static musl + mimalloc builds of podman and friends."""

__version__ = "0.1.0"
