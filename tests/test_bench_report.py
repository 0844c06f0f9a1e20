"""The benchmark report's run-time section, rendered from a small results dict (no benchmark runs here;
`python -m bench runtime` measures)."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))  # bench/ is a top-level package beside src/

from bench import common, report  # noqa: E402


def stat(median: float, low: float, high: float, runs: int = 3) -> dict:
    return {"median": median, "min": low, "max": high, "runs": runs, "samples": [low, median, high]}


def runtime_results() -> dict:
    def build(latency: dict, rss: dict) -> dict:
        return {"latency_ms": latency, "peak_rss_kib": rss}
    return {
        "setup": {"counts": {"podman images": 20, "podman ps -a": 20, "podman run --rm": 10, "crun run": 100},
                  "network": "none", "image": "quay.io/libpod/testimage:20241011", "image_bytes": 5_754_880,
                  "runs": 3},
        "versions": {"podman": "6.0.2", "conmon": "2.1.13", "crun": "1.21", "netavark": "2.1.0"},
        "linkage": {"static": {"podman": "static"}, "dynamic": {"podman": "dynamic (libseccomp.so.2, libc.so.6)"}},
        "workloads": {  # sorted as the results file stores them; the table has its own order
            "crun run": {"static": build(stat(20, 19, 21), stat(10240, 10240, 10240)),
                         "dynamic": build(stat(10, 9, 11), stat(10240, 10000, 10300))},
            "podman images": {"static": build(stat(30, 28, 33), stat(40960, 40000, 41000)),
                              "dynamic": build(stat(40, 38, 42), stat(40960, 40900, 41200))},
        },
    }


def test_runtime_section_has_both_builds_ratios_and_the_spread_mark():
    text = report.runtime_section(runtime_results(), {"cpus": 2})
    assert text.startswith("## Run time: static against dynamic")
    assert "podman 6.0.2, conmon 2.1.13, crun 1.21" in text and "(2 cores)" in text
    assert "podman (libseccomp.so.2, libc.so.6)" in text
    assert "`--network none` (BENCH_RUNTIME_NETWORK=none)" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == ["`podman images`", "`crun run`"]
    images = [c.strip() for c in rows[0].split("|")[1:-1]]
    assert images[1] == "30.0 ms (28.0 ms–33.0 ms, 3 runs)"
    assert images[3] == "×0.75"  # ranges apart: a measured difference
    assert images[6] == "×1.00 ≈"  # ranges overlap: within the spread


def test_compare_stats_marks_overlap_only():
    assert report.compare_stats(stat(2, 1.9, 2.1), stat(1, 0.9, 1.1)) == "×2.00"
    assert report.compare_stats(stat(2, 1.0, 2.1), stat(1, 0.9, 1.1)) == "×2.00 ≈"


def test_each_section_comes_from_the_newest_results_that_have_it(tmp_path):
    """A section rerun alone (runtime today) must not drop the others measured on an earlier day."""
    (tmp_path / "2026-11-24.json").write_text('{"machine": {"commit": "old"}, "build": {"a": 1}, "runtime": {"v": 1}, '
                                              '"durations": {"build": 100, "runtime": 5}}')
    (tmp_path / "2026-11-29.json").write_text('{"machine": {"commit": "new"}, "runtime": {"v": 2}, '
                                              '"durations": {"runtime": 7}}')
    merged, origin = common.latest_results(tmp_path)
    assert merged["build"] == {"a": 1} and merged["runtime"] == {"v": 2} and merged["machine"]["commit"] == "new"
    assert merged["durations"] == {"build": 100, "runtime": 7}
    assert origin["build"] == "2026-11-24.json" and origin["runtime"] == "2026-11-29.json"
    assert report.sources(origin) == ("[`bench/results/2026-11-24.json`](../bench/results/2026-11-24.json) (build); "
                                      "[`bench/results/2026-11-29.json`](../bench/results/2026-11-29.json) (runtime)")
