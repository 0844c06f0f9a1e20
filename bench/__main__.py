"""`python -m bench [all|build|sizes|allocator|report]`: run benchmarks, then rewrite docs/BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

import click

from staticbuild.cli import default_cache

from . import allocator, build, report, sizes
from .common import BenchSettings, latest_results, save, say, today_results


@click.group(invoke_without_command=True)
@click.option("--cache", "seed", type=click.Path(path_type=Path, exists=True, file_okay=False),
              envvar="STATICBUILD_CACHE", default=default_cache,
              help="A staticbuild cache that holds the downloads (only read).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/var/tmp/staticbuild-bench"), show_default=True,
              help="Scratch space (about 15 GB).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repetitions of each cheap measurement (cold builds run once).")
@click.pass_context
def main(ctx: click.Context, seed: Path, work: Path, runs: int) -> None:
    """Benchmarks: build speed, cross-compile cost, sizes, allocator. Results: bench/results/<date>.json."""
    work.mkdir(parents=True, exist_ok=True)
    ctx.obj = BenchSettings(seed=seed.resolve(), work=work.resolve(), runs=runs, results=today_results())
    if ctx.invoked_subcommand is None:
        ctx.invoke(all_cmd)


def section(name: str, module) -> click.Command:
    """A command that runs one benchmark module, merges its results and rewrites the report."""
    @click.pass_obj
    def command(s: BenchSettings) -> None:
        save(s.results, name, module.run(s))
        say(f"{name}: wrote {s.results}")
        report.write(s.results)
    return main.command(name, help=module.__doc__.splitlines()[0])(command)


build_cmd = section("build", build)
sizes_cmd = section("sizes", sizes)
allocator_cmd = section("allocator", allocator)


@main.command("report")
def report_cmd() -> None:
    """Rewrite docs/BENCHMARKS.md, its plots and the README's headline from the latest results."""
    report.write(latest_results())


@main.command("all")
@click.pass_context
def all_cmd(ctx: click.Context) -> None:
    """Every benchmark (build, sizes, allocator), then the report."""
    for command in (build_cmd, sizes_cmd, allocator_cmd):
        ctx.invoke(command)


if __name__ == "__main__":
    main()
