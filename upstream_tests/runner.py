"""Run a suite's units for each flavor, saving after every unit (a rerun resumes), then look
again at each *ours* candidate: a static failure whose dynamic twin passed is run alone once
more; passing then, it is recorded as a flake (passed, `retried`), not as ours."""

from __future__ import annotations

import subprocess

from . import results
from .common import Settings, UpstreamTestError, say
from .results import Case, Run
from .sources import version as pinned_version
from .suites import Suite

RETRY_LIMIT = 20  # at most this many candidates are retried per suite (a broken build fails them all)


def run_suite(settings: Settings, suite: Suite, flavors: tuple[str, ...], units: list[str] | None = None,
              fresh: bool = False) -> dict[str, Run]:
    version = pinned_version(settings, suite.component)
    planned = units if units is not None else suite.units(settings)
    runs = {} if fresh else results.load(settings.results, settings.arch, suite.name)
    for flavor in flavors:
        run = runs.get(flavor)
        if run is None or run.version != version:
            run = Run(suite.name, version, flavor, settings.arch, started=results.now())
        if not run.units:  # a new run starts from nothing a previous one left (images, volumes, networks)
            reset_state(settings, suite.name, flavor)
        run.planned = planned
        run.units = {k: v for k, v in run.units.items() if k in planned}
        runs[flavor] = run
        todo = [u for u in planned if u not in run.units]
        if not todo:
            say(f"{suite.name} {version} ({flavor}, {settings.arch}): complete, {len(run.units)} units recorded")
            continue
        prepared = suite.prepare(settings, flavor)
        run.binaries = suite.versions(prepared)
        for n, unit in enumerate(todo, 1):
            say(f"{suite.name} {version} ({flavor}, {settings.arch}): [{n} of {len(todo)}] {unit}")
            done = suite.run_unit(settings, prepared, unit)
            run.units[unit] = done
            counts = {s: sum(c.status == s for c in done.cases) for s in ("pass", "fail", "skip")}
            say(f"  {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped in {done.wall:.0f} s"
                + (f" ({done.note[:120]})" if done.note else ""))
            results.save(settings.results, settings.arch, suite.name, runs)
    if "static" in runs and "dynamic" in runs:
        retry_candidates(settings, suite, runs)
    return runs


def reset_state(settings: Settings, suite: str, flavor: str) -> None:
    state = settings.work / suite / settings.arch / flavor
    if state.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(state)], check=False)
        if state.exists():
            raise UpstreamTestError(f"cannot remove the previous run's state {state}")


def candidates(static: Run, dynamic: Run) -> list[str]:
    """Static failures whose dynamic twin did not fail: the *ours* candidates."""
    twin = dynamic.cases()
    return [name for name, c in static.cases().items()
            if c.status == "fail" and not c.retried and name in twin and twin[name].status != "fail"]


def retry_candidates(settings: Settings, suite: Suite, runs: dict[str, Run]) -> None:
    static = runs["static"]
    todo = candidates(static, runs["dynamic"])
    already = [c for c in static.cases().values() if c.output.startswith("(retried alone: failed again)")]
    todo = [n for n in todo if n not in {c.name for c in already}][:RETRY_LIMIT]
    if not todo:
        return
    prepared = suite.prepare(settings, "static")
    for name in todo:
        unit_name = name.split(" :: ", 1)[0]
        say(f"{suite.name}: retrying alone (fails static only): {name}")
        again = {c.name: c for c in suite.run_unit(settings, prepared, unit_name, only=[name]).cases}
        unit = static.units[unit_name]
        for i, case in enumerate(unit.cases):
            if case.name != name:
                continue
            retry = again.get(name)
            if retry is not None and retry.status == "pass":
                unit.cases[i] = Case(name, "pass", retried=True, output=case.output)
            else:
                unit.cases[i] = Case(name, "fail", output="(retried alone: failed again)\n" + case.output)
        results.save(settings.results, settings.arch, suite.name, runs)


def check_flavors(value: str) -> tuple[str, ...]:
    flavors = tuple(results.FLAVORS) if value == "both" else (value,)
    if any(f not in results.FLAVORS for f in flavors):
        raise UpstreamTestError(f"unknown flavor '{value}' (static, dynamic or both)")
    return flavors
