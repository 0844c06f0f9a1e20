"""`staticbuild release --gate`: the upstream-test gate's result decides whether a release is
published, and its counts go into the notes (against the local GitHub stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO as CHECKOUT
from conftest import run_cli
from test_release import REPO, TAG, fake, make_dist, no_real_github, use_fake  # noqa: F401 (fixtures)


def gate_file(tmp_path: Path, arch: str = "amd64", ours: tuple[str, ...] = (), tool: str = "podman",
              version: str = "6.0.2", **changes) -> Path:
    """What `python -m upstream_tests gate` writes (upstream_tests/gate.py documents the schema)."""
    suites = [
        {"suite": "crun", "version": "1.21", "tests": 104, "passed": 95, "failed_environment": 2, "failed_ours": 0,
         "skipped": 7, "ours_tests": [], "environment_tests": ["test_delete.py :: a", "test_exec.py :: b"]},
        {"suite": "podman", "version": "6.0.2", "tests": 180, "passed": 120, "failed_environment": 30,
         "failed_ours": len(ours), "skipped": 30 - len(ours), "ours_tests": list(ours), "environment_tests": []},
    ]
    gate = {"schema": 1, "tool": tool, "version": version, "arch": arch, "finished": "2026-11-29T06:00:00Z",
            "wall": 900.0, "suites": suites} | changes
    path = tmp_path / f"gate-{arch}.json"
    path.write_text(json.dumps(gate))
    return path


def release(dist: Path, *gates: Path):
    return run_cli("release", "podman", "--version", "6.0.2", str(dist), *(a for g in gates for a in ("--gate", str(g))))


def test_a_clean_gate_publishes_and_the_notes_quote_its_counts(fake, tmp_path, monkeypatch):
    use_fake(monkeypatch, fake)
    proc = release(make_dist(tmp_path), gate_file(tmp_path, "amd64"), gate_file(tmp_path, "arm64"))
    assert proc.returncode == 0, proc.stderr
    body = fake.release(REPO, TAG)["body"]
    assert "### Upstream test suites (release gate)" in body
    assert "| amd64 | crun 1.21 | 104 | 95 | 2 | 0 | 7 |" in body
    assert "| arm64 | podman 6.0.2 | 180 | 120 | 30 | 0 | 30 |" in body


def test_a_failure_of_ours_stops_the_release_in_one_line_before_anything_is_made(fake, tmp_path, monkeypatch):
    use_fake(monkeypatch, fake)
    bad = gate_file(tmp_path, "arm64", ours=("030-run.bats :: podman run --init",))
    proc = release(make_dist(tmp_path), gate_file(tmp_path, "amd64"), bad)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: the upstream-test gate (arm64) recorded 1 failure(s) of ours, e.g. "
                                   "podman: 030-run.bats :: podman run --init; not publishing podman 6.0.2")
    assert fake.releases.get(REPO, []) == []  # no draft, no upload
    assert fake.calls("POST", "releases") == 0


@pytest.mark.parametrize("change, message", [
    ({"tool": "skopeo"}, "is the gate of skopeo 6.0.2, not of podman 6.0.2"),
    ({"version": "6.0.1"}, "is the gate of podman 6.0.1, not of podman 6.0.2"),
    ({"schema": 2}, "is not an upstream-test gate result (schema 2, expected 1)"),
    ({"suites": [{"suite": "crun", "version": "1.21", "tests": 1, "passed": 1}]}, "is not an upstream-test gate"),
    ({"suites": [{"suite": "crun", "version": "1.21", "tests": 1, "passed": 1, "failed_environment": 0,
                  "failed_ours": -1, "skipped": 0}]}, "crun: counts must be whole numbers"),
])
def test_a_gate_file_for_something_else_or_broken_is_refused(fake, tmp_path, monkeypatch, change, message):
    use_fake(monkeypatch, fake)
    proc = release(make_dist(tmp_path), gate_file(tmp_path, **change))
    assert proc.returncode == 1 and message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert fake.releases.get(REPO, []) == []


def test_a_missing_or_unreadable_gate_file_is_one_line(fake, tmp_path, monkeypatch):
    use_fake(monkeypatch, fake)
    proc = release(make_dist(tmp_path), tmp_path / "nope.json")
    assert proc.returncode == 1 and "cannot read the upstream-test gate result" in proc.stderr
    (tmp_path / "junk.json").write_text("{not json")
    proc = release(make_dist(tmp_path, seed=2), tmp_path / "junk.json")
    assert proc.returncode == 1 and "is not an upstream-test gate result" in proc.stderr


def test_failures_counted_without_names_still_stop_the_release(fake, tmp_path, monkeypatch):
    use_fake(monkeypatch, fake)
    gate = json.loads(gate_file(tmp_path).read_text())
    gate["suites"][1]["failed_ours"] = 2
    del gate["suites"][1]["ours_tests"]
    path = tmp_path / "counted.json"
    path.write_text(json.dumps(gate))
    proc = release(make_dist(tmp_path), path)
    assert proc.returncode == 1 and "recorded 2 failure(s) of ours" in proc.stderr


def test_the_file_the_gate_writes_is_the_file_release_reads(fake, tmp_path, monkeypatch):
    """upstream_tests/gate.py's writer against publish.read_gates (suites replaced by recorded runs)."""
    import sys

    sys.path.insert(0, str(CHECKOUT))  # upstream_tests/ is a top-level package beside src/
    from upstream_tests import gate, runner
    from upstream_tests.common import Settings
    from upstream_tests.results import Case, Run, Unit

    def run_of(statuses: dict[str, str]) -> Run:
        cases = [Case(f"f.bats :: {n}", s, output="boom" if s == "fail" else "") for n, s in statuses.items()]
        return Run("podman", "6.0.2", "static", "amd64", units={"f.bats": Unit("f.bats", 5.0, cases)},
                   planned=["f.bats"])

    class Suite:
        name, component, gate, smoke, known = "podman", "podman", ("f.bats",), (), {}

    settings = Settings(work=tmp_path / "work", cache=tmp_path / "cache", lock=CHECKOUT / "staticbuild.lock",
                        arch="amd64", results=tmp_path / "results")
    monkeypatch.setattr(gate, "all_suites", lambda: {"podman": Suite()})
    monkeypatch.setattr(runner, "retry_candidates", lambda *a, **k: None)
    use_fake(monkeypatch, fake)
    for name, dynamic_status, expected in (("env", "fail", 0), ("ours", "pass", 1)):
        static = run_of({"a": "pass", "b": "fail"})
        monkeypatch.setattr(runner, "run_suite", lambda *a, static=static, **k: {"static": static})
        dynamic = Run("podman", "6.0.2", "dynamic", "amd64", planned=["f.bats"],
                      units={"f.bats": Unit("f.bats", 1.0, [Case("f.bats :: b", dynamic_status)])})
        monkeypatch.setattr(gate, "compare", lambda *a, dynamic=dynamic, **k: dynamic)
        out = tmp_path / f"{name}.json"
        gate.run(settings, "podman", ["podman"], out)
        proc = release(make_dist(tmp_path, seed=expected + 3), out)
        assert proc.returncode == expected, proc.stderr
    assert "podman: f.bats :: b; not publishing podman 6.0.2" in proc.stderr
