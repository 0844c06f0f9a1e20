"""TAP as bats (`--tap`) and crun's tests_utils.py print it: plan, `ok`/`not ok`, skips, diagnostics."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .common import tail

TEST_LINE = re.compile(r"^(?P<ok>ok|not ok) (?P<num>\d+)(?: -)? ?(?P<desc>.*?)\s*$")
# bats: "ok 3 name # skip (reason)" or "# skip reason"; crun: "ok 3 - name #SKIP"
SKIP = re.compile(r"^(?P<desc>.*?)\s*#\s*skip\b\s*(?:\((?P<paren>.*)\)|(?P<plain>.*))$", re.IGNORECASE)
PLAN = re.compile(r"^1\.\.(?P<count>\d+)")
# crun's tests_utils.py prints "ok N - name" after the test's own stderr, which may lack its last
# newline (test_mounts.py's idmapped-mounts-symlink writes "start"): "startok 1 - name"
GLUED = re.compile(r"(?P<ok>not ok|ok) (?P<num>\d+) - (?P<desc>.*?)\s*$")


@dataclass
class TapCase:
    number: int
    description: str
    status: str  # pass, fail, skip
    reason: str = ""
    output: str = ""


@dataclass
class TapResult:
    planned: int | None
    cases: list[TapCase]
    bailed: bool = False

    @property
    def truncated(self) -> bool:
        """Fewer results than the plan announced (the runner died in the middle)."""
        return self.planned is not None and len(self.cases) < self.planned


def parse(text: str, prefix_strip: str = "", diag_before: bool = False) -> TapResult:
    """Parse TAP; diagnostics (`# ...` lines, and anything else) after a result belong to it, or,
    with `diag_before` (crun's tests print stderr before the result line), those before it.

    `prefix_strip` is a regex removed from descriptions (podman prints "[030] " before each).
    """
    planned, cases, bailed = None, [], False
    diag: list[str] = []

    def close() -> None:
        if diag_before:  # what follows a result belongs to the next one
            return
        if cases and diag:
            cases[-1].output = tail("\n".join(diag))
        diag.clear()

    for line in text.splitlines():
        if (m := PLAN.match(line)) and planned is None and not cases:
            planned = int(m["count"])
            continue
        if line.startswith("Bail out!"):
            bailed = True
            continue
        if diag_before and not TEST_LINE.match(line):
            glued = [g for g in GLUED.finditer(line) if int(g["num"]) == len(cases) + 1 and g.start() > 0]
            if glued:
                diag.append(line[:glued[-1].start()])
                line = line[glued[-1].start():]
        if m := TEST_LINE.match(line):
            close()
            desc, status, reason = m["desc"], "pass" if m["ok"] == "ok" else "fail", ""
            if (s := SKIP.match(desc)) and status == "pass":
                desc, status = s["desc"], "skip"
                reason = (s["paren"] if s["paren"] is not None else s["plain"] or "").strip()
            if prefix_strip:
                desc = re.sub(prefix_strip, "", desc)
            output = tail("\n".join(diag)) if diag_before and status == "fail" else ""
            if diag_before:
                diag.clear()
            cases.append(TapCase(int(m["num"]), desc.strip(), status, reason, output))
            continue
        diag.append(line[2:] if line.startswith("# ") else line)
    close()
    return TapResult(planned, cases, bailed)
