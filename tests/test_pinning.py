"""`staticbuild pin`: lock entries whose digests were checked, never guessed."""

from __future__ import annotations

import pytest

from conftest import make_tarball
from staticbuild.builders import Script
from staticbuild.errors import StaticbuildError
from staticbuild.fetch import sha256_of
from staticbuild.lock import Lock
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
