"""Shared fixtures: one cold cache per test run, real builds done once, a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from staticbuild.arch import Arch
from staticbuild.bundle import ALL_CONFIG, BundleSpec
from staticbuild.catalog import Catalog
from staticbuild.engine import Engine, Settings
from staticbuild.lock import Lock
from staticbuild.package import package

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "staticbuild.lock"
SMALL_COMPONENTS = ("catatonit", "passt")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def lock() -> Lock:
    return Lock.load(LOCK)


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory) -> Path:
    """A cache shared by every real build of this run; cold unless STATICBUILD_TEST_CACHE names one."""
    given = os.environ.get("STATICBUILD_TEST_CACHE")
    return Path(given) if given else tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def settings(build_cache) -> Settings:
    return Settings(cache=build_cache, lock=LOCK)


BINFMT_AARCH64 = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


@contextmanager
def no_emulation() -> Iterator[None]:
    """Switch the kernel's qemu-aarch64 handler off, so a build that ran an arm64 program would fail."""
    enabled = BINFMT_AARCH64.exists() and BINFMT_AARCH64.read_text().startswith("enabled")
    if enabled:
        BINFMT_AARCH64.write_text("0")
    try:
        yield
    finally:
        if enabled:
            BINFMT_AARCH64.write_text("1")


def build_and_install(settings, catalog, lock, components, out: Path):
    """Build `components` for both arches with emulation impossible, and install them into `out`."""
    engine = Engine(settings, catalog, lock, Console(stderr=True))
    with no_emulation():
        results = engine.build(components, list(Arch))
    engine.install(results, components, out)
    return engine, results, out


# A bundle declared like the release bundles but made of the small components, for fast pipeline tests.
SMALL = BundleSpec("catatonit", None, bin=("catatonit",), config=ALL_CONFIG, helpers=("pasta", "pasta.avx2"))


def make_dist(settings, catalog, lock, out: Path, build_missing: bool = False) -> Path:
    """SMALL packaged for both arches into `out`, as `staticbuild package` does."""
    for arch in Arch:
        package(settings, catalog, lock, SMALL, arch, out, build_missing=build_missing, console=Console(stderr=True))
    return out


@pytest.fixture(scope="session")
def built(settings, catalog, lock, tmp_path_factory):
    """catatonit and passt (and the toolchain under them) built for both arches, once per run."""
    return build_and_install(settings, catalog, lock, SMALL_COMPONENTS, tmp_path_factory.mktemp("out"))


COSIGN_ENV = {"COSIGN_PASSWORD": "test-only"}


@pytest.fixture(scope="session")
def cosign_keys(tmp_path_factory) -> tuple[Path, Path]:
    """A throw-away cosign key pair (private, public); COSIGN_ENV holds its password."""
    if not shutil.which("cosign"):
        pytest.fail("cosign is not installed: `make setup` installs it")
    folder = tmp_path_factory.mktemp("keys")
    subprocess.run(["cosign", "generate-key-pair"], cwd=folder, env=os.environ | COSIGN_ENV, check=True,
                   capture_output=True)
    return folder / "cosign.key", folder / "cosign.pub"


def run_cli(*args: str, cache: Path | None = None, lock: Path = LOCK, **kwargs) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "staticbuild", "--lock", str(lock)]
    if cache:
        cmd += ["--cache", str(cache)]
    env = os.environ | {"COLUMNS": "200"} | kwargs.pop("env", {})
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, **kwargs)


def make_tarball(path: Path, members: dict[str, bytes | tuple[str, str]], mode: str = "w:gz") -> Path:
    """Write a tarball; a value (kind, target) with kind 'symlink' or 'hardlink' makes a link member."""
    with tarfile.open(path, mode) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if isinstance(content, tuple):
                kind, target = content
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = target
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A directory served on loopback: yields (root, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def build_fixture(recipe, source_dir: Path, settings, catalog, lock, work: Path):
    """Build a fixture recipe (its source a tarball of `source_dir`) for both arches with the real toolchain."""
    from staticbuild.catalog import Catalog
    from staticbuild.fetch import sha256_of
    from staticbuild.lock import Pin, PinnedSource

    archive = work / f"{recipe.name}-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source_dir, arcname=f"{recipe.name}-1.0")
    pins = dict(lock.pins) | {recipe.name: Pin("1.0", (PinnedSource(f"file://{archive}", sha256_of(archive)),))}
    fixture_lock = Lock(work / "lock", pins)
    fixture_catalog = Catalog([*catalog, recipe])
    engine = Engine(Settings(cache=settings.cache, lock=fixture_lock.path), fixture_catalog, fixture_lock,
                    Console(stderr=True))
    with no_emulation():
        results = engine.build([recipe.name], list(Arch))
    engine.install(results, [recipe.name], work / "out")
    return fixture_catalog, work / "out"


# -- the end-to-end suites (test_e2e*.py) share one set of bundles and one image ------------
APPLETS = ("sh", "echo", "cat", "sleep", "wget", "httpd", "hostname", "ip", "ls", "id")


@pytest.fixture(scope="session")
def e2e_dist(settings, catalog, lock, tmp_path_factory) -> Path:
    """podman-full and skopeo for both arches, buildah for amd64, packaged from the test cache."""
    from staticbuild.bundle import find_bundle
    from staticbuild.package import package

    out = tmp_path_factory.mktemp("dist")
    with no_emulation():
        for tool, variant, arches in (("podman", "full", list(Arch)), ("skopeo", None, list(Arch)),
                                      ("buildah", None, [Arch.amd64])):
            for arch in arches:
                package(settings, catalog, lock, find_bundle(tool, variant), arch, out, console=Console(stderr=True))
    return out


@pytest.fixture(scope="session")
def e2e_rootfs(tmp_path_factory) -> Path:
    """A static busybox root file system as a tarball, for `podman import`."""
    import shutil

    from oci_helpers import BUSYBOX

    if not BUSYBOX.exists():
        pytest.fail("busybox-static is missing: `make setup` installs it")
    root = tmp_path_factory.mktemp("rootfs")
    tree = root / "tree"
    for d in ("bin", "www", "etc", "tmp"):
        (tree / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, tree / "bin" / "busybox")
    for applet in APPLETS:
        (tree / "bin" / applet).symlink_to("busybox")
    (tree / "www" / "index.html").write_text("hello-from-httpd\n")
    with tarfile.open(root / "rootfs.tar", "w") as tar:
        tar.add(tree, arcname=".")
    return root / "rootfs.tar"
