"""The engine: order, cache keys, and that failed or interrupted builds never count as done."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from conftest import make_tarball
from staticbuild.arch import Arch
from staticbuild.builders import Script
from staticbuild.catalog import Catalog
from staticbuild.engine import Engine, Settings, Target
from staticbuild.errors import BuildError, StaticbuildError
from staticbuild.fetch import sha256_of
from staticbuild.lock import Lock, Pin, PinnedSource
from staticbuild.recipe import Recipe, ToolchainStage, Upstream

SRC = Upstream(url="file://fixture")


def fixture_recipe(name: str, *steps: tuple[str, str], depends=(), binaries=("usr/bin/hello",)) -> Recipe:
    return Recipe(name=name, summary="fixture", homepage="", license="MIT", upstream=(SRC,),
                  builder=Script(steps=steps), depends=depends, binaries=binaries,
                  stage=ToolchainStage.host_cross)


INSTALL = ("install", 'mkdir -p "$DESTDIR/usr/bin" && printf "#!/bin/sh\\necho hi\\n" > "$DESTDIR/usr/bin/hello"')


@pytest.fixture
def fixture_engine(tmp_path):
    archive = make_tarball(tmp_path / "src.tar.gz", {"fx-1/README": b"fixture"})
    pin = Pin("1.0", (PinnedSource(f"file://{archive}", sha256_of(archive)),))

    def make(*recipes: Recipe) -> Engine:
        lock = Lock(tmp_path / "lock", {r.name: pin for r in recipes})
        return Engine(Settings(cache=tmp_path / "cache", lock=lock.path, jobs=1), Catalog(list(recipes)), lock,
                      Console(stderr=True, quiet=True))
    return make


def test_plan_puts_the_toolchain_chain_before_components(catalog, lock, tmp_path):
    engine = Engine(Settings(cache=tmp_path, lock=lock.path), catalog, lock)
    order = [t.recipe.name for t in engine.plan(["passt"], [Arch.arm64])]
    assert order.index("musl") < order.index("mimalloc") < order.index("toolchain") < order.index("passt")
    assert order.count("musl") == 1


def test_keys_change_with_a_dependency_and_only_then(fixture_engine):
    lib = fixture_recipe("lib", INSTALL)
    app = fixture_recipe("app", INSTALL, depends=("lib",))
    key = fixture_engine(lib, app).key(Target(app, Arch.amd64))
    assert fixture_engine(lib, app).key(Target(app, Arch.amd64)) == key, "stable"
    lib2 = replace(lib, builder=Script(steps=(INSTALL, ("extra", "true"))))
    assert fixture_engine(lib2, app).key(Target(app, Arch.amd64)) != key, "dependency changed"
    assert fixture_engine(lib, app).key(Target(app, Arch.arm64)) != key, "other arch"


def test_second_build_is_a_cache_hit(fixture_engine):
    engine = fixture_engine(fixture_recipe("hello", INSTALL))
    first = engine.build(["hello"], [Arch.amd64])
    second = fixture_engine(fixture_recipe("hello", INSTALL)).build(["hello"], [Arch.amd64])
    [r1], [r2] = first.values(), second.values()
    assert not r1.cached and r2.cached and r1.dir == r2.dir
    manifest = json.loads((r2.dir / "build.json").read_text())
    assert manifest["version"] == "1.0" and [s["step"] for s in manifest["steps"]] == ["install"]


def test_failed_step_reports_step_tail_and_log_and_leaves_no_result(fixture_engine):
    failing = ("compile", 'echo "compiling widget.c"; echo "widget.c:3: error: boom" >&2; exit 3')
    engine = fixture_engine(fixture_recipe("broken", INSTALL, failing))
    with pytest.raises(BuildError) as info:
        engine.build(["broken"], [Arch.amd64])
    err = info.value
    assert err.step == "compile" and "widget.c:3: error: boom" in err.tail
    assert Path(err.log).exists() and "failed" in err.log and "boom" in Path(err.log).read_text()
    target = Target(engine.catalog.get("broken"), Arch.amd64)
    assert not engine.result_dir(target).exists()
    assert not list(engine.result_dir(target).parent.glob(".tmp-*"))


def test_missing_promised_binary_is_an_error(fixture_engine):
    engine = fixture_engine(fixture_recipe("liar", ("nothing", "true")))
    with pytest.raises(StaticbuildError, match="did not install usr/bin/hello"):
        engine.build(["liar"], [Arch.amd64])
    assert not engine.result_dir(Target(engine.catalog.get("liar"), Arch.amd64)).exists()


INTERRUPT_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from rich.console import Console
    from staticbuild.arch import Arch
    from staticbuild.builders import Script
    from staticbuild.catalog import Catalog
    from staticbuild.engine import Engine, Settings
    from staticbuild.lock import Lock, Pin, PinnedSource
    from staticbuild.cli import _terminate
    import signal
    from test_engine import fixture_recipe
    signal.signal(signal.SIGTERM, _terminate)
    recipe = fixture_recipe("slow", ("wait", "echo started > {marker}; sleep 60"))
    lock = Lock(Path({lock!r}), {{"slow": Pin("1.0", (PinnedSource({url!r}, {digest!r}),))}})
    engine = Engine(Settings(cache=Path({cache!r}), lock=lock.path), Catalog([recipe]), lock, Console(quiet=True))
    try:
        engine.build(["slow"], [Arch.amd64])
    except KeyboardInterrupt:
        sys.exit(130)
""")


def test_interrupted_build_stops_its_step_and_leaves_no_result(tmp_path):
    archive = make_tarball(tmp_path / "src.tar.gz", {"fx-1/README": b"fixture"})
    marker, cache = tmp_path / "started", tmp_path / "cache"
    script = INTERRUPT_SCRIPT.format(tests=str(Path(__file__).parent), marker=marker, lock=str(tmp_path / "lock"),
                                     url=f"file://{archive}", digest=sha256_of(archive), cache=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the slow step never started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    builds = cache / "builds" / "amd64" / "slow"
    assert list(builds.iterdir()) == [], "neither a result nor a .tmp- folder is left"
    sleepers = subprocess.run(["pgrep", "-f", f"echo started > {marker}"], capture_output=True, text=True)
    assert sleepers.stdout == "", "the step's processes were stopped"
    assert (cache / "failed" / "amd64" / "slow" / "logs").is_dir(), "its logs are kept for a look"


def test_build_steps_get_the_network_settings_and_nothing_else(fixture_engine, monkeypatch):
    monkeypatch.setenv("GOPROXY", "https://goproxy.example.invalid")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.invalid:3128")
    monkeypatch.setenv("CARGO_REGISTRIES_MIRROR_INDEX", "sparse+https://crates.example.invalid/")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_must_not_leak")
    monkeypatch.setenv("CFLAGS", "-O0 -g")  # a user's flags must not change a build behind the key's back
    dump = ("install", 'mkdir -p "$DESTDIR/usr/bin" && env > "$DESTDIR/env" && touch "$DESTDIR/usr/bin/hello"')
    engine = fixture_engine(fixture_recipe("envdump", dump))
    [result] = engine.build(["envdump"], [Arch.amd64]).values()
    env = dict(line.split("=", 1) for line in (result.dest / "env").read_text().splitlines() if "=" in line)
    assert env["GOPROXY"] == "https://goproxy.example.invalid"
    assert env["HTTPS_PROXY"] == "http://proxy.example.invalid:3128"
    assert env["CARGO_REGISTRIES_MIRROR_INDEX"] == "sparse+https://crates.example.invalid/"
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert "GITHUB_TOKEN" not in env and env.get("CFLAGS") != "-O0 -g"
    assert engine.key(Target(engine.catalog.get("envdump"), Arch.amd64)) == result.dir.name, \
        "network settings are not part of the key"


def test_progress_counts_the_plan_and_verbose_streams_the_log(tmp_path):
    archive = make_tarball(tmp_path / "src.tar.gz", {"fx-1/README": b"fixture"})
    pin = Pin("1.0", (PinnedSource(f"file://{archive}", sha256_of(archive)),))
    loud = fixture_recipe("loud", ("say", 'echo "a line from the step"'), INSTALL)
    lib = fixture_recipe("quiet", INSTALL)
    app = replace(loud, depends=("quiet",))
    lock = Lock(tmp_path / "lock", {"loud": pin, "quiet": pin})
    from io import StringIO
    out = StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    engine = Engine(Settings(cache=tmp_path / "cache", lock=lock.path, jobs=1, verbose=True), Catalog([app, lib]),
                    lock, console)
    engine.build(["loud"], [Arch.amd64])
    text = out.getvalue()
    assert "2 builds, 0 cached, 2 to build" in text
    assert "[1 of 2] building quiet/amd64" in text and "[2 of 2] building loud/amd64" in text
    assert "loud/amd64│ a line from the step" in text
    changed = replace(app, builder=Script(steps=(*app.builder.steps, ("more", "true"))))
    out.truncate(0)
    out.seek(0)
    Engine(Settings(cache=tmp_path / "cache", lock=lock.path, jobs=1), Catalog([changed, lib]), lock,
           console).build(["loud"], [Arch.amd64])
    text = out.getvalue()
    assert "2 builds, 1 cached, 1 to build, about " in text, "estimated from the earlier build.json"
    assert "[2 of 2] building loud/amd64 1.0 (last time " in text
