"""A real registry on this machine: Debian's docker-registry (distribution 2.8.2), unpacked from
its pinned .deb into the work folder (never installed: no service, no user, nothing in /etc).

Two uses:
* the local mirror (`mirror()`): plain HTTP on 127.0.0.1, holding the stand-in images under
  the names the suites pull (quay.io/libpod/testimage:..., ...); a registries.conf given to
  both runs alike (CONTAINERS_REGISTRIES_CONF) sends pulls from quay.io and docker.io there;
* the image `quay.io/libpod/registry:2.8.2` that podman's and skopeo's suites run themselves,
  with TLS and htpasswd, for their login, push and pull tests (images.registry_image).

Images are pushed with the registry HTTP API from Python, not with a tool under test.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import httpx

from . import images, sources, testdeps
from .common import Settings, UpstreamTestError, run, say

DEB = ("docker-registry", "2.8.2+ds1-1")  # bookworm's


def binary(settings: Settings) -> Path:
    """usr/bin/docker-registry from the pinned .deb (apt-get download: signed index, checked digest)."""
    root = settings.work / "testdeps" / "docker-registry"
    exe = root / "usr/bin/docker-registry"
    if exe.exists():
        return exe
    root.mkdir(parents=True, exist_ok=True)
    log = settings.dir("logs") / "testdeps-docker-registry.log"
    run(["apt-get", "download", f"{DEB[0]}={DEB[1]}"], log, cwd=root)
    deb = next(root.glob(f"{DEB[0]}_*.deb"), None)
    if deb is None:
        raise UpstreamTestError(f"apt-get download {DEB[0]}={DEB[1]} gave no .deb (log: {log})")
    run(["dpkg-deb", "-x", deb, root], log)
    if not exe.exists():
        raise UpstreamTestError(f"{deb.name} holds no usr/bin/docker-registry")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """One registry process (plain HTTP) storing into `root`."""

    def __init__(self, settings: Settings, root: Path, port: int | None = None):
        self.settings, self.root, self.port = settings, root, port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Registry:
        exe = binary(self.settings)
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(images.REGISTRY_CONFIG.replace("/var/lib/registry", str(self.root / "data"))
                          .replace("addr: :5000", f"addr: {self.address}"))
        log = (self.root / "registry.log").open("a")
        self.proc = subprocess.Popen([exe, "serve", config], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise UpstreamTestError(f"the registry exited ({self.proc.returncode}); see {self.root}/registry.log")
            try:
                if httpx.get(f"http://{self.address}/v2/", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise UpstreamTestError(f"the registry did not answer on {self.address}; see {self.root}/registry.log")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def push(self, repository: str, tag: str, image: images.Image | images.ImageIndex) -> str:
        """Upload blobs and the manifest (an index: every arch's, by digest, then the list under
        the tag); returns the digest of what the tag names."""
        with httpx.Client(timeout=120) as http:
            if isinstance(image, images.ImageIndex):
                listing, per_arch = images.index(image)
                for manifest, parts in per_arch:
                    self._upload(http, repository, images.digest(images.manifest_bytes(manifest)), manifest, parts)
                return self._upload(http, repository, tag, listing, [])
            return self._upload(http, repository, tag, *images.blobs(image))

    def _upload(self, http: httpx.Client, repository: str, reference: str, manifest: dict,
                parts: list[tuple[str, bytes]]) -> str:
        base = f"http://{self.address}/v2/{repository}"
        for digest, data in parts:
            if http.head(f"{base}/blobs/{digest}").status_code == 200:
                continue
            start = http.post(f"{base}/blobs/uploads/")
            if start.status_code != 202:
                raise UpstreamTestError(f"registry refused an upload to {repository}: {start.status_code}")
            location = start.headers["Location"]
            location = location if location.startswith("http") else f"http://{self.address}{location}"
            location += ("&" if "?" in location else "?") + f"digest={digest}"  # keep the upload's _state
            done = http.put(location, content=data,
                            headers={"Content-Type": "application/octet-stream"})
            if done.status_code != 201:
                raise UpstreamTestError(f"blob upload to {repository} failed: {done.status_code} {done.text[:200]}")
        body = images.manifest_bytes(manifest)
        put = http.put(f"{base}/manifests/{reference}", content=body,
                       headers={"Content-Type": manifest["mediaType"]})
        if put.status_code != 201:
            raise UpstreamTestError(f"manifest upload {repository}:{reference} failed: {put.status_code} "
                                    f"{put.text[:200]}")
        return images.digest(body)


def split(name: str) -> tuple[str, str, str]:
    """quay.io/libpod/testimage:20241011 -> (quay.io, libpod/testimage, 20241011)."""
    host, _, rest = name.partition("/")
    repository, _, tag = rest.rpartition(":")
    return host, repository, tag


ZERO_TAG_CREATED = 1640995200  # 2022-01-01: upstream's :00000004 is docker.io's busybox 1.34.1, not the test image


def stand_ins(settings: Settings) -> dict[str, images.Image | images.ImageIndex]:
    """Every image the suites pull, by the name they pull it under."""
    busybox = testdeps.busybox(settings)
    test = images.testimage(busybox)
    box = images.busybox_image(busybox, "quay.io/libpod/busybox:latest")
    zero = images.busybox_image(busybox, "quay.io/libpod/testimage:00000004", created=ZERO_TAG_CREATED)
    alpine = images.alpine_index({arch: testdeps.busybox(settings, arch) for arch in images.APK_ARCH})
    noarch = images.notmyarch((sources.tree(settings, "skopeo") / "systemtest" / "make-noarch-manifest").read_bytes())
    out = {test.name: test, zero.name: zero, box.name: box, alpine.name: alpine, noarch.name: noarch,
           "docker.io/library/busybox:latest": replace(box, name="docker.io/library/busybox:latest")}
    reg = images.registry_image(binary(settings), busybox)
    out[reg.name] = reg
    return out


def mirror(settings: Settings) -> tuple[Registry, Path]:
    """Start the mirror with every stand-in image; returns it and the registries.conf pointing there."""
    reg = Registry(settings, settings.work / "mirror").start()
    images_by_name = stand_ins(settings)
    for name, image in images_by_name.items():
        host, repository, tag = split(name)
        reg.push(repository, tag, image)
    conf = settings.work / "mirror" / "registries.conf"
    conf.write_text(registries_conf(reg.address))
    conf.chmod(0o644)
    say(f"local mirror on {reg.address} with {len(images_by_name)} images")
    return reg, conf


def registries_conf(address: str) -> str:
    """The bundle's registries.conf, plus mirrors for the two registries the suites pull from."""
    mirrors = "".join(f"""
[[registry]]
prefix = "{host}"
location = "{host}"

[[registry.mirror]]
location = "{address}"
insecure = true
""" for host in ("quay.io", "docker.io"))
    return ('unqualified-search-registries = ["docker.io", "quay.io"]\nshort-name-mode = "enforcing"\n' + mirrors)
