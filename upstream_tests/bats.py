"""Running a bats file (Debian's bats, pinned by scripts/setup-upstream-tests) with TAP output,
optionally only some of its tests, and turning the TAP into result cases."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

from . import tap
from .common import need, run_captured, tail
from .isolation import Isolation
from .results import Case, Unit
from .suites import case_name

ERE_SPECIAL = re.compile(r"([.\[\]()*+?{}|^$\\])")


def ere_escape(text: str) -> str:
    """A literal for bash's `=~` (POSIX ERE), which bats --filter uses."""
    return ERE_SPECIAL.sub(r"\\\1", text)


def only_filter(only: list[str]) -> str:
    """Names are kept stripped (TAP loses trailing blanks), some upstream names end in one
    (podman's "podman run no /etc/mtab "): blanks around a name still match."""
    return "^[[:space:]]*(" + "|".join(ere_escape(n.split(" :: ", 1)[1]) for n in only) + ")[[:space:]]*$"


def declared_tests(bats_file: Path) -> list[str]:
    """The @test names of a file (read, not run): what a file that dies early should have run."""
    names = re.findall(r'^\s*@test\s+"((?:[^"\\]|\\.)*)"', bats_file.read_text(errors="replace"), re.M)
    names += re.findall(r"^\s*@test\s+'([^']*)'", bats_file.read_text(errors="replace"), re.M)
    return names


def run_file(bats_file: Path, unit: str, cwd: Path, env: Mapping[str, str], isolation: Isolation,
             only: list[str] | None = None, timeout: float = 3600, user: str | None = None,
             prefix_strip: str = "", log: Path | None = None, extra_args: tuple[str, ...] = ()) -> Unit:
    need("bats")
    argv = ["bats", "--tap", *extra_args]
    if only:
        argv += ["--filter", only_filter(only)]
    argv.append(str(bats_file))
    started = time.monotonic()
    output, note = run_captured(isolation.argv(argv, env, user=user), cwd, timeout)
    wall = round(time.monotonic() - started, 1)
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output)
    parsed = tap.parse(output, prefix_strip=prefix_strip)
    # bats reports a failing setup_suite/teardown_suite as a "not ok" line of its own, outside its
    # plan (bats-exec-suite's exit trap): not an upstream test, its output goes into the note
    suite_hooks = [c for c in parsed.cases if c.description in ("setup_suite", "teardown_suite")]
    parsed.cases = [c for c in parsed.cases if c not in suite_hooks]
    note = "; ".join([note, *(f"{c.description} failed: {tail(c.output, 3, 300)}" for c in suite_hooks
                              if c.status == "fail")]).strip("; ")
    cases = [Case(case_name(unit, c.description), c.status, reason=c.reason, output=c.output) for c in parsed.cases]
    if parsed.truncated or not parsed.cases:
        seen = {c.description for c in parsed.cases}
        wanted = [n for n in declared_tests(bats_file) if not only or case_name(unit, n) in only]
        lost = [n for n in wanted if n not in seen]
        note = note or f"bats stopped after {len(parsed.cases)} of {parsed.planned} tests"
        note += f": {tail(output, 4, 400)}"
        cases += [Case(case_name(unit, n), "fail", output=f"(never ran: {note})") for n in lost]
    return Unit(unit, wall, cases, note)
