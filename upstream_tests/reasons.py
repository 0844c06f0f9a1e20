"""Why an *environment* failure fails on this machine: each one is named, from what it printed.

Rules are tried in order on the failure's output (both flavors' output is searched) and then
on its name; the first match names the reason. A failure no rule names shows up in the report
as "not named yet", which is a to-do, never an excuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    suite: str  # a suite name, or "" for any
    pattern: str  # regex searched in the output (and the test name)
    reason: str


RULES: tuple[Rule, ...] = ()


def reason_for(suite: str, name: str, *outputs: str) -> str:
    text = "\n".join(outputs)
    for rule in RULES:
        if rule.suite and rule.suite != suite.split("-")[0]:
            continue
        if re.search(rule.pattern, text, re.M) or re.search(rule.pattern, name):
            return rule.reason
    return ""
