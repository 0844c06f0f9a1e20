"""Bad input, through the real command line: one line, a non-zero exit that is not 130, nothing half-written."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w

from conftest import LOCK, make_tarball, run_cli

VICTIM_TEXT = "do not delete me"


def lock_with_musl(tmp_path: Path, **source) -> Path:
    """The real lock with musl's source replaced: musl is the first thing any build fetches."""
    import tomllib
    data = tomllib.loads(LOCK.read_text())
    data["musl"]["sources"] = [source]
    path = tmp_path / "bad.lock"
    path.write_text(tomli_w.dumps(data))
    return path


def case_lock_is_a_folder(tmp_path):
    return ["--lock", str(tmp_path), "list"], "cannot read the lock file"


def case_lock_not_utf8(tmp_path):
    (tmp_path / "x.lock").write_bytes(b"\xff\xfe\x00junk")
    return ["--lock", str(tmp_path / "x.lock"), "list"], "is not UTF-8 text"


def case_lock_digest_is_a_path(tmp_path):
    lock = lock_with_musl(tmp_path, url="https://example.invalid/x.tar.gz", sha256="../../victim.txt")
    return ["--lock", str(lock), "build", "musl"], "[musl] sources[0].sha256: 64 lowercase hexadecimal digits"


def case_lock_subdir_escapes(tmp_path):
    lock = lock_with_musl(tmp_path, url="https://example.invalid/x.tar.gz", sha256="0" * 64, subdir="../../../tmp")
    return ["--lock", str(lock), "build", "musl"], "[musl] sources[0].subdir: a relative folder path"


def case_lock_epoch_not_a_number(tmp_path):
    path = tmp_path / "e.lock"
    path.write_text(LOCK.read_text().replace('version = "1.2.5"', 'version = "1.2.5"\nepoch = "abc"'))
    return ["--lock", str(path), "list"], "[musl] epoch: a whole number of seconds"


def case_lock_unknown_key(tmp_path):
    path = tmp_path / "k.lock"
    path.write_text(LOCK.read_text().replace('version = "1.2.5"', 'version = "1.2.5"\nchecksum = "x"'))
    return ["--lock", str(path), "list"], "[musl]: unknown field 'checksum'"


def case_cache_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    return ["--cache", str(tmp_path / "file" / "cache"), "build", "musl"], "Not a directory"


def case_cache_read_only(tmp_path):
    return ["--cache", "/proc/staticbuild-cache", "build", "musl"], "/proc/staticbuild-cache"


def case_wrong_digest(tmp_path):
    archive = make_tarball(tmp_path / "musl.tar.gz", {"musl-1.2.5/README": b"not musl"})
    lock = lock_with_musl(tmp_path, url=f"file://{archive}", sha256=hashlib.sha256(b"other").hexdigest())
    return ["--lock", str(lock), "--cache", str(tmp_path / "c"), "build", "musl"], "sha256 mismatch for file://"


def case_broken_download(tmp_path):
    lock = lock_with_musl(tmp_path, url=f"file://{tmp_path}/gone.tar.gz", sha256="1" * 64)
    return ["--lock", str(lock), "--cache", str(tmp_path / "c"), "build", "musl"], "no location could serve the source"


def case_hostile_source_archive(tmp_path):
    archive = make_tarball(tmp_path / "evil.tar.gz", {"musl-1.2.5/ok": b"x", "musl-1.2.5/../../evil": b"x"})
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    lock = lock_with_musl(tmp_path, url=f"file://{archive}", sha256=digest)
    return ["--lock", str(lock), "--cache", str(tmp_path / "c"), "build", "musl"], "refusing archive"


def case_truncated_source_archive(tmp_path):
    archive = make_tarball(tmp_path / "cut.tar.gz", {"musl-1.2.5/a": os.urandom(50_000)})
    archive.write_bytes(archive.read_bytes()[:20_000])
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    lock = lock_with_musl(tmp_path, url=f"file://{archive}", sha256=digest)
    return ["--lock", str(lock), "--cache", str(tmp_path / "c"), "build", "musl"], "not a readable archive"


def case_verify_corrupt_zstd(tmp_path):
    bundle = tmp_path / "x.tar.zst"
    bundle.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(200))
    return ["verify", str(bundle)], "not a readable archive"


def case_verify_truncated_tgz(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("bin/x")
        payload = os.urandom(100_000)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    (tmp_path / "cut.tgz").write_bytes(gzip.compress(raw.getvalue())[:30_000])
    return ["verify", str(tmp_path / "cut.tgz")], "not a readable archive"


def case_verify_missing_file(tmp_path):
    return ["verify", str(tmp_path / "nothing")], "no such file"


def case_sign_without_cosign(tmp_path):
    (tmp_path / "a.tar.zst").write_bytes(b"x")
    (tmp_path / "key").write_text("k")
    return ["sign", str(tmp_path), "--key", str(tmp_path / "key")], "'cosign' is not installed", {"PATH": "/nonexistent"}


def case_release_without_token(tmp_path):
    return ["release", "podman", "--version", "6.0.2", str(tmp_path), "--repo", "a/b"], "no GitHub token"


def case_unknown_component(tmp_path):
    return ["--cache", str(tmp_path), "build", "nosuch"], "unknown component 'nosuch'"


CASES: dict[str, Callable] = {name.removeprefix("case_"): f for name, f in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_a_plain_failure(tmp_path, case):
    victim = tmp_path.parent / f"victim-{case}.txt"
    victim.write_text(VICTIM_TEXT)
    args, expected, *env = CASES[case](tmp_path)
    extra_env = env[0] if env else {}
    if "PATH" in extra_env:  # run the module with this interpreter, but without the tools on PATH
        extra_env = {"PATH": extra_env["PATH"]}
    proc = run_cli(*args, lock=LOCK, env=extra_env, timeout=300) if "--lock" not in args else \
        run_cli_raw(args, extra_env)
    errors = [line for line in proc.stderr.strip().splitlines() if line.startswith("error: ")]
    assert proc.returncode not in (0, 130), (proc.returncode, proc.stderr)
    assert len(errors) == 1 and proc.stderr.strip().endswith(errors[0]), proc.stderr  # progress lines may precede
    assert expected in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert victim.read_text() == VICTIM_TEXT


def run_cli_raw(args: list[str], env: dict[str, str]):
    """run_cli adds its own --lock; these cases bring theirs."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "staticbuild", *args], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"COLUMNS": "200"} | env)
