"""The command line: help, the catalog listing, and clear one-line errors with the right exit codes."""

from __future__ import annotations

from conftest import run_cli


def test_each_command_explains_itself():
    for command in ("list", "build", "verify"):
        proc = run_cli(command, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout and len(proc.stdout.splitlines()) > 4


def test_list_shows_every_component_with_its_pinned_version(lock, catalog):
    proc = run_cli("list")
    assert proc.returncode == 0
    for recipe in catalog:
        row = next(line for line in proc.stdout.splitlines()
                   if line.count("│") > 2 and line.split("│")[1].strip() == recipe.name)
        if recipe.name in lock.pins:
            assert lock.pins[recipe.name].version[:10] in row
        assert recipe.builder.kind in row


def test_unknown_component_is_one_line_and_exit_1(tmp_path):
    proc = run_cli("build", "nosuch", cache=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: unknown component 'nosuch' (known: ")
    assert "catatonit, " in proc.stderr and "crun, " in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_arch_is_a_usage_error(tmp_path):
    proc = run_cli("build", "catatonit", "--arch", "mips", cache=tmp_path)
    assert proc.returncode == 2 and "unknown arch 'mips'" in proc.stderr


def test_missing_lock_file_is_one_line(tmp_path):
    proc = run_cli("list", lock=tmp_path / "missing.lock")
    assert proc.returncode == 1 and proc.stderr.strip().startswith(
        f"error: lock file not found: {tmp_path / 'missing.lock'} (")
