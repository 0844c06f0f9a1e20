"""`staticbuild pin`: lock entries whose digests were checked, never guessed."""

from __future__ import annotations

import pytest

from conftest import make_tarball
from staticbuild.builders import Script
from staticbuild.errors import StaticbuildError
from staticbuild.fetch import sha256_of
from staticbuild.lock import Lock, Pin, PinnedSource
from staticbuild.pinning import pin
from staticbuild.recipe import Recipe, Upstream


def recipe_with(*upstream: Upstream) -> Recipe:
    return Recipe(name="catatonit", summary="", homepage="", license="", builder=Script(steps=()), upstream=upstream)


def test_pin_records_reachable_locations_and_skips_the_rest(tmp_path, http_root):
    root, base = http_root
    archive = make_tarball(root / "catatonit-0.2.1.tar.gz", {"catatonit-0.2.1/x": b"x"})
    lock = Lock(tmp_path / "test.lock", {})
    recipe = recipe_with(Upstream(url=f"{base}/missing-{{version}}.tar.gz"),
                         Upstream(url=f"{base}/catatonit-{{version}}.tar.gz"),
                         Upstream(debian=("catatonit", "catatonit_{version}.orig.tar.gz")))
    resolutions = pin(recipe, "0.2.1", lock)
    assert [r.source is not None for r in resolutions] == [False, True, True]
    reread = Lock.load(lock.path).pin("catatonit")
    assert reread.version == "0.2.1"
    assert reread.sources[0].url == f"{base}/catatonit-0.2.1.tar.gz"
    assert reread.sources[0].sha256 == sha256_of(archive)
    assert reread.sources[1].url == "debian:catatonit/catatonit_0.2.1.orig.tar.gz"
    assert lock.path.read_text().startswith("# Pinned versions")


def test_pin_with_nothing_checkable_fails_and_leaves_the_lock_alone(tmp_path, http_root):
    _, base = http_root
    lock_path = tmp_path / "test.lock"
    lock_path.write_text(f'[other]\nversion = "1"\n[[other.sources]]\nurl = "{base}/other.tar.gz"\n'
                         f'sha256 = "{"0" * 64}"\n')
    before = lock_path.read_text()
    with pytest.raises(StaticbuildError, match="no location could be checked"):
        pin(recipe_with(Upstream(url=f"{base}/nothing-{{version}}.tar.gz")), "9.9", Lock.load(lock_path))
    assert lock_path.read_text() == before


def test_a_missing_tool_skips_its_location_with_a_note(tmp_path, http_root, monkeypatch):
    """No cargo on this machine: the crate location is skipped, the download still pins."""
    root, base = http_root
    archive = make_tarball(root / "thing-2.0.tar.gz", {"thing-2.0/a.c": b"int a;"})
    monkeypatch.setenv("PATH", "/nonexistent")  # neither go nor cargo can be found
    lock = Lock(tmp_path / "test.lock", {})
    recipe = recipe_with(Upstream(url=f"{base}/thing-{{version}}.tar.gz"), Upstream(crate=("thing", "{version}")))
    resolutions = pin(recipe, "2.0", lock)
    assert [r.source.url if r.source else None for r in resolutions] == [f"{base}/thing-2.0.tar.gz", None]
    assert resolutions[1].note.startswith("skipped: crate: locations need cargo")
    assert Lock.load(lock.path).pins["catatonit"].sources[0].sha256 == sha256_of(archive)


def test_only_the_checksum_databases_own_not_found_allows_a_digest_only_pin():
    from staticbuild.mirrors import NOT_IN_SUMDB
    assert NOT_IN_SUMDB.search("github.com/containers/skopeo@v1.19.0: verifying go.mod: github.com/containers/"
                               "skopeo@v1.19.0/go.mod: reading https://proxy.example/sumdb/sumdb.example/lookup/"
                               "github.com/containers/skopeo@v1.19.0: 404 Not Found")
    for other in ("verifying module: dial tcp: lookup sumdb.example: no such host",
                  "reading https://sumdb.example/lookup/x@v1: 503 Service Unavailable",
                  "verifying x@v1: checksum mismatch (SECURITY ERROR): sumdb says h1:...",
                  "reading https://proxy.example/x/@v/v1.zip: 404 Not Found"):
        assert not NOT_IN_SUMDB.search(other), other


def test_the_lock_records_a_digest_only_pin(tmp_path):
    lock = Lock(tmp_path / "l.lock", {"skopeo": Pin("1.19.0", (
        PinnedSource("gomod:github.com/containers/skopeo@v1.19.0", "a" * 64, "containers/skopeo@v1.19.0",
                     digest_only=True),), epoch=1)})
    lock.save()
    assert "digest_only = true" in lock.path.read_text()
    assert Lock.load(lock.path).pins["skopeo"].sources[0].digest_only
