"""`python -m bench [all|prefetch|build|sizes|allocator|runtime|report]`: run benchmarks, rewrite docs/BENCHMARKS.md."""

from __future__ import annotations

import time
from pathlib import Path

import click

from staticbuild.cli import default_cache

from . import allocator, build, prefetch, report, runtime, sizes
from .common import BenchSettings, load, save, say, today_results


@click.group(invoke_without_command=True)
@click.option("--cache", "downloads_from", type=click.Path(path_type=Path, file_okay=False),
              envvar="STATICBUILD_CACHE", default=default_cache,
              help="A staticbuild cache whose downloads are reused if it exists (only read).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/var/tmp/staticbuild-bench"), show_default=True,
              help="Scratch space (7.6 GB left after a full run; compile caches are dropped as it goes).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repetitions of each cheap measurement (cold builds and bumps run once).")
@click.pass_context
def main(ctx: click.Context, downloads_from: Path, work: Path, runs: int) -> None:
    """Benchmarks: build speed, cross-compile cost, sizes, allocator, run time against a dynamic build.

    Results: bench/results/<date>.json."""
    work.mkdir(parents=True, exist_ok=True)
    ctx.obj = BenchSettings(downloads_from=downloads_from.resolve() if downloads_from.is_dir() else None,
                            work=work.resolve(), runs=runs, results=today_results())
    if ctx.invoked_subcommand is None:
        ctx.invoke(all_cmd)


def section(name: str, module, fetch_first: bool) -> click.Command:
    """A command that runs one benchmark module (after the downloads it needs), merges its results
    and rewrites the report."""
    @click.pass_obj
    def command(s: BenchSettings) -> None:
        started = time.monotonic()
        if fetch_first:
            save(s.results, "prefetch", prefetch.run(s))
        save(s.results, name, module.run(s))
        save(s.results, "durations", load(s.results).get("durations", {}) | {name: round(time.monotonic() - started)})
        say(f"{name}: wrote {s.results}")
        report.write()
    return main.command(name, help=module.__doc__.splitlines()[0])(command)


prefetch_cmd = section("prefetch", prefetch, fetch_first=False)
build_cmd = section("build", build, fetch_first=True)
sizes_cmd = section("sizes", sizes, fetch_first=False)
allocator_cmd = section("allocator", allocator, fetch_first=True)
# no prefetch: it builds nothing itself (upstream_tests keeps the bundle and the dynamic builds)
runtime_cmd = section("runtime", runtime, fetch_first=False)


@main.command("report")
def report_cmd() -> None:
    """Rewrite docs/BENCHMARKS.md, its plots and the README's headline from the latest results."""
    report.write()


@main.command("all")
@click.pass_context
def all_cmd(ctx: click.Context) -> None:
    """Every benchmark (build, sizes, allocator, runtime), then the report."""
    for command in (build_cmd, sizes_cmd, allocator_cmd, runtime_cmd):
        ctx.invoke(command)


if __name__ == "__main__":
    main()
