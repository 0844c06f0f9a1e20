"""The release gate: a named subset of the suites, run for a tool's release in the pipeline.

Static first, every gate unit of the tool's suites. Only if something fails are the dynamic
builds made, and only the failing tests run with them: a failure the dynamic build shares is
the machine's (*environment*), one it does not share is *ours*, and so is one that could not
be compared (no dynamic build for the arch, or it could not be built). The result file
(schema below) is what `staticbuild release --gate FILE` reads: any *ours* failure stops the
release.

    {"schema": 1, "tool": "podman", "version": "6.0.2", "arch": "amd64", "finished": "...",
     "wall": 812.4, "suites": [{"suite": "crun", "version": "1.21", "tests": 104, "passed": 99,
     "failed_environment": 3, "failed_ours": 0, "skipped": 2, "ours_tests": [], ...}, ...],
     "totals": {"tests": ..., "passed": ..., "failed_environment": ..., "failed_ours": 0, "skipped": ...}}
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

from . import results, runner
from .dynamic import host_arch
from .classify import ENVIRONMENT, OURS, UNCLASSIFIED, classify
from .common import Settings, UpstreamTestError, say
from .report import as_json
from .results import Run, now
from .sources import version as pinned_version
from .suites import all_suites

SCHEMA = 1
# The suites each tool's release runs: its own, and those of the helpers its bundles carry.
TOOL_SUITES = {
    "podman": ("crun", "netavark", "podman", "podman-rootless"),
    "buildah": ("crun", "netavark", "buildah"),
    "skopeo": ("skopeo",),
}


def gate_units(settings: Settings, suite) -> list[str]:
    if settings.arch != host_arch():
        return list(suite.smoke)  # under qemu-user: the smoke subset
    return list(suite.gate) or suite.units(settings)


def run(settings: Settings, tool: str, names: list[str] | None, out: Path) -> dict:
    if tool not in TOOL_SUITES:
        raise UpstreamTestError(f"unknown tool '{tool}' (podman, buildah or skopeo)")
    names = names or list(TOOL_SUITES[tool])
    started = time.monotonic()
    scratch = replace(settings, results=settings.dir("gate-results"))
    suites_out = []
    for name in names:
        suite = all_suites()[name]
        units = gate_units(settings, suite)
        if not units:
            say(f"gate: {name} has nothing that runs on {settings.arch} here")
            continue
        runs = runner.run_suite(scratch, suite, ("static",), units=units, fresh=True)
        static = runs["static"]
        failing = [c.name for c in static.cases().values() if c.status == "fail"]
        dynamic = None
        if failing and settings.arch == host_arch():
            dynamic = compare(scratch, suite, static, failing)
            runner.retry_candidates(scratch, suite, {"static": static, "dynamic": dynamic})
        summary = classify(static, dynamic, suite.known)
        entry = as_json(summary) | {
            "units": units,
            "ours_tests": [v.name for v in summary.verdicts if v.verdict in (OURS, UNCLASSIFIED)
                           and not v.explanation],
            "explained_tests": {v.name: v.explanation for v in summary.verdicts if v.explanation},
            "environment_tests": [v.name for v in summary.verdicts if v.verdict == ENVIRONMENT],
        }
        entry["failed_ours"] = len(entry["ours_tests"])  # explained ones are listed, not counted
        suites_out.append(entry)
    totals = {k: sum(s[k] for s in suites_out) for k in ("tests", "passed", "failed_environment", "failed_ours",
                                                           "skipped")}
    result = {"schema": SCHEMA, "tool": tool, "version": pinned_version(settings, tool), "arch": settings.arch,
              "finished": now(), "wall": round(time.monotonic() - started, 1), "suites": suites_out,
              "totals": totals, "summary": summary_line(totals)}
    for file in (out, results.gate_path(settings.results, tool, settings.arch)):
        write_json(file, result)
    return result


def write_json(file: Path, data: dict) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, file)


def compare(settings: Settings, suite, static: Run, failing: list[str]) -> Run:
    """The dynamic build run on exactly the tests that failed static; unbuildable means uncompared."""
    dynamic = Run(suite.name, static.version, "dynamic", settings.arch, started=now())
    try:
        runner.reset_state(settings, suite.name, "dynamic")  # nothing a cut-off earlier gate left behind
        prepared = suite.prepare(settings, "dynamic")
    except UpstreamTestError as exc:
        say(f"gate: no dynamic {suite.name} to compare with ({exc}): its static failures count as ours")
        return dynamic
    dynamic.binaries = suite.versions(prepared)
    by_unit: dict[str, list[str]] = {}
    for name in failing:
        by_unit.setdefault(name.split(" :: ", 1)[0], []).append(name)
    for unit, only in by_unit.items():
        say(f"gate: {suite.name} {unit}: {len(only)} static failure(s) against the dynamic build")
        result = suite.run_unit(settings, prepared, unit, only=only)
        if any(name not in {c.name for c in result.cases} for name in only):
            # a name the filter cannot select: bats filters on the name as written, and some are
            # expanded at run time (netavark's "$fw_driver - bridge teardown"): the whole file again
            say(f"gate: {suite.name} {unit}: the filter missed some; running the whole file")
            whole = suite.run_unit(settings, prepared, unit)
            result = replace(whole, wall=round(result.wall + whole.wall, 1),
                             cases=[c for c in whole.cases if c.name in only])
        dynamic.units[unit] = result
    dynamic.planned = list(by_unit)
    return dynamic


def summary_line(totals: dict) -> str:
    return (f"{totals['tests']} tests, {totals['passed']} passed, {totals['failed_environment']} failed "
            f"(environment), {totals['failed_ours']} failed (ours), {totals['skipped']} skipped")
