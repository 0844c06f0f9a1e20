"""The Go builder: a small cgo program built static for both arches with the musl toolchain."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import build_fixture
from staticbuild.arch import Arch
from staticbuild.builders import DepPatch, Go
from staticbuild.recipe import Recipe, Smoke, Upstream
from staticbuild.verify import verify_file

pytestmark = pytest.mark.build
FIXTURE = Path(__file__).parent / "fixtures" / "cgo-hello"

HELLO = Recipe(
    name="cgo-hello", summary="fixture", homepage="", license="MIT", upstream=(Upstream(url="file://"),),
    builder=Go(packages=((".", "usr/bin/cgo-hello"),),
               dep_patches=(DepPatch("rsc.io/quote/v4", str(FIXTURE.parent / "cgo-hello-quote.patch")),)),
    binaries=("usr/bin/cgo-hello",), smoke={"cgo-hello": Smoke(("--version",), "hello from cgo version {version}")},
)


@pytest.fixture(scope="module")
def hello(settings, catalog, lock, tmp_path_factory):
    fixture_catalog, out = build_fixture(HELLO, FIXTURE, settings, catalog, lock, tmp_path_factory.mktemp("cgo"))
    return fixture_catalog, out, settings.cache


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


def test_dependency_patch_applies_to_a_copy_not_the_module_cache(hello):
    _, out, cache = hello
    proc = subprocess.run([out / "amd64" / "bin" / "cgo-hello", "--patched"], capture_output=True, text=True)
    assert proc.stdout.startswith("patched "), proc.stderr  # quote.Patched exists only in the patch
    pristine = next((cache / "shared" / "go-mod" / "rsc.io" / "quote").glob("v4@*")) / "quote.go"
    assert "Patched" not in pristine.read_text()
    info = subprocess.run(["go", "version", "-m", out / "arm64" / "bin" / "cgo-hello"], capture_output=True,
                          text=True, check=True).stdout
    assert "=>\t../build/patched-modules/rsc.io/quote/v4" in info  # relative: no build-machine path
    assert str(cache) not in info
