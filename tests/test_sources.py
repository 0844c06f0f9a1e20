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


# --- a rebuild finds a file that left every mirror in this repository's own releases ------------

import pytest  # noqa: E402

from github_server import FakeGitHub  # noqa: E402
from staticbuild.errors import SourceError  # noqa: E402
from staticbuild.fetch import SourceCache  # noqa: E402
from staticbuild.github import Target  # noqa: E402
from staticbuild.lock import Pin, PinnedSource  # noqa: E402
from staticbuild.mirrors import ReleasedSources, sources_marker  # noqa: E402
from staticbuild.publish import listed_sources  # noqa: E402


@pytest.fixture(scope="module")
def skopeo_sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("sources")
    proc = run_cli("sources", "skopeo", "--out", str(out), cache=out / "cache")
    assert proc.returncode == 0, proc.stderr
    return out / "skopeo-v1.19.0-sources.tar.zst"


def test_a_file_gone_from_every_mirror_comes_from_a_release(skopeo_sources, tmp_path):
    musl = Lock.load(LOCK).pin("musl")
    gone = Pin(musl.version, tuple(PinnedSource(f"file://{tmp_path}/left-the-archive.tar.gz", s.sha256)
                                   for s in musl.sources[:1]))
    with FakeGitHub(token=None) as fake:
        fake.add_release("me/staticbuild", "podman-v6.0.1", body="an older release without sources")
        fake.add_release("me/staticbuild", "skopeo-v1.19.0", body=f"notes\n{sources_marker(listed_sources(skopeo_sources))}",
                         assets={skopeo_sources.name: skopeo_sources.read_bytes()})
        released = ReleasedSources(Target(fake.url, "me/staticbuild", None))
        path, source = SourceCache(tmp_path / "cache", released=released).get("musl", gone)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == musl.sources[0].sha256 == source.sha256

        other = Pin("9.9", (PinnedSource(f"file://{tmp_path}/nothing.tar.gz", "e" * 64),))
        with pytest.raises(SourceError, match="this repository's released sources: no release of me/staticbuild "
                                              "holds it"):
            SourceCache(tmp_path / "cache2", released=released).get("musl", other)


def test_the_release_notes_list_what_the_sources_archive_holds(skopeo_sources, tmp_path):
    import json
    import shutil
    from staticbuild.checksums import write_checksums
    from staticbuild.github import GitHub
    from staticbuild.publish import Publisher
    lock = Lock.load(LOCK)
    digests = listed_sources(skopeo_sources)
    assert set(digests) == {s.sha256 for n in ("skopeo", "musl", "mimalloc") for s in lock.pin(n).sources}
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(skopeo_sources, dist)
    (dist / "skopeo-linux-amd64.tar.zst").write_bytes(b"a bundle")
    (dist / "skopeo-linux-amd64.cdx.json").write_text(json.dumps({"components": [
        {"name": "skopeo", "version": "1.19.0", "properties": [{"name": "staticbuild:kind", "value": "recipe"}]}]}))
    write_checksums(dist)
    with FakeGitHub(token="t") as fake, GitHub(Target(fake.url, "me/staticbuild", "t")) as gh:
        Publisher(gh, "me/staticbuild").release("skopeo", "1.19.0", dist)
        body = fake.release("me/staticbuild", "skopeo-v1.19.0")["body"]
        assert sources_marker(digests) in body
        assert skopeo_sources.name in fake.asset_data(fake.release("me/staticbuild", "skopeo-v1.19.0"))
