"""verify fails what we would not ship: dynamic, no mimalloc, wrong version, not ELF."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from conftest import LOCK, run_cli
from staticbuild.verify import Report, inspect_elf

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: static glibc, no mimalloc


def test_dynamic_host_binary_fails():
    report = Report(Path("/bin/true"))
    inspect_elf(Path("/bin/true"), report)
    assert report.linkage == "dynamic"
    assert any("interpreter" in p for p in report.problems)
    assert any("libc.so.6" in p for p in report.problems)


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static is installed by `make setup`")
def test_static_binary_without_mimalloc_fails():
    report = Report(BUSYBOX)
    inspect_elf(BUSYBOX, report)
    assert report.linkage == "static" and report.allocator == "missing"
    assert report.problems == ["mimalloc is not linked in"]


def test_cli_verify_exits_nonzero_and_names_each_failure(tmp_path):
    shutil.copy("/bin/true", tmp_path / "true")
    (tmp_path / "notes.txt").write_text("not a binary")
    proc = run_cli("verify", str(tmp_path))
    assert proc.returncode == 1
    assert f"FAILED {tmp_path / 'true'}: has an ELF interpreter" in proc.stdout
    assert "needs shared libraries: libc.so.6" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "error: 1 of 1 binaries failed verification"


def test_cli_verify_missing_path_is_one_clear_error(tmp_path):
    proc = run_cli("verify", str(tmp_path / "nope"))
    assert proc.returncode == 1 and proc.stderr.strip() == f"error: no such file: {tmp_path / 'nope'}"


@pytest.mark.build
def test_wrong_version_is_reported(built, tmp_path):
    """A catatonit binary checked against a lock that pins another version fails its smoke test."""
    _, _, out = built
    lock = tmp_path / "other.lock"
    lock.write_text(LOCK.read_text().replace('version = "0.2.1"', 'version = "9.9.9"'))
    proc = run_cli("verify", str(out / "amd64" / "bin" / "catatonit"), lock=lock)
    assert proc.returncode == 1
    assert "expected '9.9.9_catatonit'" in proc.stdout


@pytest.mark.build
def test_verify_looks_inside_tarballs(built, tmp_path):
    _, _, out = built
    bundle = tmp_path / "bundle.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(out / "arm64" / "bin", arcname="catatonit-v0.2.1/bin")
    proc = run_cli("verify", "--json", str(bundle))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    # catatonit and passt; pasta is passt's second name (a link upstream installs), not another binary
    assert sorted(Path(r["path"]).name for r in reports) == ["catatonit", "passt"]
    assert [r["arch"] for r in reports] == ["arm64"] * 2
    assert "tini version 0.2.1_catatonit" in {r["version"] for r in reports}


def test_binaries_run_in_a_minimal_environment(tmp_path, monkeypatch):
    """verify runs downloaded binaries: they see neither the caller's tokens nor its settings."""
    from staticbuild.arch import Arch
    from staticbuild.verify import run_binary
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_must_not_leak")
    monkeypatch.setenv("COSIGN_PASSWORD", "secret")
    script = tmp_path / "show-env"
    script.write_text("#!/bin/sh\nenv\n")
    script.chmod(0o755)
    proc = run_binary(script, Arch.native(), (), {"MIMALLOC_VERBOSE": "1"})
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert env["MIMALLOC_VERBOSE"] == "1" and "PATH" in env
    assert "GITHUB_TOKEN" not in env and "COSIGN_PASSWORD" not in env


def test_the_native_arch_needs_no_emulator():
    from staticbuild.arch import Arch
    assert Arch.native() is Arch.amd64 and not Arch.amd64.needs_emulation and Arch.arm64.needs_emulation
