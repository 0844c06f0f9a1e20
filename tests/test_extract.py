"""Archives are checked member by member before anything is written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import make_tarball
from staticbuild.errors import UnsafeArchiveError
from staticbuild import extract
from staticbuild.extract import extract_source


@pytest.mark.parametrize("members, what", [
    ({"pkg-1/ok.c": b"int x;", "pkg-1/../../evil": b"x"}, "'..' escaping the tree"),
    ({"pkg-1/ok.c": b"int x;", "/etc/evil": b"x"}, "absolute path"),
    ({"pkg-1/link": ("symlink", "../../../etc/passwd")}, "symlink escaping the tree"),
    ({"pkg-1/abs": ("symlink", "/etc/passwd")}, "absolute symlink"),
    ({"pkg-1/hard": ("hardlink", "/etc/passwd")}, "hard link outside"),
    ({"pkg-1/sub/link": ("symlink", "../../x")}, "a link inside the archive but outside the kept top folder"),
])
@pytest.mark.parametrize("stdlib_filter", [True, False], ids=["data-filter", "by-hand"])
def test_unsafe_archive_is_refused_and_nothing_is_extracted(tmp_path, members, what, stdlib_filter, monkeypatch):
    monkeypatch.setattr(extract, "HAS_DATA_FILTER", stdlib_filter)
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
    with pytest.raises(UnsafeArchiveError, match="not a readable archive"):
        extract_source(junk, tmp_path / "src")


# --- generated hostile archives ------------------------------------------------------------

import io  # noqa: E402
import tarfile  # noqa: E402
import zipfile  # noqa: E402

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

NAMES = st.one_of(st.sampled_from(["pkg-1/a", "pkg-1/sub/b", "pkg-1", "..", "../x", "pkg-1/../../x", "/etc/x", "./x",
                                   "pkg-1/./c", "pkg-1//d", "pkg-1/\x00e", "pkg-1/" + "f" * 300]),
                  st.text(alphabet="ab./\\-", min_size=1, max_size=12))
KINDS = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
                         tarfile.BLKTYPE, tarfile.FIFOTYPE])
MEMBERS = st.lists(st.tuples(NAMES, KINDS, st.sampled_from(["pkg-1/a", "../../x", "/etc/passwd", "..", "a", ""]),
                             st.integers(min_value=0, max_value=0o7777)), min_size=1, max_size=6)


def hostile_tar(members) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, kind, target, mode in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname = kind, mode, target
            data = b"data" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def hostile_zip(members) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, kind, target, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = ((0o120777 if kind == tarfile.SYMTYPE else 0o100000 | mode) << 16)
            zf.writestr(info, target if kind == tarfile.SYMTYPE else "data")
    return out.getvalue()


def snapshot(root) -> set[str]:
    return {os.path.relpath(os.path.join(f, n), root) for f, dirs, files in os.walk(root) for n in (*dirs, *files)}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=MEMBERS, as_zip=st.booleans(), subdir=st.sampled_from(["", "sub", "..", "a/../..", "link"]),
       cut=st.sampled_from([None, 100, 700]), stdlib_filter=st.booleans())
def test_generated_archives_unpack_inside_dest_or_fail_in_one_line(tmp_path, members, as_zip, subdir, cut,
                                                                   stdlib_filter):
    extract.HAS_DATA_FILTER = stdlib_filter  # hypothesis and monkeypatch do not mix: set and restored here
    try:
        unpack_and_check(tmp_path, members, as_zip, subdir, cut)
    finally:
        extract.HAS_DATA_FILTER = hasattr(tarfile, "data_filter")


def unpack_and_check(tmp_path, members, as_zip, subdir, cut):
    root = tmp_path / "t"
    shutil.rmtree(root, ignore_errors=True)
    (root / "work").mkdir(parents=True)
    data = hostile_zip(members) if as_zip else hostile_tar(members)
    archive = root / "archive"
    archive.write_bytes(data[:cut] if cut else data)
    before = snapshot(root)
    dest = root / "work" / "src"
    try:
        extract_source(archive, dest, subdir)
    except UnsafeArchiveError as exc:
        assert "\n" not in str(exc)
        assert snapshot(root) == before, "a refused archive leaves nothing behind"
        return
    new = snapshot(root) - before
    assert all(p == "work/src" or p.startswith("work/src/") for p in new), new
    for folder, dirs, files in os.walk(dest):
        for path in (Path(folder, name) for name in (*dirs, *files)):
            assert not (path.is_char_device() or path.is_block_device() or path.is_fifo()), path
            if path.is_symlink():
                assert Path(os.path.realpath(path)).is_relative_to(dest.resolve()), f"{path} points out of the tree"


@pytest.mark.parametrize("stdlib_filter", [True, False], ids=["data-filter", "by-hand"])
def test_modes_lose_setuid_and_group_write_and_ownership_is_not_taken(tmp_path, stdlib_filter, monkeypatch):
    monkeypatch.setattr(extract, "HAS_DATA_FILTER", stdlib_filter)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg-1/tool")
        info.mode, info.uid, info.gid, info.uname, info.gname, info.size = 0o6777, 4242, 4242, "evil", "evil", 2
        tar.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "a.tar.gz").write_bytes(raw.getvalue())
    extract_source(tmp_path / "a.tar.gz", tmp_path / "src")
    stat_result = (tmp_path / "src" / "tool").stat()
    assert stat_result.st_mode & 0o7777 == 0o755
    assert (stat_result.st_uid, stat_result.st_gid) == (os.getuid(), os.getgid())
