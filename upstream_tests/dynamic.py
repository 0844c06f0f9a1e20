"""The same versions built the ordinary way on this machine: dynamic, against glibc and Debian's
libraries, with the options and tags of our recipes. A failure that both builds show is the
machine's, not ours.

Everything installs into one tree laid out like `make install PREFIX=/usr/local`
(`bin/`, `libexec/podman/`); suites see it at /usr/local through a read-only overlay in a
private mount namespace (isolation.py), so nothing of it reaches the host. C components use
Debian's gcc and -dev packages, Rust ones the host's rustup cargo (glibc target), Go ones the
same Go as the static builds with cgo on and the system linker (no -static).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from staticbuild.builders.go import go_network_env
from staticbuild.lock import Lock

from .common import Settings, UpstreamTestError, need, run, say
from .sources import tree

# Our recipes' options (src/staticbuild/recipes/*.py), repeated here so that a change there is a
# visible change here: the comparison is only fair while they match.
CRUN_CONFIGURE = ("--enable-embedded-yajl", "--disable-systemd", "--disable-criu", "--disable-dl",
                  "--enable-caps", "--enable-seccomp")
PODMAN_TAGS = ("grpcnotrace", "seccomp", "containers_image_openpgp",
               "exclude_graphdriver_btrfs", "exclude_graphdriver_devicemapper")
BUILDAH_TAGS = ("seccomp", "containers_image_openpgp", "exclude_graphdriver_btrfs", "exclude_graphdriver_devicemapper")
SKOPEO_TAGS = ("exclude_graphdriver_btrfs", "containers_image_openpgp")
LIBPOD = "go.podman.io/podman/v6/libpod"
BUILDAH_HELPERS = {"imgtype": "imgtype/imgtype.go", "copy": "copy/copy.go", "tutorial": "tutorial/tutorial.go",
                   "inet": "inet/inet.go", "dumpspec": "dumpspec", "crash": "crash", "wait": "wait",
                   "passwd": "passwd/passwd.go", "grpcnoop": "rpc/noop/noop.go", "pipeloop": "pipeloop/pipeloop.go",
                   "serve": "serve/serve.go"}


@dataclass(frozen=True)
class Dyn:
    component: str
    installs: tuple[str, ...]  # paths inside the tree (relative), checked after the build
    build: Callable[[Settings, Path, Path, Path], None]  # (settings, source copy, tree, log)
    extra: tuple[str, ...] = ()  # recorded in the stamp: options that change the build
    source: str = ""  # the lock entry built from, when not `component` (test helpers)


def host_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def root(settings: Settings) -> Path:
    """The /usr/local tree of the dynamic builds."""
    return settings.dir("dynamic", settings.arch, "usr-local")


def ensure(settings: Settings, *components: str) -> Path:
    """Build each named component unless the tree holds this version already; returns the tree."""
    if settings.arch != host_arch():
        raise UpstreamTestError(f"dynamic builds are made for this machine's arch ({host_arch()}) only: {settings.arch} "
                                "runs the static smoke subset under qemu-user")
    for name in components:
        spec = BUILDS[name]
        src = tree(settings, spec.source or name)
        version = (src / ".complete").read_text().strip()
        stamp_key = hashlib.sha256(json.dumps([name, version, spec.installs, spec.extra]).encode()).hexdigest()[:16]
        stamp = settings.dir("dynamic", settings.arch, "stamps") / f"{name}-{version}"
        dest = root(settings)
        if stamp.exists() and stamp.read_text() == stamp_key and all((dest / p).exists() for p in spec.installs):
            continue
        log = settings.dir("logs") / f"dynamic-{name}-{version}.log"
        log.unlink(missing_ok=True)
        say(f"building {name} {version} the ordinary way (dynamic, glibc); log: {log}")
        work = settings.work / "dynamic" / settings.arch / "build" / f"{name}-{version}"
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(src, work, symlinks=True)
        spec.build(settings, work, dest, log)
        missing = [p for p in spec.installs if not (dest / p).exists()]
        if missing:
            raise UpstreamTestError(f"dynamic {name}: the build installed no {', '.join(missing)} (log: {log})")
        stamp.write_text(stamp_key)
    return root(settings)


def c_env() -> dict[str, str]:
    return {**os.environ, "CC": "gcc", "CFLAGS": "-O2 -g"}


def install(binary: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, dest)
    dest.chmod(0o755)


def autotools(configure_args: tuple[str, ...] = (), installs: dict[str, str] | None = None,
              targets: tuple[str, ...] = ()) -> Callable[[Settings, Path, Path, Path], None]:
    def build(settings: Settings, src: Path, dest: Path, log: Path) -> None:
        if not (src / "configure").exists():
            run(["autoreconf", "-fi"], log, cwd=src, env=c_env())
        run(["./configure", "--prefix=/usr/local", *configure_args], log, cwd=src, env=c_env())
        run(["make", f"-j{settings.jobs}", *targets], log, cwd=src, env=c_env())
        for built, where in (installs or {}).items():
            install(src / built, dest / where)
    return build


def crun(settings: Settings, src: Path, dest: Path, log: Path) -> None:
    autotools(CRUN_CONFIGURE, {"crun": "bin/crun"})(settings, src, dest, log)
    # crun's test init (`make tests/init`: linked -all-static, it runs inside empty root filesystems);
    # both runs of crun's suite use this one, only OCI_RUNTIME differs.
    run(["make", "tests/init"], log, cwd=src, env=c_env())
    install(src / "tests" / "init", dest / "share" / "crun-tests" / "init")


def conmon(settings: Settings, src: Path, dest: Path, log: Path) -> None:
    version = (src / ".complete").read_text().strip()
    run(["make", f"-j{settings.jobs}", "bin/conmon", "PREFIX=/usr/local", f"GIT_COMMIT=v{version}"], log,
        cwd=src, env=c_env())
    install(src / "bin" / "conmon", dest / "libexec/podman/conmon")


def passt(settings: Settings, src: Path, dest: Path, log: Path) -> None:
    version = (src / ".complete").read_text().strip()
    run(["make", f"-j{settings.jobs}", f"VERSION={version}"], log, cwd=src, env=c_env())
    for name in ("pasta", "passt", "pasta.avx2", "passt.avx2"):
        if (src / name).exists():
            install(src / name, dest / "bin" / name)


def cargo(bins: tuple[str, ...], examples: tuple[str, ...] = (), where: str = "libexec/podman",
          helpers: str = "share/netavark-tests") -> Callable[[Settings, Path, Path, Path], None]:
    """`cargo build --release --locked` with the host's rustup toolchain (x86_64-unknown-linux-gnu)."""
    def build(settings: Settings, src: Path, dest: Path, log: Path) -> None:
        cargo_bin = shutil.which("cargo", path=f"{Path.home()}/.cargo/bin")
        if not cargo_bin:
            raise UpstreamTestError("rustup's cargo is not in ~/.cargo/bin (the dynamic Rust builds use it)")
        target = settings.dir("dynamic", settings.arch, "cargo-target")
        env = {**os.environ, "CARGO_TARGET_DIR": str(target), "PATH": f"{Path(cargo_bin).parent}:{os.environ['PATH']}"}
        run([cargo_bin, "build", "--release", "--locked", *[f"--bin={b}" for b in bins],
             *[f"--example={e}" for e in examples], f"-j{settings.jobs}"], log, cwd=src, env=env)
        for b in bins:
            install(target / "release" / b, dest / (where if b == bins[0] else helpers) / b)
        for e in examples:
            install(target / "release" / "examples" / e, dest / helpers / "examples" / e)
    return build


def go_env(settings: Settings, cgo: bool = True) -> dict[str, str]:
    """Go with cgo through Debian's gcc, modules first from the staticbuild cache's download folder."""
    need("go", "gcc")
    network = go_network_env()  # the user's proxy settings, as the static builds use them
    downloads = settings.cache / "shared" / "go-mod" / "cache" / "download"
    if downloads.is_dir():  # what the static builds downloaded already, then the user's proxy
        network["GOPROXY"] = ",".join([f"file://{downloads}", network.get("GOPROXY") or "direct"])
    env = {**os.environ, **network, "GOTOOLCHAIN": "local",
           "GOCACHE": str(settings.dir("dynamic", "go-build")), "GOMODCACHE": str(settings.dir("dynamic", "go-mod")),
           "GOFLAGS": "-mod=mod -buildvcs=false", "CGO_ENABLED": "1" if cgo else "0", "CC": "gcc"}
    return env


def go(packages: dict[str, str], tags: tuple[str, ...], ldflags: tuple[str, ...] = ()) -> Callable:
    def build(settings: Settings, src: Path, dest: Path, log: Path) -> None:
        env = go_env(settings)
        epoch = str(Lock.load(settings.lock).pin(src.name.rsplit("-", 1)[0].removesuffix("-tests")).epoch or 0)
        flags = " ".join(f.format(epoch=epoch) for f in ldflags)
        for package, where in packages.items():
            run(["go", "build", "-tags", " ".join(tags), "-ldflags", flags, "-o", dest / where, package], log,
                cwd=src, env=env, timeout=3 * 3600)
    return build


BUILDS: dict[str, Dyn] = {d.component: d for d in (
    Dyn("crun", ("bin/crun", "share/crun-tests/init"), crun, CRUN_CONFIGURE),
    Dyn("conmon", ("libexec/podman/conmon",), conmon),
    Dyn("catatonit", ("libexec/podman/catatonit",), autotools(installs={"catatonit": "libexec/podman/catatonit"})),
    Dyn("passt", ("bin/pasta",), passt),
    Dyn("fuse-overlayfs", ("bin/fuse-overlayfs",), autotools(installs={"fuse-overlayfs": "bin/fuse-overlayfs"})),
    Dyn("netavark", ("libexec/podman/netavark", "share/netavark-tests/netavark-connection-tester",
                     "share/netavark-tests/examples/host-device-plugin"),
        cargo(("netavark", "netavark-connection-tester"), ("error-plugin", "host-device-plugin", "stderr-plugin"))),
    Dyn("aardvark-dns", ("libexec/podman/aardvark-dns",), cargo(("aardvark-dns",))),
    Dyn("podman", ("bin/podman", "libexec/podman/rootlessport"),
        go({"./cmd/podman": "bin/podman", "./cmd/rootlessport": "libexec/podman/rootlessport"}, PODMAN_TAGS,
           (f"-X {LIBPOD}/define.buildInfo={{epoch}}", f"-X {LIBPOD}/config._installPrefix=/usr/local",
            f"-X {LIBPOD}/config._etcDir=/etc")), PODMAN_TAGS),
    Dyn("skopeo", ("bin/skopeo",), go({"./cmd/skopeo": "bin/skopeo"}, SKOPEO_TAGS), SKOPEO_TAGS),
    Dyn("buildah", ("bin/buildah",), go({"./cmd/buildah": "bin/buildah"}, BUILDAH_TAGS,
                                        ("-X main.buildInfo={epoch}",)), BUILDAH_TAGS),
    # buildah's test helpers (its Makefile's bin/copy, bin/imgtype, ...): serve both runs alike
    Dyn("buildah-tests", tuple(f"share/buildah-tests/{h}" for h in BUILDAH_HELPERS),
        go({f"./tests/{path}": f"share/buildah-tests/{h}" for h, path in BUILDAH_HELPERS.items()}, BUILDAH_TAGS),
        BUILDAH_TAGS, source="buildah"),
)}

# What `podman` needs around it, as a distribution installs it (podman-full's helpers).
PODMAN_SET = ("crun", "conmon", "catatonit", "passt", "fuse-overlayfs", "netavark", "aardvark-dns", "podman")


def linkage(binary: Path) -> str:
    """`dynamic (libc.so.6, libseccomp.so.2)` or `static`: what readelf says (for the report)."""
    proc = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
    needed = [line.split("[", 1)[1].rstrip("]") for line in proc.stdout.splitlines() if "(NEEDED)" in line]
    return f"dynamic ({', '.join(needed)})" if needed else "static"
