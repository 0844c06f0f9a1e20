"""`python -m upstream_tests [run|report|gate|list]`: upstream's suites against our static bundles
and against the same versions built the ordinary way; docs/UPSTREAM-TESTS.md from the results."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import click

from staticbuild.cli import default_cache

from . import gate as gate_mod
from . import report, runner
from .common import REPO, RESULTS, Settings, UpstreamTestError, say
from .suites import all_suites


def suite_names(value: str | None) -> list[str]:
    known = all_suites()
    if not value or value == "all":
        return list(known)
    names = [v.strip() for v in value.replace(",", " ").split()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UpstreamTestError(f"unknown suite {', '.join(unknown)} (known: {', '.join(known)})")
    return names


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--work", type=click.Path(path_type=Path), default=Path("/var/tmp/staticbuild-upstream"),
              show_default=True, help="Scratch space: sources, bundles, dynamic builds, suite state, logs.")
@click.option("--cache", type=click.Path(path_type=Path), envvar="STATICBUILD_CACHE", default=default_cache,
              show_default="~/.cache/staticbuild", help="The staticbuild cache the bundles are packaged from.")
@click.option("--lock", "lock_path", type=click.Path(path_type=Path), default=REPO / "staticbuild.lock",
              show_default="./staticbuild.lock", help="The lock file: the versions under test.")
@click.option("--arch", type=click.Choice(["amd64", "arm64"]), default="amd64", show_default=True,
              help="arm64 runs the static bundle's smoke subset under qemu-user.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=RESULTS, show_default=True,
              help="Where the result files are kept.")
@click.option("--bundles", "bundles_dir", type=click.Path(path_type=Path, file_okay=False), envvar="UPSTREAM_BUNDLES",
              default=None, help="Test the release bundles in this folder (e.g. the build's dist/) as they are; a "
                                 "bundle it lacks is packaged from the cache.")
@click.pass_context
def main(ctx: click.Context, work: Path, cache: Path, lock_path: Path, arch: str, results_dir: Path,
         bundles_dir: Path | None) -> None:
    """Upstream's own test suites against the static bundles, every failure classed."""
    if os.geteuid() != 0:
        raise UpstreamTestError("run as root: the suites create namespaces, mounts and users")
    if not lock_path.is_file():
        raise UpstreamTestError(f"lock file not found: {lock_path}")
    work.mkdir(parents=True, exist_ok=True)
    ctx.obj = Settings(work=work.resolve(), cache=cache.resolve(), lock=lock_path.resolve(), arch=arch,
                       results=results_dir.resolve(), bundles=bundles_dir.resolve() if bundles_dir else None)


@main.command("list")
@click.pass_obj
def list_cmd(settings: Settings) -> None:
    """The suites, their units and the release gate's subset."""
    for name, suite in all_suites().items():
        units = suite.units(settings)
        print(f"{name}: {len(units)} units; gate: {', '.join(suite.gate) or 'all'}; "
              f"arm64 smoke: {', '.join(suite.smoke) or 'none'}")


@main.command("run")
@click.option("--suite", "suites", envvar="SUITE", default="all", show_default=True,
              help="Suites to run (comma-separated): " + ", ".join(["crun", "netavark", "skopeo", "podman",
                                                                     "podman-rootless", "buildah"]))
@click.option("--flavor", default="both", show_default=True, help="static, dynamic or both.")
@click.option("--fresh", is_flag=True, help="Forget recorded results of these suites and run them again.")
@click.option("--no-report", is_flag=True, help="Do not rewrite docs/UPSTREAM-TESTS.md afterwards.")
@click.pass_obj
def run_cmd(settings: Settings, suites: str, flavor: str, fresh: bool, no_report: bool) -> None:
    """Run suites (resuming where they stopped), then rewrite docs/UPSTREAM-TESTS.md."""
    flavors = runner.check_flavors(flavor)
    chosen = suite_names(suites)
    if settings.arch == "arm64":
        flavors = ("static",)
    started = time.monotonic()
    for name in chosen:
        suite = all_suites()[name]
        units = None
        if settings.arch == "arm64":
            if not suite.smoke:
                say(f"{name}: no arm64 smoke subset (see docs/UPSTREAM-TESTS.md)")
                continue
            units = list(suite.smoke)
        runner.run_suite(settings, suite, flavors, units=units, fresh=fresh)
    say(f"done in {time.monotonic() - started:.0f} s")
    if not no_report and settings.results == RESULTS.resolve():
        say(f"wrote {report.write(settings)}")


@main.command("report")
@click.pass_obj
def report_cmd(settings: Settings) -> None:
    """Rewrite docs/UPSTREAM-TESTS.md from the recorded results."""
    say(f"wrote {report.write(settings)}")


@main.command("gate")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The gate's result file (JSON) that `staticbuild release --gate` reads.")
@click.option("--tool", required=True, type=click.Choice(sorted(gate_mod.TOOL_SUITES)),
              help="The tool being released: its suites and its helpers' run.")
@click.option("--suite", "suites", default=None, help="Only these suites (comma-separated) [default: the tool's].")
@click.pass_obj
def gate_cmd(settings: Settings, out: Path, tool: str, suites: str | None) -> None:
    """The release gate: the named subset, static first; the dynamic build only for what failed."""
    result = gate_mod.run(settings, tool, suite_names(suites) if suites else None, out)
    say(f"gate ({settings.arch}): {result['summary']}; wrote {out}")


@main.command("cleanup")
@click.option("--all", "everything", is_flag=True, help="Also delete the work folder (sources, builds, state).")
@click.pass_obj
def cleanup_cmd(settings: Settings, everything: bool) -> None:
    """Remove what the suites leave on the machine: the rootless user and its processes (and the work folder)."""
    from . import containers_env
    containers_env.remove_user()
    if everything:
        import subprocess
        subprocess.run(["rm", "-rf", "--one-file-system", str(settings.work)], check=True)
    say("cleaned up" + (f"; removed {settings.work}" if everything else ""))


def entry() -> None:
    """Every error ends in one line and exit 1 (click's own usage errors: their one message line, exit 2)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: a running suite's processes are ended
    try:
        main(standalone_mode=False)
    except UpstreamTestError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    entry()
