"""crun's own suite: `tests/test_*.py` from the release tarball, each module a unit, run with
OCI_RUNTIME (the crun under test) and INIT (`make tests/init`, linked -all-static) as upstream's
Makefile runs them (`make check`'s PY_LOG_COMPILER). The C unit tests (tests_libcrun_*) test
the library in-tree, not the shipped binary, and are not run.

crun's tests print no reason for a skip (a test returns 77): the reason recorded is the
condition that guards `return 77` in the test's source.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import signal
import subprocess
import time
from functools import cache
from pathlib import Path

from .. import dynamic, static, tap, testdeps
from ..common import Settings, UpstreamTestError, clean_env, need, run_captured, tail
from ..isolation import Isolation
from ..results import Case, Unit
from ..sources import test_files, tree
from . import Prepared, Suite, case_name

TIMEOUT = 600


class CrunSuite(Suite):
    name = "crun"
    component = "crun"
    gate = ()  # every module: the suite takes seconds (see units())
    smoke = ("test_start.py", "test_exec.py", "test_uid_gid.py", "test_hostname.py", "test_pid.py")

    def units(self, settings: Settings) -> list[str]:
        return test_files(settings, "crun", "tests/test_*.py")

    def prepare(self, settings: Settings, flavor: str) -> Prepared:
        need("python3", "unshare")
        if settings.arch != dynamic.host_arch():
            return self._prepare_emulated(settings, flavor)
        tree_ = dynamic.ensure(settings, "crun")  # the test init comes from this build, for both flavors
        crun = static.prefix(settings, "podman") / "lib/podman/crun" if flavor == "static" else tree_ / "bin/crun"
        return Prepared(flavor, {"crun": crun}, {"init": tree_ / "share/crun-tests/init",
                                                 "pythonpath": testdeps.python_libmount(settings)})

    def _prepare_emulated(self, settings: Settings, flavor: str) -> Prepared:
        """arm64 on an amd64 machine: the static bundle's crun under qemu-user (binfmt_misc), with a test
        init cross-compiled statically (glibc) by Debian's aarch64 gcc."""
        if flavor != "static" or settings.arch != "arm64":
            raise UpstreamTestError(f"{settings.arch} on this machine: only the static arm64 bundle runs, under qemu-user")
        need("aarch64-linux-gnu-gcc")
        init = settings.dir("crun-arm64") / "init"
        if not init.exists():
            src = tree(settings, "crun") / "tests" / "init.c"
            cfg = settings.dir("crun-arm64", "cfg")
            (cfg / "config.h").write_text("#define HAVE_ERROR_H 1\n#define HAVE_LINUX_IOPRIO_H 1\n")
            proc = subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-O2", f"-I{cfg}", "-o", init, src],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise UpstreamTestError(f"cannot build crun's test init for arm64: {tail(proc.stderr, 3)}")
        return Prepared(flavor, {"crun": static.prefix(settings, "podman") / "lib/podman/crun"},
                        {"init": init, "pythonpath": testdeps.python_libmount(settings)})

    def run_unit(self, settings: Settings, prepared: Prepared, unit: str, only: list[str] | None = None) -> Unit:
        tests = settings.work / "crun" / settings.arch / prepared.flavor / "tests"
        if not tests.exists():
            shutil.copytree(tree(settings, "crun") / "tests", tests)
        env = clean_env(OCI_RUNTIME=str(prepared.binaries["crun"]), INIT=str(prepared.data["init"]),
                        PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        if prepared.data.get("pythonpath"):
            env["PYTHONPATH"] = str(prepared.data["pythonpath"])
        if only:
            env["RUN_TESTS"] = " ".join(n.split(" :: ", 1)[1] for n in only)
        emulated = settings.arch != dynamic.host_arch()
        argv = Isolation(cgroup="v1", read_only=(prepared.binaries["crun"].parent,) if emulated else ()).argv(
            ["python3", unit], env)
        before = leftovers()
        started = time.monotonic()
        output, timed_out = run_captured(argv, tests, TIMEOUT)
        wall = round(time.monotonic() - started, 1)
        clean_up(before)
        parsed = tap.parse(output, diag_before=True)
        conditions = skip_conditions(tests / unit)
        cases = [Case(case_name(unit, c.description), c.status,
                      reason=(conditions.get(c.description, "returned 77") if c.status == "skip" else ""),
                      output=c.output) for c in parsed.cases]
        note = timed_out
        if parsed.planned == 0:  # `1..0`: the module skipped itself whole (test_mounts.py without libmount)
            return Unit(unit, wall, [Case(case_name(unit, n), "skip", reason=f"{unit} skips itself whole (1..0)")
                                     for n in self._test_names(tests / unit)
                                     if not only or case_name(unit, n) in only], "skipped itself whole")
        if parsed.truncated or not parsed.cases:
            note = (f"{timed_out}; " if timed_out else "") + (f"the module stopped after {len(parsed.cases)} of "
                                                              f"{parsed.planned} tests: {tail(output, 5)}")
            planned = self._test_names(tests / unit)
            seen = {c.description for c in parsed.cases}
            cases += [Case(case_name(unit, n), "fail", output=tail(output)) for n in planned
                      if n not in seen and (not only or case_name(unit, n) in only)]
        return Unit(unit, wall, cases, note)

    @staticmethod
    def _test_names(module: Path) -> list[str]:
        return list(all_tests(module.read_text()))


FROZEN = Path("/sys/fs/cgroup/freezer/frozen")


def leftovers() -> tuple[set[int], set[Path]]:
    """Frozen tasks and the suite's cgroups now (test_delete.py freezes a container on cgroup v1 hosts
    and, by design, leaves it behind when `crun delete -f` gets EBUSY)."""
    tasks = {int(t) for t in (FROZEN / "tasks").read_text().split()} if (FROZEN / "tasks").exists() else set()
    return tasks, set(Path("/sys/fs/cgroup").glob("*/test-tmp*"))


def clean_up(before: tuple[set[int], set[Path]]) -> None:
    """Thaw and end what this unit left frozen, and remove the cgroups it left: nothing outlives a run."""
    tasks, groups = leftovers()
    new_tasks, new_groups = tasks - before[0], groups - before[1]
    if new_tasks:
        (FROZEN / "freezer.state").write_text("THAWED")
        for pid in new_tasks:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        if not before[0]:
            with contextlib.suppress(OSError):
                FROZEN.rmdir()
    for group in sorted(new_groups, reverse=True):
        with contextlib.suppress(OSError):
            group.rmdir()


def all_tests(source: str) -> dict[str, str]:
    """crun's `all_tests = {"name": function, ...}` of a test module: test name -> function name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "all_tests" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                return {k.value: v.id for k, v in zip(node.value.keys, node.value.values)
                        if isinstance(k, ast.Constant) and isinstance(v, ast.Name)}
    return {}


@cache
def _conditions(source: str) -> dict[str, str]:
    tree_ = ast.parse(source)
    functions = {n.name: n for n in ast.walk(tree_) if isinstance(n, ast.FunctionDef)}
    out = {}
    for test, function in all_tests(source).items():
        node = functions.get(function)
        if node is None:
            continue
        guards = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.If) and any(isinstance(s, ast.Return) and isinstance(s.value, ast.Constant)
                                               and s.value.value == 77 for s in sub.body):
                guards.append(ast.unparse(sub.test))
        if guards:
            out[test] = "skips when " + " or ".join(dict.fromkeys(guards))
    return out


def skip_conditions(module: Path) -> dict[str, str]:
    """Test name -> "skips when <condition>" from the test's source (crun prints no skip reason)."""
    try:
        return _conditions(module.read_text())
    except (OSError, SyntaxError):
        return {}
