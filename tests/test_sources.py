"""`staticbuild sources`: a release's corresponding source, complete, checked and reproducible."""

from __future__ import annotations

import hashlib

from conftest import LOCK, run_cli
from staticbuild.archive import open_tar
from staticbuild.lock import Lock


def members(path) -> dict[str, bytes]:
    with open_tar(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_sources_of_a_release_hold_every_pinned_archive_and_rebuild_the_same_bytes(tmp_path):
    cache = tmp_path / "cache"
    first = run_cli("sources", "skopeo", "--out", str(tmp_path / "a"), cache=cache)
    assert first.returncode == 0, first.stderr
    archive = tmp_path / "a" / "skopeo-v1.19.0-sources.tar.zst"
    files = members(archive)
    lock = Lock.load(LOCK)
    sums = dict(reversed(line.split("  ")) for line in files["skopeo-v1.19.0-sources/SHA256SUMS"].decode().splitlines())
    assert set(sums) == {"archives/skopeo-1.19.0.zip", "archives/musl-1.2.5.tar.gz", "archives/mimalloc-2.3.2.tar.gz"}
    for name, digest in sums.items():
        assert hashlib.sha256(files[f"skopeo-v1.19.0-sources/{name}"]).hexdigest() == digest
        component = name.removeprefix("archives/").rsplit("-", 1)[0]
        assert digest in {s.sha256 for s in lock.pin(component).sources}, "exactly what the lock pins"
    assert "skopeo-v1.19.0-sources/patches/image-bundle-config.patch" in files
    assert b'[skopeo]\nversion = "1.19.0"' in files["skopeo-v1.19.0-sources/staticbuild.lock"]
    assert b"staticbuild package skopeo" in files["skopeo-v1.19.0-sources/README.md"]
    assert "skopeo-v1.19.0-sources.tar.zst" in (tmp_path / "a" / "checksums.txt").read_text()
    again = run_cli("sources", "skopeo", "--out", str(tmp_path / "b"), cache=cache)
    assert again.returncode == 0 and (tmp_path / "b" / archive.name).read_bytes() == archive.read_bytes()


def test_an_unknown_tool_is_one_line(tmp_path):
    proc = run_cli("sources", "nosuch", "--out", str(tmp_path), cache=tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error: unknown tool 'nosuch'")
