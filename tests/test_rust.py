"""The Cargo builder: a small Rust program, std built for musl, static for both arches."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conftest import build_fixture
from staticbuild.arch import Arch
from staticbuild.builders import Cargo
from staticbuild.recipe import Recipe, Smoke, Upstream
from staticbuild.verify import run_binary, verify_file

pytestmark = pytest.mark.build
FIXTURE = Path(__file__).parent / "fixtures" / "rust-hello"

HELLO = Recipe(
    name="rust-hello", summary="fixture", homepage="", license="MIT", upstream=(Upstream(url="file://"),),
    builder=Cargo(bins=("rust-hello",), install_dir="usr/bin"),
    binaries=("usr/bin/rust-hello",), smoke={"rust-hello": Smoke(("--version",), "hello from rust version {version}")},
)


@pytest.fixture(scope="module")
def hello(settings, catalog, lock, tmp_path_factory):
    return build_fixture(HELLO, FIXTURE, settings, catalog, lock, tmp_path_factory.mktemp("rust"))


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_rust_program_is_static_musl_with_mimalloc(hello, arch):
    fixture_catalog, out = hello
    report = verify_file(out / arch.name / "bin" / "rust-hello", fixture_catalog, {"rust-hello": "1.0"})
    assert report.ok, report.problems
    assert report.linkage == "static" and report.allocator == "mimalloc (active)"


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_panics_unwind_through_the_compat_dl_find_object(hello, arch):
    _, out = hello
    proc = run_binary(out / arch.name / "bin" / "rust-hello", arch, (), {})
    assert proc.returncode == 0, proc.stderr
    assert "(10000 words, panic caught: true)" in proc.stdout


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_no_build_machine_paths_in_the_binary(hello, settings, arch):
    _, out = hello
    data = (out / arch.name / "bin" / "rust-hello").read_bytes()
    assert str(settings.cache).encode() not in data  # work, cargo target and cargo home are remapped


def test_a_second_rust_component_reuses_std_from_the_shared_target_dir(hello, settings, catalog, lock,
                                                                         tmp_path_factory):
    """cargo fingerprints the linker's path: a wrapper per component made each Rust build recompile std
    and every shared crate for the other (netavark and aardvark-dns)."""
    again = dataclasses.replace(HELLO, name="rust-hello-again")
    build_fixture(again, FIXTURE, settings, catalog, lock, tmp_path_factory.mktemp("rust-again"))
    for arch in Arch:
        log = next((settings.cache / "builds" / arch.name / again.name).glob("*/logs/*-build.log")).read_text()
        # Same package, same file times: with a stable linker path nothing is dirty (a per-component
        # path made every unit, std first, ConfigSettingsChanged).
        assert "Finished `release` profile" in log, log
        assert "Compiling core " not in log and "Compiling std " not in log, log
