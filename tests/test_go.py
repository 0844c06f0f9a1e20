"""The Go builder: a small cgo program built static for both arches with the musl toolchain."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from rich.console import Console

from conftest import no_emulation
from staticbuild.arch import Arch
from staticbuild.builders import Go
from staticbuild.catalog import Catalog
from staticbuild.engine import Engine, Settings
from staticbuild.fetch import sha256_of
from staticbuild.lock import Lock, Pin, PinnedSource
from staticbuild.recipe import Recipe, Smoke, Upstream
from staticbuild.verify import verify_file

pytestmark = pytest.mark.build
FIXTURE = Path(__file__).parent / "fixtures" / "cgo-hello"

HELLO = Recipe(
    name="cgo-hello", summary="fixture", homepage="", license="MIT", upstream=(Upstream(url="file://"),),
    builder=Go(package=".", output="usr/bin/cgo-hello"),
    binaries=("usr/bin/cgo-hello",), smoke={"cgo-hello": Smoke(("--version",), "hello from cgo version {version}")},
)


@pytest.fixture(scope="module")
def hello(settings, catalog, lock, tmp_path_factory):
    work = tmp_path_factory.mktemp("cgo-hello")
    archive = work / "cgo-hello-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(FIXTURE, arcname="cgo-hello-1.0")
    pins = dict(lock.pins) | {"cgo-hello": Pin("1.0", (PinnedSource(f"file://{archive}", sha256_of(archive)),))}
    fixture_lock = Lock(work / "lock", pins)
    fixture_catalog = Catalog([*catalog, HELLO])
    engine = Engine(Settings(cache=settings.cache, lock=fixture_lock.path), fixture_catalog, fixture_lock,
                    Console(stderr=True))
    with no_emulation():
        results = engine.build(["cgo-hello"], list(Arch))
    engine.install(results, ["cgo-hello"], work / "out")
    return fixture_catalog, work / "out", settings.cache


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_cgo_program_is_static_with_mimalloc_and_runs(hello, arch):
    fixture_catalog, out, _ = hello
    report = verify_file(out / arch.name / "bin" / "cgo-hello", fixture_catalog, {"cgo-hello": "1.0"})
    assert report.ok, report.problems
    assert report.linkage == "static" and report.allocator == "mimalloc (active)"
    assert report.version == "hello from cgo version 1.0"


def test_go_caches_are_shared_between_arches(hello):
    _, _, cache = hello
    assert (cache / "shared" / "go-build").is_dir()
    assert not list((cache / "work").glob("*/cgo-hello")), "work trees are removed after success"
