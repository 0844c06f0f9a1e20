"""Every download is checked against its pinned digest before it is kept or unpacked."""

from __future__ import annotations

import hashlib

import pytest

from conftest import make_tarball, run_cli
from staticbuild.errors import SourceError
from staticbuild.fetch import SourceCache, sha256_of
from staticbuild.lock import Pin, PinnedSource
from staticbuild.mirrors import DebianArchive


@pytest.fixture
def served_tarball(http_root):
    root, base = http_root
    archive = make_tarball(root / "pkg-1.0.tar.gz", {"pkg-1.0/main.c": b"int main(){return 0;}"})
    return f"{base}/pkg-1.0.tar.gz", sha256_of(archive)


def test_good_download_is_stored_under_its_digest(tmp_path, served_tarball):
    url, digest = served_tarball
    path, source = SourceCache(tmp_path).get("pkg", Pin("1.0", (PinnedSource(url, digest),)))
    assert path == tmp_path / "sources" / digest and sha256_of(path) == digest
    assert source.url == url


def test_wrong_digest_is_refused_and_nothing_is_kept(tmp_path, served_tarball):
    url, digest = served_tarball
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(SourceError, match=f"sha256 mismatch for {url}: expected {wrong}, got {digest}"):
        SourceCache(tmp_path).get("pkg", Pin("1.0", (PinnedSource(url, wrong),)))
    assert list((tmp_path / "sources").iterdir()) == []


def test_missing_and_unreachable_locations_fall_back_to_the_next(tmp_path, served_tarball, http_root):
    url, digest = served_tarball
    _, base = http_root
    pin = Pin("1.0", (
        PinnedSource("http://127.0.0.1:9/nothing-listens-here.tar.gz", digest),
        PinnedSource(f"{base}/gone.tar.gz", digest),
        PinnedSource(url, digest),
    ))
    _, source = SourceCache(tmp_path).get("pkg", pin)
    assert source.url == url


def test_no_working_location_names_each_failure(tmp_path, http_root):
    _, base = http_root
    pin = Pin("1.0", (PinnedSource(f"{base}/gone.tar.gz", "0" * 64),))
    with pytest.raises(SourceError, match=r"no location could serve the source; .*gone.tar.gz: HTTP 404"):
        SourceCache(tmp_path).get("pkg", pin)


def test_corrupted_cache_entry_is_refused_and_removed(tmp_path, served_tarball):
    url, digest = served_tarball
    cache = SourceCache(tmp_path)
    pin = Pin("1.0", (PinnedSource(url, digest),))
    path, _ = cache.get("pkg", pin)
    path.write_bytes(path.read_bytes()[:-10] + b"corrupted!")
    with pytest.raises(SourceError, match="is corrupt"):
        cache.get("pkg", pin)
    assert not path.exists()
    assert sha256_of(cache.get("pkg", pin)[0]) == digest, "a rerun downloads it again"


def test_debian_location_is_found_through_apts_own_indexes(lock):
    """catatonit's pinned orig tarball is listed in apt's deb-src indexes with the pinned digest."""
    pinned = lock.pin("catatonit").sources[0]
    package, _, filename = pinned.url.removeprefix("debian:").partition("/")
    hits = DebianArchive().find(package, filename)
    assert hits, "run `make setup`: it adds the deb-src entries"
    assert {h.sha256 for h in hits} == {pinned.sha256}
    assert all(h.url.endswith(f"/pool/main/c/catatonit/{filename}") for h in hits)


def test_cli_refuses_wrong_digest_with_one_line_and_extracts_nothing(tmp_path):
    """musl pinned to a real tarball with the wrong digest: exit 1, one clear line, nothing unpacked or built."""
    tarball = make_tarball(tmp_path / "musl-1.2.5.tar.gz", {"musl-1.2.5/configure": b"#!/bin/sh\n"})
    bad_lock = tmp_path / "bad.lock"
    bad_lock.write_text(
        f'[musl]\nversion = "1.2.5"\nsources = [{{ url = "file://{tarball}", sha256 = "{"f" * 64}" }}]\n'
    )
    cache = tmp_path / "cache"
    proc = run_cli("build", "catatonit", cache=cache, lock=bad_lock)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: musl: sha256 mismatch for file://{tarball}: expected {'f' * 64}, "
                      f"got {sha256_of(tarball)}; refusing it"], proc.stderr
    assert not (cache / "work" / "amd64" / "musl" / "src").exists()
    assert not list(cache.glob("builds/*/musl/*"))
    assert list((cache / "sources").iterdir()) == []
