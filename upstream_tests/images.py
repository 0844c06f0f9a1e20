"""The images the suites expect, made here from what this machine has, under the names the
suites use, written as OCI archives (for podman's image cache) and pushed to the local mirror.

podman's test image is built from its recipe in test/system/build-testimage: upstream starts
from alpine 3.20.3 and adds busybox-extras, iproute2 and socat. No alpine image can be had
here, so the same recipe is followed on a static busybox (testdeps.busybox). The
differences, all written down in docs/UPSTREAM-TESTS.md (DIFFERENCES below):
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .common import UpstreamTestError, need

DIFFERENCES = (
    "userland: busybox 1.35 (the source of Debian's busybox-static) built here with upstream's default "
    "configuration, static, all its applets linked in /bin, instead of alpine 3.20.3's busybox 1.36 and musl "
    "(Debian's own build lacks `printenv`, `adduser` and netcat's `-n`/`-v`, which the suites use); "
    "`/bin/busybox-extras` is a two-line script that runs busybox (alpine ships busybox-extras as a second "
    "busybox build with httpd and friends)",
    "`ip` (iproute2, for JSON output) and `socat` are Debian bookworm's dynamic binaries, copied with the glibc "
    "libraries they load (`ldd`), instead of alpine's packages",
    "`/etc/passwd`, `/etc/group` carry alpine's default accounts; `/etc/os-release` says `ID=alpine` with busybox "
    "as the name, `/etc/alpine-release` is 3.20.3 (a 070-build test copies it); no `apk` and no apk database",
    "two layers as upstream's (its recipe squashes two builds): the root file system with the same files in "
    "/home/podman (testimage-id with mtime @1600000000, healthcheck, pause, bytecheck), then the layer WORKDIR "
    "makes; CMD and labels; created at the tag's date",
    "amd64 only: the test image upstream keeps for amd64, arm64, ppc64le and s390x is one image here; its "
    "':00000004' image (upstream: docker.io's busybox 1.34.1 for those arches) is the busybox stand-in, one arch, "
    "created on another date (another image ID, as upstream's)",
    "the registry image (quay.io/libpod/registry:2.8.2, a copy of docker.io's registry 2.8.2) is Debian's "
    "docker-registry 2.8.2 binary with its libraries on the busybox userland, with the registry image's default "
    "config.yml and an /entrypoint.sh that does what the real one does",
    "quay.io/libpod/alpine:latest and quay.io/libpod/busybox:latest are the same busybox with two images' files "
    "(alpine's with its /etc/os-release, /etc/alpine-release and /etc/apk/arch, busybox's without), Docker schema "
    "2 media types as upstream's; the test image is OCI. alpine is a manifest list, as upstream's, of amd64, "
    "arm64 and s390x images (the same busybox source cross-built with Debian's gcc for each; buildah's tests "
    "pull the other arches and read their /etc/apk/arch); upstream's also has 386, arm/v6, arm/v7, ppc64le and "
    "riscv64",
    "quay.io/libpod/notmyarch:20210121 is made as skopeo's make-noarch-manifest makes it (a README and the "
    "script, in a list whose one entry is amigaos/mc68000 variant 1000), the README dated the tag's day",
    "not made: quay.io/libpod/alpine_labels, fedora:31, quay.io/fedora/fedora, the systemd image: tests that read "
    "those images' own labels and files fail both ways (*environment*: no network)",
)

ALPINE_PASSWD = """root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""
ALPINE_GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin
adm:x:4:root,daemon
tty:x:5:
disk:x:6:root
lp:x:7:lp
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
cron:x:16:cron
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
tape:x:26:root
video:x:27:root
netdev:x:28:
kvm:x:34:kvm
games:x:35:
shadow:x:42:
www-data:x:82:
users:x:100:games
ntp:x:123:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
"""
PAUSE = """#!/bin/sh
#
# Trivial little pause script, used in one of the pod tests
#
trap 'exit 0' SIGTERM
echo Confirmed: testimage pause invoked as $0
while :; do
    sleep 0.1
done
"""
HEALTHCHECK = """#!/bin/sh

if test -e /uh-oh || test -e /uh-oh-only-once; then
    echo "Uh-oh on stdout!"
    echo "Uh-oh on stderr!" >&2

    # Special file causes us to fail healthcheck only once
    rm -f /uh-oh-only-once

    exit 1
else
    echo "Life is Good on stdout"
    echo "Life is Good on stderr" >&2
    exit 0
fi
"""
BYTECHECK = """#!/bin/sh
#
# Helper script for comparing bytestream data. Shows data size,
# md5sum, and first/last eight bytes. Because plain md5sum is
# not very helpful in identifying where things went wrong.
#
# Reads stream from stdin, writes summary to stdout
#
tmpfile=`mktemp bytecheck.XXXXXXX`

cat >$tmpfile

size=`stat -c %s $tmpfile`
hash=`md5sum <$tmpfile`
odl=`head -c8 $tmpfile | od -An -tx1`
odr=`tail -c8 $tmpfile | od -An -tx1`

rm -f $tmpfile

echo size=$size hash=$hash head=$odl tail=$odr
"""
REGISTRY_CONFIG = """version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""
# what the registry image's /entrypoint.sh does: a config file alone means `registry serve FILE`, a
# registry subcommand or option is given to the registry, anything else is run as it is
REGISTRY_ENTRYPOINT = """#!/bin/sh
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
"""
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Tree:
    """Files of a root file system, in order; written as one deterministic tar layer."""

    entries: dict[str, tuple[str, bytes | str, int, int | None]] = field(default_factory=dict)  # path -> (kind, data, mode, mtime)

    def dir(self, path: str, mode: int = 0o755) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), ("dir", b"", mode if i == len(parts) else 0o755, None))

    def file(self, path: str, data: bytes | str, mode: int = 0o644, mtime: int | None = None) -> None:
        self.dir(path.rsplit("/", 1)[0]) if "/" in path.strip("/") else None
        self.entries[path.strip("/")] = ("file", data.encode() if isinstance(data, str) else data, mode, mtime)

    def link(self, path: str, target: str) -> None:
        self.dir(path.rsplit("/", 1)[0]) if "/" in path.strip("/") else None
        self.entries.setdefault(path.strip("/"), ("symlink", target, 0o777, None))

    def copy_host(self, host: str | Path, path: str | None = None) -> None:
        host = Path(host)
        self.file(path or str(host), host.read_bytes(), host.stat().st_mode & 0o777)

    def layer(self, mtime: int) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, data, mode, own_mtime = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mode, info.mtime, info.uid, info.gid = mode, own_mtime if own_mtime is not None else mtime, 0, 0
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, data
                    tar.addfile(info)
                else:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def with_libraries(tree: Tree, binary: str, dest: str) -> None:
    """A dynamic host binary and every library `ldd` says it loads, at the same paths."""
    tree.copy_host(binary, dest)
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            real = os.path.realpath(path)
            tree.file(real, Path(real).read_bytes(), 0o755)
            if real != path:
                tree.link(path, real)


def busybox_tree(busybox: Path, with_extras: bool = True, applets_of: Path | None = None) -> Tree:
    """A root file system of one static busybox (testdeps.busybox) with every applet linked in /bin.
    `applets_of`: the host's build of the same configuration, asked for the applet list when
    `busybox` is another arch's binary (which cannot run here)."""
    need("ldd")
    tree = Tree()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "lib", "etc", "root", "var/tmp",
              "var/lib", "home", "media", "mnt", "opt", "srv", "run", "proc", "sys", "dev"):
        tree.dir(d)
    tree.dir("tmp", 0o1777)
    tree.dir("root", 0o700)
    tree.copy_host(busybox, "bin/busybox")
    applets = subprocess.run([applets_of or busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        if applet not in ("busybox",):
            tree.link(f"bin/{applet}", "busybox")
    tree.file("etc/passwd", ALPINE_PASSWD)
    tree.file("etc/group", ALPINE_GROUP)
    tree.file("etc/shadow", "".join(f"{line.split(':')[0]}:!::0:::::\n" for line in ALPINE_PASSWD.splitlines()), 0o640)
    tree.file("etc/os-release", 'NAME="Alpine Linux (busybox stand-in)"\nID=alpine\nVERSION_ID=3.20.3\n'
              'PRETTY_NAME="busybox-static stand-in for Alpine Linux v3.20"\n')
    tree.file("etc/alpine-release", "3.20.3\n")
    tree.file("etc/hostname", "localhost\n")  # as alpine's base (buildah's `run --no-hostname` reads it)
    tree.link("etc/mtab", "../proc/mounts")  # as alpine's base (a podman test removes it)
    if with_extras:
        tree.file("bin/busybox-extras", '#!/bin/sh\nexec /bin/busybox "$@"\n', 0o755)
        with_libraries(tree, "/usr/bin/socat" if Path("/usr/bin/socat").exists() else shutil.which("socat"),
                       "usr/bin/socat")
        ip = "/usr/bin/ip" if Path("/usr/bin/ip").exists() else "/bin/ip"
        with_libraries(tree, ip, "sbin/ip")
        tree.entries.pop("bin/ip", None)  # iproute2's ip, not busybox's (JSON output)
        tree.link("bin/ip", "/sbin/ip")
    return tree


@dataclass(frozen=True)
class Image:
    name: str  # e.g. quay.io/libpod/testimage:20241011
    layers: tuple[bytes, ...]  # uncompressed tars, bottom first
    config: dict  # the image config's "config" part (Env, Cmd, WorkingDir, Labels)
    created: int  # seconds since the epoch
    arch: str = "amd64"
    history: tuple[str, ...] = ()  # the first len(layers) steps made the layers, the rest only settings
    os: str = "linux"
    variant: str = ""
    docker: bool = False  # Docker schema 2 media types (as quay.io's and Docker Hub's busybox), else OCI


@dataclass(frozen=True)
class ImageIndex:
    """One name for several arches' images (a Docker manifest list / OCI index), as upstream's alpine."""

    name: str
    images: tuple[Image, ...]

    @property
    def docker(self) -> bool:
        return self.images[0].docker


OCI_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
             "application/vnd.oci.image.layer.v1.tar+gzip")
DOCKER_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip")


def rfc3339(t: int) -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


INDEX_TYPES = {True: "application/vnd.docker.distribution.manifest.list.v2+json",
               False: "application/vnd.oci.image.index.v1+json"}


def blobs(image: Image) -> tuple[dict, list[tuple[str, bytes]]]:
    """The manifest and every blob (config, gzip'd layers) of an image."""
    compressed = [gzip.compress(layer, mtime=0) for layer in image.layers]
    steps = image.history or tuple(f"upstream_tests/images.py: layer {i + 1}" for i in range(len(image.layers)))
    when = rfc3339(image.created)
    config = {"created": when, **platform(image), "config": image.config,
              "rootfs": {"type": "layers", "diff_ids": [digest(layer) for layer in image.layers]},
              "history": [{"created": when, "created_by": step, **({"empty_layer": True} if i >= len(image.layers)
                                                                    else {})} for i, step in enumerate(steps)]}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    types = DOCKER_TYPES if image.docker else OCI_TYPES
    manifest = {"schemaVersion": 2, "mediaType": types[0],
                "config": {"mediaType": types[1], "digest": digest(config_bytes), "size": len(config_bytes)},
                "layers": [{"mediaType": types[2], "digest": digest(c), "size": len(c)} for c in compressed]}
    return manifest, [(digest(config_bytes), config_bytes), *((digest(c), c) for c in compressed)]


def manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True).encode()


def platform(image: Image) -> dict[str, str]:
    return {"architecture": image.arch, "os": image.os, **({"variant": image.variant} if image.variant else {})}


def index(images: ImageIndex) -> tuple[dict, list[tuple[dict, list[tuple[str, bytes]]]]]:
    """The manifest list and, per arch, the manifest and blobs it points at."""
    parts = [blobs(image) for image in images.images]
    bodies = [manifest_bytes(manifest) for manifest, _ in parts]
    entries = [{"mediaType": manifest["mediaType"], "digest": digest(body), "size": len(body), "platform": platform(image)}
               for image, (manifest, _), body in zip(images.images, parts, bodies)]
    return {"schemaVersion": 2, "mediaType": INDEX_TYPES[images.docker], "manifests": entries}, parts


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_archive(image: Image, dest: Path) -> Path:
    """An `oci-archive:` tarball of the image, tagged with its name (podman's image cache format)."""
    manifest, parts = blobs(image)
    body = manifest_bytes(manifest)
    layout_index = {"schemaVersion": 2, "mediaType": INDEX_TYPES[False],
                    "manifests": [{"mediaType": manifest["mediaType"], "digest": digest(body), "size": len(body),
                                   "annotations": {"org.opencontainers.image.ref.name": image.name.rsplit(":", 1)[1]}}]}
    files = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
             ("index.json", json.dumps(layout_index, sort_keys=True).encode()),
             *((f"blobs/sha256/{d.split(':')[1]}", b) for d, b in [*parts, (digest(body), body)])]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, dest)
    return dest


TESTIMAGE_TAG = "20241011"
TESTIMAGE_CREATED = 1728604800  # 2024-10-11T00:00:00Z, the tag's date


def testimage(busybox: Path, name: str = f"quay.io/libpod/testimage:{TESTIMAGE_TAG}") -> Image:
    """Two layers, as upstream's: its recipe squashes the alpine build into one and the build that adds
    labels, WORKDIR and CMD into a second (070-build's `image tree` test reads that second layer's line)."""
    tree = busybox_tree(busybox)
    tree.dir("home/podman")
    tree.file("home/podman/testimage-id", TESTIMAGE_TAG + "\n", 0o644, mtime=1600000000)
    tree.file("home/podman/pause", PAUSE, 0o755)
    tree.file("home/podman/healthcheck", HEALTHCHECK, 0o755)
    tree.file("home/podman/bytecheck", BYTECHECK, 0o755)
    config = {"Env": [PATH_ENV], "Cmd": ["/bin/echo", "This container is intended for podman CI testing"],
              "WorkingDir": "/home/podman",
              "Labels": {"created_by": "test/system/build-testimage",  # what the recipe sets (its git path)
                         "created_at": rfc3339(TESTIMAGE_CREATED)}}
    workdir = Tree()
    workdir.dir("home/podman")
    return Image(name, (tree.layer(TESTIMAGE_CREATED), workdir.layer(TESTIMAGE_CREATED)), config, TESTIMAGE_CREATED,
                 history=("busybox root file system (stand-in for alpine 3.20.3 + busybox-extras, "
                          "iproute2, socat) and ADD testimage-id healthcheck pause bytecheck /home/podman/",
                          "WORKDIR /home/podman",
                          "LABEL created_by=test/system/build-testimage", f"LABEL created_at={rfc3339(TESTIMAGE_CREATED)}",
                          'CMD ["/bin/echo", "This container is intended for podman CI testing"]'))


APK_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "s390x": "s390x"}  # alpine's names, in /etc/apk/arch


def busybox_image(busybox: Path, name: str, alpine: bool = False, arch: str = "amd64",
                  created: int = TESTIMAGE_CREATED, applets_of: Path | None = None) -> Image:
    """busybox or (alpine=True) alpine under `name`: the same busybox, but two images, as upstream's are
    (buildah's images tests count them apart). busybox's has no alpine files, alpine's has apk's arch.
    `busybox` is ARCH's build (another arch's needs `applets_of`, see busybox_tree)."""
    tree = busybox_tree(busybox, with_extras=False, applets_of=applets_of)
    if alpine:
        tree.file("etc/apk/arch", APK_ARCH[arch] + "\n")
    else:
        for path in ("etc/os-release", "etc/alpine-release"):
            tree.entries.pop(path)
    return Image(name, (tree.layer(created),), {"Env": [PATH_ENV], "Cmd": ["sh"]}, created, arch=arch, docker=True)


def alpine_index(busyboxes: dict[str, Path], name: str = "quay.io/libpod/alpine:latest") -> ImageIndex:
    """alpine as upstream publishes it, a manifest list; one image per arch of `busyboxes` (amd64 first)."""
    host = busyboxes["amd64"]
    return ImageIndex(name, tuple(busybox_image(path, name, alpine=True, arch=arch, applets_of=host)
                                  for arch, path in busyboxes.items()))


NOTMYARCH_CREATED = 1611187200  # 2021-01-21, the tag's date
NOTMYARCH_README = """This is a dummy image intended solely for skopeo testing.
This image was created 2021-01-21 (stand-in made by staticbuild's upstream_tests/images.py)
The script used to create this image is available as make-noarch-manifest
"""


def notmyarch(recipe: bytes, name: str = "quay.io/libpod/notmyarch:20210121") -> ImageIndex:
    """skopeo's systemtest/make-noarch-manifest, followed: a scratch image holding a README and the script,
    alone in a manifest list for an os and arch no one runs (amigaos/mc68000, variant 1000). A Docker list,
    as quay.io serves it: the test expects skopeo's "no image found in manifest list" wording."""
    tree = Tree()
    tree.file("README", NOTMYARCH_README)
    tree.file("make-noarch-manifest", recipe, 0o755)
    image = Image(name, (tree.layer(NOTMYARCH_CREATED),), {}, NOTMYARCH_CREATED, arch="mc68000", os="amigaos",
                  variant="1000", history=("buildah copy README make-noarch-manifest /",), docker=True)
    return ImageIndex(name, (image,))


def registry_image(registry_binary: Path, busybox: Path, name: str = "quay.io/libpod/registry:2.8.2") -> Image:
    # on a busybox userland as the real image (alpine), because buildah's suite starts it with an explicit
    # `/entrypoint.sh CONFIG` and podman's with the image's own entrypoint: both must work
    tree = busybox_tree(busybox, with_extras=False)
    for d in ("var/lib/registry", "auth", "certs"):
        tree.dir(d)
    with_libraries(tree, str(registry_binary), "bin/registry")
    tree.file("etc/docker/registry/config.yml", REGISTRY_CONFIG)
    tree.file("entrypoint.sh", REGISTRY_ENTRYPOINT, 0o755)
    config = {"Env": [PATH_ENV], "Entrypoint": ["/entrypoint.sh"], "Cmd": ["/etc/docker/registry/config.yml"],
              "ExposedPorts": {"5000/tcp": {}}, "Volumes": {"/var/lib/registry": {}}}
    return Image(name, (tree.layer(TESTIMAGE_CREATED),), config, TESTIMAGE_CREATED, docker=True)


def cache_name(name: str) -> str:
    """podman's helpers.bash `_prefetch` cache file name: / and : become --."""
    return name.replace("/", "--").replace(":", "--") + ".tar"


def check_name(name: str) -> None:
    if ":" not in name.rsplit("/", 1)[-1]:
        raise UpstreamTestError(f"image name without a tag: {name}")
