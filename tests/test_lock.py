"""The lock file is untrusted input: every field is checked, and every violation is one line naming where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings, strategies as st

from staticbuild.errors import StaticbuildError
from staticbuild.fetch import SourceCache
from staticbuild.lock import Lock

REPO_LOCK = Path(__file__).resolve().parents[1] / "staticbuild.lock"
GOOD = {"url": "https://example.invalid/x-1.tar.gz", "sha256": "ab" * 32}


def load(tmp_path: Path, data: dict) -> Lock:
    path = tmp_path / "test.lock"
    path.write_text(tomli_w.dumps(data))
    return Lock.load(path)


def one_line_error(tmp_path: Path, data: dict) -> str:
    with pytest.raises(StaticbuildError) as info:
        load(tmp_path, data)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"lock file {tmp_path / 'test.lock'}: ")
    return message


def test_todays_lock_is_accepted():
    lock = Lock.load(REPO_LOCK)
    assert lock.pins["passt"].version == "2025_05_03.587980c" and lock.pins["argp"].version == "20230209+stable"


@pytest.mark.parametrize("entry, expected", [
    ({"version": "1", "sources": [GOOD | {"sha256": "../../victim.txt"}]}, "[c] sources[0].sha256: 64 lowercase"),
    ({"version": "1", "sources": [GOOD | {"sha256": "AB" * 32}]}, "[c] sources[0].sha256: 64 lowercase"),
    ({"version": "1", "sources": [GOOD | {"subdir": "../../../somewhere"}]}, "[c] sources[0].subdir: a relative"),
    ({"version": "1", "sources": [GOOD | {"subdir": "/etc"}]}, "[c] sources[0].subdir: a relative"),
    ({"version": "1", "sources": [GOOD | {"subdir": "a/../../b"}]}, "[c] sources[0].subdir: a relative"),
    ({"version": "1/../../x", "sources": [GOOD]}, "[c] version: letters, digits"),
    ({"version": "1 && rm -rf /", "sources": [GOOD]}, "[c] version: letters, digits"),
    ({"version": "", "sources": [GOOD]}, "[c] version: letters, digits"),
    ({"version": "1.0\n", "sources": [GOOD]}, "[c] version: letters, digits"),
    ({"version": "1", "sources": [GOOD | {"sha256": "ab" * 32 + "\n"}]}, "[c] sources[0].sha256: 64 lowercase"),
    ({"version": 1, "sources": [GOOD]}, "[c] version: letters, digits"),
    ({"version": "1", "epoch": "abc", "sources": [GOOD]}, "[c] epoch: a whole number"),
    ({"version": "1", "epoch": 1e300, "sources": [GOOD]}, "[c] epoch: a whole number"),
    ({"version": "1", "epoch": -1, "sources": [GOOD]}, "[c] epoch: a whole number"),
    ({"version": "1", "epoch": 2**62, "sources": [GOOD]}, "[c] epoch: a whole number"),
    ({"version": "1", "sources": [GOOD | {"mirror": "x"}]}, "[c] sources[0]: unknown field 'mirror'"),
    ({"version": "1", "sources": [GOOD], "homepage": "x"}, "[c]: unknown field 'homepage'"),
    ({"version": "1"}, "[c]: missing field 'sources'"),
    ({"version": "1", "sources": []}, "[c] sources: at least one"),
    ({"version": "1", "sources": "https://x"}, "[c] sources: a list of source locations"),
    ({"version": "1", "sources": [GOOD | {"url": "ftp://x/y"}]}, "[c] sources[0].url: a location starting"),
    ({"version": "1", "sources": [GOOD | {"url": "https://x/a b"}]}, "[c] sources[0].url: a location starting"),
    ({"version": "1", "sources": [GOOD, GOOD | {"url": "debian:x/y", "subdir": "other"}]},
     "[c] sources[1].subdir: the same file (sha256) cannot have two subdirs"),
])
def test_a_bad_field_is_one_line_naming_component_and_field(tmp_path, entry, expected):
    assert expected in one_line_error(tmp_path, {"c": entry})


def test_a_bad_component_name_is_refused(tmp_path):
    assert "a component name is" in one_line_error(tmp_path, {"../x": {"version": "1", "sources": [GOOD]}})


@pytest.mark.parametrize("content, expected", [
    (b"\xff\xfe not utf-8", "is not UTF-8 text"),
    (b"[a\nversion=", "is not valid TOML"),
])
def test_unreadable_lock_files_are_one_line(tmp_path, content, expected):
    path = tmp_path / "test.lock"
    path.write_bytes(content)
    with pytest.raises(StaticbuildError, match=expected) as info:
        Lock.load(path)
    assert "\n" not in str(info.value)


def test_a_folder_given_as_the_lock_is_one_line(tmp_path):
    with pytest.raises(StaticbuildError, match="cannot read the lock file") as info:
        Lock.load(tmp_path)
    assert "\n" not in str(info.value)


# --- generated hostile input ---------------------------------------------------------------

PATHLIKE = st.sampled_from(["..", "../..", "/", "/etc/passwd", "a/../..", "./", "a//b", "~", "$(id)", "\x00", "a\nb",
                            "C:\\x", "%2e%2e", "x" * 300, ""])
SCALARS = st.one_of(st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=False), st.booleans(),
                    PATHLIKE, st.text(max_size=40))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
SOURCE = st.fixed_dictionaries({"url": st.one_of(st.just(GOOD["url"]), VALUES),
                                "sha256": st.one_of(st.just(GOOD["sha256"]), PATHLIKE, VALUES)},
                               optional={"subdir": st.one_of(PATHLIKE, VALUES), "extra": VALUES})
ENTRY = st.fixed_dictionaries({"version": st.one_of(st.just("1.0"), PATHLIKE, VALUES),
                               "sources": st.one_of(st.lists(SOURCE, max_size=3), VALUES)},
                              optional={"epoch": VALUES, "unknown": VALUES})
LOCKS = st.dictionaries(st.one_of(st.just("comp"), PATHLIKE, st.text(max_size=10)), ENTRY, min_size=1, max_size=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=LOCKS)
def test_generated_locks_load_or_fail_in_one_line_and_never_touch_other_files(tmp_path, data):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir(exist_ok=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):
        return  # not expressible in TOML: no lock file can hold it
    path = sandbox / "test.lock"
    path.write_text(text)
    try:
        lock = Lock.load(path)
    except StaticbuildError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"lock file {path}: ")
        return
    cache = SourceCache(sandbox / "cache")
    for name, pin in lock.pins.items():
        assert all(len(s.sha256) == 64 and ".." not in Path(s.subdir).parts for s in pin.sources)
        for source in pin.sources:
            assert cache.path(source.sha256).parent == cache.dir
        try:
            cache.get(name, pin)  # nothing is reachable: every location fails, cleanly
        except StaticbuildError as exc:
            assert "\n" not in str(exc)
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["sandbox", "victim.txt"]
