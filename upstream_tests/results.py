"""The result files: one JSON per arch and suite, holding the static and the dynamic run.

A run is made of units (a test file, or crun's test module): each unit is written as soon as
it finishes, so an interrupted suite resumes with the units it has not finished.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .common import UpstreamTestError

FLAVORS = ("static", "dynamic")
STATUSES = ("pass", "fail", "skip")


@dataclass
class Case:
    """One upstream test in one run."""

    name: str  # unique in the suite: "<unit> :: <test description>"
    status: str  # pass, fail or skip
    reason: str = ""  # a skip's reason, as the suite printed it
    output: str = ""  # the end of a failure's output
    retried: bool = False  # failed once, then passed when run again alone (a flake)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise UpstreamTestError(f"test '{self.name}': unknown status '{self.status}'")


@dataclass
class Unit:
    name: str
    wall: float
    cases: list[Case]
    note: str = ""  # e.g. the file produced no TAP at all (its setup failed)


@dataclass
class Run:
    suite: str
    version: str
    flavor: str  # static or dynamic
    arch: str
    binaries: dict[str, str] = field(default_factory=dict)  # name -> what `--version` said and the path
    units: dict[str, Unit] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)  # every unit this run is meant to hold
    started: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.planned) and all(u in self.units for u in self.planned)

    @property
    def wall(self) -> float:
        return round(sum(u.wall for u in self.units.values()), 1)

    def cases(self) -> dict[str, Case]:
        return {c.name: c for u in self.units.values() for c in u.cases}


def gate_path(results: Path, tool: str, arch: str) -> Path:
    """The release gate's last result here (gate.py writes it beside its --out file): the source of
    docs/UPSTREAM-TESTS.md's gate section."""
    return results / "gate" / f"{tool}-{arch}.json"


def gate_records(results: Path) -> list[dict]:
    found = []
    for file in sorted((results / "gate").glob("*.json")):
        try:
            found.append(json.loads(file.read_text()))
        except ValueError as exc:
            raise UpstreamTestError(f"{file}: not a gate result ({exc}); delete it or run the gate again") from None
    return found


def path(results: Path, arch: str, suite: str) -> Path:
    return results / arch / f"{suite}.json"


def load(results: Path, arch: str, suite: str) -> dict[str, Run]:
    """{flavor: Run} as recorded; a damaged file is an error, never silently a fresh start."""
    file = path(results, arch, suite)
    if not file.exists():
        return {}
    try:
        raw = json.loads(file.read_text())
        return {flavor: run_from_dict(data) for flavor, data in raw["runs"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamTestError(f"{file}: not a result file ({exc}); delete it to start the suite again") from None


def run_from_dict(data: dict) -> Run:
    units = {name: Unit(name=name, wall=u["wall"], note=u.get("note", ""),
                        cases=[Case(**c) for c in u["cases"]]) for name, u in data["units"].items()}
    return Run(suite=data["suite"], version=data["version"], flavor=data["flavor"], arch=data["arch"],
               binaries=data.get("binaries", {}), units=units, planned=data.get("planned", []),
               started=data.get("started", ""))


def save(results: Path, arch: str, suite: str, runs: dict[str, Run]) -> Path:
    """Written whole under a temporary name and renamed: a result file is never half-written."""
    file = path(results, arch, suite)
    file.parent.mkdir(parents=True, exist_ok=True)
    data = {"suite": suite, "arch": arch, "runs": {}}
    for flavor, run in sorted(runs.items()):
        d = asdict(run)
        d["complete"], d["wall"] = run.complete, run.wall
        data["runs"][flavor] = d
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, file)
    return file


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
