"""Archives are checked member by member before anything is written."""

from __future__ import annotations

import pytest

from conftest import make_tarball
from staticbuild.errors import UnsafeArchiveError
from staticbuild.extract import extract_source


@pytest.mark.parametrize("members, what", [
    ({"pkg-1/ok.c": b"int x;", "pkg-1/../../evil": b"x"}, "'..' escaping the tree"),
    ({"pkg-1/ok.c": b"int x;", "/etc/evil": b"x"}, "absolute path"),
    ({"pkg-1/link": ("symlink", "../../../etc/passwd")}, "symlink escaping the tree"),
    ({"pkg-1/abs": ("symlink", "/etc/passwd")}, "absolute symlink"),
    ({"pkg-1/hard": ("hardlink", "/etc/passwd")}, "hard link outside"),
])
def test_unsafe_archive_is_refused_and_nothing_is_extracted(tmp_path, members, what):
    archive = make_tarball(tmp_path / "bad.tar.gz", members)
    dest = tmp_path / "work" / "src"
    with pytest.raises(UnsafeArchiveError, match="refusing archive"):
        extract_source(archive, dest)
    assert not dest.exists(), what
    assert list((tmp_path / "work").iterdir()) == [], "no staging leftovers"
    assert not (tmp_path.parent / "evil").exists()


def test_single_top_folder_becomes_dest_and_epoch_is_newest_mtime(tmp_path):
    archive = make_tarball(tmp_path / "ok.tar.xz", {"pkg-1/a.c": b"int a;", "pkg-1/sub/b.c": b"int b;"}, "w:xz")
    dest = tmp_path / "src"
    epoch = extract_source(archive, dest)
    assert (dest / "a.c").read_bytes() == b"int a;"
    assert (dest / "sub" / "b.c").exists()
    assert epoch == 1_700_000_000


def test_subdir_is_selected(tmp_path):
    archive = make_tarball(tmp_path / "c.tar.gz", {"crate-0.1/c_src/lib/v2/x.c": b"v2", "crate-0.1/Cargo.toml": b""})
    dest = tmp_path / "src"
    extract_source(archive, dest, subdir="c_src/lib/v2")
    assert [p.name for p in dest.iterdir()] == ["x.c"]


def test_not_a_tarball_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not an archive")
    with pytest.raises(UnsafeArchiveError, match="not a readable tar archive"):
        extract_source(junk, tmp_path / "src")
