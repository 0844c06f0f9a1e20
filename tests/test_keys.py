"""A cache hit must mean "the same inputs": each input that shapes the output changes the key, nothing else does."""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from conftest import make_tarball
from staticbuild import engine as engine_module
from staticbuild.arch import Arch
from staticbuild.builders import Script
from staticbuild.catalog import Catalog
from staticbuild.engine import BUILD_PATH, Engine, Settings, Target, code_digest
from staticbuild.fetch import sha256_of
from staticbuild.lock import Lock, Pin, PinnedSource
from staticbuild.recipe import Recipe, Smoke, ToolchainStage, Upstream

INSTALL = ("install", 'mkdir -p "$DESTDIR/usr/bin" && echo "echo $VERSION" > "$DESTDIR/usr/bin/app"')
A, B = "a" * 64, "b" * 64


def recipe(name: str = "app", **changes) -> Recipe:
    base = Recipe(name=name, summary="fixture", homepage="https://example.invalid", license="MIT",
                  upstream=(Upstream(url="https://example.invalid/{version}.tar.gz"),),
                  builder=Script(steps=(INSTALL,)), binaries=("usr/bin/app",), stage=ToolchainStage.host_cross,
                  depends=("lib",) if name == "app" else ())
    return replace(base, **changes)


def pin(**changes) -> Pin:
    return replace(Pin("1.0", (PinnedSource("https://example.invalid/1.0.tar.gz", A),), epoch=1_700_000_000), **changes)


def key(tmp_path: Path, app: Recipe | None = None, app_pin: Pin | None = None, lib: Recipe | None = None,
        arch: Arch = Arch.amd64, allocator: str = "mimalloc") -> str:
    recipes = [app or recipe(), lib or recipe("lib")]
    lock = Lock(tmp_path / "lock", {"app": app_pin or pin(), "lib": pin()})
    engine = Engine(Settings(cache=tmp_path, lock=lock.path, allocator=allocator), Catalog(recipes), lock,
                    Console(quiet=True))
    return engine.key(Target(recipes[0], arch))


CHANGES_THE_KEY = {
    "builder options": lambda p: key(p, app=recipe(builder=Script(steps=(INSTALL, ("more", "true"))))),
    "binaries": lambda p: key(p, app=recipe(binaries=("usr/bin/app", "usr/bin/other"))),
    "version": lambda p: key(p, app_pin=pin(version="1.1")),
    "epoch (SOURCE_DATE_EPOCH)": lambda p: key(p, app_pin=pin(epoch=1_800_000_000)),
    "the digest built from": lambda p: key(p, app_pin=pin(sources=(PinnedSource("https://example.invalid/x", B),))),
    "subdir": lambda p: key(p, app_pin=pin(sources=(PinnedSource("https://example.invalid/x", A, "sub"),))),
    "arch": lambda p: key(p, arch=Arch.arm64),
    "a dependency": lambda p: key(p, lib=recipe("lib", builder=Script(steps=(INSTALL, ("x", "true"))))),
    "a dependency's pin": lambda p: key_with_lib_pin(p, pin(version="2.0")),
}
KEEPS_THE_KEY = {
    "summary": lambda p: key(p, app=recipe(summary="another text")),
    "homepage and licence": lambda p: key(p, app=recipe(homepage="https://other.invalid", license="GPL-2.0")),
    "smoke test": lambda p: key(p, app=recipe(smoke={"app": Smoke(("--help",), "usage")})),
    "upstream templates": lambda p: key(p, app=recipe(upstream=(Upstream(url="https://other.invalid/{version}"),))),
    "another location with the same bytes": lambda p: key(p, app_pin=pin(sources=(
        PinnedSource("https://example.invalid/1.0.tar.gz", A), PinnedSource("debian:app/app_1.0.orig.tar.gz", A)))),
}


def key_with_lib_pin(tmp_path: Path, lib_pin: Pin) -> str:
    recipes = [recipe(), recipe("lib")]
    lock = Lock(tmp_path / "lock", {"app": pin(), "lib": lib_pin})
    engine = Engine(Settings(cache=tmp_path, lock=lock.path), Catalog(recipes), lock, Console(quiet=True))
    return engine.key(Target(recipes[0], Arch.amd64))


@pytest.mark.parametrize("what", CHANGES_THE_KEY)
def test_each_input_changes_the_key(tmp_path, what):
    assert CHANGES_THE_KEY[what](tmp_path) != key(tmp_path), what


@pytest.mark.parametrize("what", KEEPS_THE_KEY)
def test_what_does_not_shape_the_output_keeps_the_key(tmp_path, what):
    assert KEEPS_THE_KEY[what](tmp_path) == key(tmp_path), what


@pytest.mark.parametrize("part, changed", [
    ("host", {"gcc": "gcc 99"}),
    ("host", {"binutils": "GNU ld 9.99"}),
    ("host", {"autoconf": "autoconf 9.9"}),
    ("tools", "go version go9.9"),
    ("code", "another digest"),
])
def test_host_tools_and_build_code_are_in_the_key(tmp_path, monkeypatch, part, changed):
    before = key(tmp_path)
    if part == "host":
        real = engine_module.host_identity
        monkeypatch.setattr(engine_module, "host_identity", lambda arch: real(arch) | changed)
    elif part == "tools":
        monkeypatch.setattr(Script, "tool_identity", lambda self: changed, raising=False)
    else:
        monkeypatch.setattr(engine_module, "code_digest", lambda builder: changed)
    assert key(tmp_path) != before


def test_the_allocator_changes_target_keys_only(tmp_path):
    catalog, lock = Catalog.load(), Lock.load(Path(__file__).resolve().parents[1] / "staticbuild.lock")

    def real_key(allocator: str, name: str) -> str:
        engine = Engine(Settings(cache=tmp_path, lock=lock.path, allocator=allocator), catalog, lock, Console(quiet=True))
        return engine.key(Target(catalog.get(name), Arch.amd64))
    assert real_key("musl", "catatonit") != real_key("mimalloc", "catatonit")
    assert real_key("musl", "musl") == real_key("mimalloc", "musl"), "the toolchain's own parts are the same"


def test_code_digest_covers_the_build_path_and_not_the_cli(tmp_path):
    names = {Path(inspect.getfile(m)).name for m in BUILD_PATH}
    assert {"context.py", "toolchain.py", "arch.py", "extract.py", "recipe.py"} <= names
    assert not names & {"cli.py", "engine.py", "package.py", "publish.py"}, "editing these must not rebuild"
    module = tmp_path / "fake_build_module.py"
    module.write_text("FLAGS = '-O2'\n")
    spec = importlib.util.spec_from_file_location("fake_build_module", module)
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    before = code_digest.__wrapped__(Script, (fake,))
    module.write_text("FLAGS = '-O3'\n")
    assert code_digest.__wrapped__(Script, (fake,)) != before


def test_a_result_from_any_accepted_source_is_a_cache_hit(tmp_path):
    """Two digests pinned (say, upstream's tarball and Debian's orig, which differ): each build is kept under
    its own key, and a later run finds it whichever location is listed first or reachable."""
    first = make_tarball(tmp_path / "first.tar.gz", {"app-1/README": b"one"})
    second = make_tarball(tmp_path / "second.tar.gz", {"app-1/README": b"two"})
    sources = (PinnedSource(f"file://{first}", sha256_of(first)), PinnedSource(f"file://{second}", sha256_of(second)))
    solo = recipe(depends=())

    def build(order):
        lock = Lock(tmp_path / "lock", {"app": Pin("1.0", order)})
        engine = Engine(Settings(cache=tmp_path / "cache", lock=lock.path, jobs=1), Catalog([solo]), lock,
                        Console(quiet=True))
        [result] = engine.build(["app"], [Arch.amd64]).values()
        return result
    built = build(sources)
    assert not built.cached and built.manifest["source"]["sha256"] == sha256_of(first)
    first.unlink()  # the first location is gone; the result built from it still counts
    again = build(tuple(reversed(sources)))
    assert again.cached and again.dir == built.dir
