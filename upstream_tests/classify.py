"""Static against dynamic: every static failure is *environment* (the dynamic build of the same
version fails it too) or *ours* (it fails only static); skips are counted with their reasons.

A static failure with no dynamic result to compare is *unclassified*, and counts as ours
wherever a decision is made (the release gate): nothing is excused without evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .results import Case, Run

PASSED, SKIPPED, ENVIRONMENT, OURS, UNCLASSIFIED = "passed", "skipped", "environment", "ours", "unclassified"


@dataclass
class Verdict:
    name: str
    verdict: str
    static: Case
    dynamic: Case | None
    explanation: str = ""  # for an *ours* failure documented in known.py


@dataclass
class Summary:
    suite: str
    version: str
    arch: str
    tests: int = 0
    passed: int = 0
    environment: int = 0
    ours: int = 0  # unclassified included
    ours_explained: int = 0  # of `ours`: documented in known.py with the reason
    skipped: int = 0
    flaky: int = 0  # failed once, passed alone on the retry
    dynamic_only: list[str] = field(default_factory=list)  # pass static, fail dynamic: worth a look
    skip_reasons: Counter = field(default_factory=Counter)
    verdicts: list[Verdict] = field(default_factory=list)
    wall_static: float = 0.0
    wall_dynamic: float | None = None
    complete: bool = False

    def failures(self, verdict: str) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == verdict]


def classify(static: Run, dynamic: Run | None, known: dict[str, str] | None = None) -> Summary:
    """Summarise the static run, using the dynamic run to class each failure."""
    known = known or {}
    s = Summary(suite=static.suite, version=static.version, arch=static.arch,
                wall_static=static.wall, wall_dynamic=dynamic.wall if dynamic else None,
                complete=static.complete and bool(dynamic and dynamic.complete))
    other = dynamic.cases() if dynamic else {}
    for name, case in sorted(static.cases().items()):
        s.tests += 1
        twin = other.get(name)
        if case.retried:
            s.flaky += 1
        if case.status == "pass":
            s.passed += 1
            if twin and twin.status == "fail":
                s.dynamic_only.append(name)
            continue
        if case.status == "skip":
            s.skipped += 1
            s.skip_reasons[case.reason or "(no reason given)"] += 1
            continue
        if twin is None:
            verdict = UNCLASSIFIED
        elif twin.status == "fail":
            verdict = ENVIRONMENT
        else:  # passes, or is skipped, when built the ordinary way
            verdict = OURS
        v = Verdict(name, verdict, case, twin, known.get(name, ""))
        s.verdicts.append(v)
        if verdict == ENVIRONMENT:
            s.environment += 1
        else:
            s.ours += 1
            s.ours_explained += bool(v.explanation)
    return s
