"""`python -m rehearsal [all|prepare|images|dockerfile|shell]`: the release pipeline rehearsed with act.

`make rehearse` runs the tests (tests/test_rehearsal.py), which drive these same steps and
assert on the local GitHub's state; this command line is for running or debugging a piece.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click

from . import dockerfile, images, scenarios
from .common import DEFAULT_ACTIONS, DEFAULT_WORK, RehearsalError, say
from .session import installed_podman, podman_bundle, session


@click.group(invoke_without_command=True)
@click.option("--work", type=click.Path(path_type=Path), default=DEFAULT_WORK, show_default=True,
              help="Scratch space, kept between runs (images, podman storage, act's caches).")
@click.option("--actions", "actions_folder", type=click.Path(path_type=Path), default=DEFAULT_ACTIONS,
              show_default=True, help="The actions' repository snapshots and their README.")
@click.pass_context
def main(ctx: click.Context, work: Path, actions_folder: Path) -> None:
    """Run check.yml -> build.yml (both arches) -> test-arm64 -> release under act, on the bundle's podman."""
    ctx.obj = (work.resolve(), actions_folder.resolve())
    if ctx.invoked_subcommand is None:
        ctx.invoke(all_cmd)


@main.command("all")
@click.pass_obj
def all_cmd(obj) -> None:
    """Every scenario (failing build, release, second dispatch, cut-off run), then the Dockerfile fallback."""
    work, actions_folder = obj
    started = time.monotonic()
    with session(work, actions_folder) as s:
        for outcome in (scenarios.failing_build(s), first := scenarios.release(s), scenarios.noop(s, first),
                        scenarios.cut_off(s)):
            for r in outcome.runs:
                say(f"{r.name}: act exit {r.returncode} in {r.seconds / 60:.1f} min; jobs: {r.jobs}")
        for repo in ("rehearsal/failing", "rehearsal/staticbuild", "rehearsal/cut-off"):
            for tag, rel in s.github.tags(repo).items():
                say(f"{repo} {tag}: draft={rel['draft']} assets={s.github.uploaded(rel)}")
        dockerfile.rehearse(s.podman, work)
    say(f"rehearsal done in {(time.monotonic() - started) / 60:.1f} min")


@main.command("prepare")
@click.pass_obj
def prepare_cmd(obj) -> None:
    """Only make what the runs need: the podman bundle, the images, Go's tool cache, the actions."""
    work, actions_folder = obj
    with session(work, actions_folder):
        pass


@main.command("shell")
@click.pass_obj
def shell_cmd(obj) -> None:
    """A shell with DOCKER_HOST pointing at the bundle's podman service (for docker / act by hand)."""
    work, actions_folder = obj
    with session(work, actions_folder) as s:
        say(f"DOCKER_HOST={s.act.docker_host}  GITHUB_API_URL={s.github.url}; exit the shell to stop them")
        subprocess.run([os.environ.get("SHELL", "/bin/sh")], env={**os.environ, "DOCKER_HOST": s.act.docker_host,
                                                                  "GITHUB_API_URL": s.github.url})


@main.command("dockerfile")
@click.pass_obj
def dockerfile_cmd(obj) -> None:
    """Build the Dockerfile with the bundle's podman on the local base images, then package skopeo in it."""
    work, _ = obj
    podman = installed_podman(work, podman_bundle(work))
    dockerfile.rehearse(podman, work)


@main.command("image")
@click.argument("name", type=click.Choice(["runner-amd64", "runner-arm64", "debian", "debian-slim", "golang"]))
@click.pass_obj
def image_cmd(obj, name: str) -> None:
    """Build one image's root file system tarball (no podman needed)."""
    work, _ = obj
    recipe = {"runner-amd64": images.RUNNER_AMD64, "runner-arm64": images.RUNNER_ARM64, "debian": images.DEBIAN,
              "debian-slim": images.DEBIAN_SLIM, "golang": images.GOLANG}[name]
    say(f"made {images.Builder(None, work).tarball(recipe)}")  # type: ignore[arg-type]


def run() -> None:
    try:
        main(standalone_mode=False)
    except RehearsalError as exc:
        print(f"rehearsal: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    run()
