"""The `staticbuild` command line: thin commands over the catalog, engine and verifier."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import signing
from .arch import Arch
from .bundle import find_bundle
from .catalog import Catalog
from .checksums import check_checksums, write_checksums
from .engine import ALLOCATORS, Engine, Settings
from .errors import BuildError, StaticbuildError
from .fetch import SourceCache
from .lock import Lock
from .package import package
from .pinning import pin
from .sources import write_sources
from .verify import Report, expand, verify_file

console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width
DEFAULT_LOCK = Path("staticbuild.lock")  # the checkout a command runs in (as a workflow step does)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "staticbuild"


def parse_arches(_ctx, _param, value: str) -> list[Arch]:
    try:
        return Arch.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--cache", type=click.Path(path_type=Path), envvar="STATICBUILD_CACHE", default=default_cache,
              show_default="~/.cache/staticbuild", help="Where sources, builds and logs are kept.")
@click.option("--lock", "lock_path", type=click.Path(path_type=Path), envvar="STATICBUILD_LOCK",
              default=DEFAULT_LOCK, show_default="./staticbuild.lock",
              help="The lock file with pinned versions and digests.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=os.cpu_count() or 2, show_default=True,
              help="Parallel jobs for each build step.")
@click.option("-v", "--verbose", is_flag=True, help="Stream each build step's log to the console.")
@click.pass_context
def cli(ctx: click.Context, cache: Path, lock_path: Path, jobs: int, verbose: bool) -> None:
    """Static musl + mimalloc builds of podman, buildah, skopeo and their helpers, for amd64 and arm64."""
    ctx.obj = Settings(cache=cache.resolve(), lock=lock_path.resolve(), jobs=jobs, verbose=verbose)


def load(settings: Settings) -> tuple[Catalog, Lock]:
    return Catalog.load(), Lock.load(settings.lock)


@cli.command("list")
@click.pass_obj
def list_cmd(settings: Settings) -> None:
    """Show the catalog: each component, its pinned version, build system and dependencies."""
    catalog, lock = load(settings)
    table = Table("component", "version", "build system", "depends on", "installs")
    for recipe in catalog:
        version = lock.pins[recipe.name].version if recipe.name in lock.pins else "(from its parts)"
        table.add_row(recipe.name, version, recipe.builder.kind, ", ".join(recipe.depends) or "-",
                      ", ".join(sorted(Path(b).name for b in recipe.all_binaries())) or "-")
    console.print(table)


@cli.command()
@click.argument("components", nargs=-1)
@click.option("--arch", "arches", default="amd64", callback=parse_arches, show_default=True,
              help="amd64, arm64 or all.")
@click.option("--out", type=click.Path(path_type=Path), help="Install the components' binaries into OUT/<arch>/bin/.")
@click.option("--allocator", type=click.Choice(ALLOCATORS), default="mimalloc", show_default=True,
              help="musl: link musl's own malloc instead (for comparisons; bundles always carry mimalloc).")
@click.pass_obj
def build(settings: Settings, components: tuple[str, ...], arches: list[Arch], out: Path | None,
          allocator: str) -> None:
    """Build COMPONENTS (default: every component that installs binaries) and what they need.

    Cached results are reused; a failed step prints its log's last lines and path.
    """
    settings = dataclasses.replace(settings, allocator=allocator)
    catalog, lock = load(settings)
    components = components or tuple(r.name for r in catalog if r.binaries)
    engine = Engine(settings, catalog, lock, err)
    results = engine.build(components, arches)
    if out:
        for path in engine.install(results, components, out):
            console.print(f"installed {path}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-run", is_flag=True, help="Only inspect the ELF files; do not run them.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON instead of a table.")
@click.pass_obj
def verify(settings: Settings, paths: tuple[Path, ...], no_run: bool, as_json: bool) -> None:
    """Check binaries (files, directories or tarballs): static, right machine, mimalloc linked, version runs."""
    catalog, lock = load(settings)
    versions = {name: pin.version for name, pin in lock.pins.items()}
    with expand(list(paths)) as files:
        if not files:
            raise StaticbuildError(f"no ELF files found in {', '.join(map(str, paths))}")
        reports = [verify_file(f, catalog, versions, run=not no_run) for f in files]
    if as_json:
        console.print_json(data=[r.as_dict() for r in reports])
    else:
        print_reports(reports)
    failed = sum(not r.ok for r in reports)
    if failed:
        raise StaticbuildError(f"{failed} of {len(reports)} binaries failed verification")


def print_reports(reports: list[Report]) -> None:
    table = Table("binary", "arch", "linkage", "allocator", "version check", "result")
    for column in table.columns:
        column.overflow = "fold"  # never cut a path or a reason short in narrow CI logs
    for r in reports:
        result = "[green]ok[/]" if r.ok else "[red]" + "; ".join(r.problems) + "[/]"
        table.add_row(str(r.path), str(r.arch or "?"), r.linkage, r.allocator, r.version, result)
    console.print(table)
    for r in reports:
        if not r.ok:
            console.print(f"FAILED {r.path}: {'; '.join(r.problems)}", soft_wrap=True, markup=False, highlight=False)


@cli.command("package")
@click.argument("tool")
@click.option("--arch", "arches", default="amd64", callback=parse_arches, show_default=True,
              help="amd64, arm64 or all.")
@click.option("--variant", help="podman: full (default; with every runtime helper) or minimal (podman alone).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist"), show_default=True)
@click.option("--no-build", is_flag=True, help="Use cached builds only; fail if one is missing.")
@click.pass_obj
def package_cmd(settings: Settings, tool: str, arches: list[Arch], variant: str | None, out: Path,
                no_build: bool) -> None:
    """Make TOOL's release bundle (.tar.zst) and its SBOM (.cdx.json) in OUT, and rewrite OUT/checksums.txt.

    Components that are not built yet are built first (unless --no-build).
    """
    spec = find_bundle(tool, variant)
    catalog, lock = load(settings)
    for arch in arches:
        done = package(settings, catalog, lock, spec, arch, out, build_missing=not no_build, console=err)
        size = done.bundle.stat().st_size
        console.print(f"packaged {done.bundle} ({done.files} files, {size / 1e6:.1f} MB, {done.seconds:.1f}s) "
                      f"and {done.sbom.name}")


@cli.command("sources")
@click.argument("tool")
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist"), show_default=True)
@click.pass_obj
def sources_cmd(settings: Settings, tool: str, out: Path) -> None:
    """Write TOOL's corresponding source (every pinned source archive of its bundles, the patches, the lock
    entries, how to rebuild) as OUT/TOOL-vVERSION-sources.tar.zst, and rewrite OUT/checksums.txt."""
    find_bundle(tool, None)  # a known tool, or one line saying which are
    catalog, lock = load(settings)
    path = write_sources(catalog, lock, tool, out, SourceCache(settings.cache))
    write_checksums(out)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@cli.command("checksums")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
def checksums_cmd(folder: Path) -> None:
    """Write FOLDER/checksums.txt (sha256sum format) over its bundles and SBOMs."""
    console.print(f"wrote {write_checksums(folder)}")


@cli.command("sign")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--key", type=click.Path(path_type=Path), help="cosign private key (password in COSIGN_PASSWORD).")
@click.option("--keyless", is_flag=True, help="Sign with the CI's OIDC identity (GitHub Actions: id-token: write).")
def sign_cmd(folder: Path, key: Path | None, keyless: bool) -> None:
    """Sign every bundle, SBOM and checksums.txt in FOLDER: one X.sigstore.json per file."""
    if bool(key) == keyless:
        raise click.UsageError("give exactly one of --key or --keyless")
    for path in signing.sign(folder, key):
        console.print(f"signed {path.name.removesuffix(signing.SUFFIX)} -> {path.name}")


@cli.command("verify-release")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--key", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="cosign public key.")
@click.option("--certificate-identity", help="Keyless: the signing workflow, e.g. "
              "https://github.com/OWNER/REPO/.github/workflows/build.yml@refs/heads/main")
@click.option("--certificate-oidc-issuer", default=signing.GITHUB_ISSUER, show_default=True)
def verify_release_cmd(folder: Path, key: Path | None, certificate_identity: str | None,
                       certificate_oidc_issuer: str) -> None:
    """Check FOLDER's checksums.txt and every file's cosign signature."""
    identity = signing.Identity(key, certificate_identity, certificate_oidc_issuer)
    problems = check_checksums(folder)
    files = signing.signed_files(folder)
    for path in files:
        try:
            signing.verify(path, identity)
        except StaticbuildError as exc:
            problems.append(str(exc))
    for problem in problems:
        err.print(f"FAILED {problem}", markup=False, highlight=False)
    if problems:
        raise StaticbuildError(f"{folder}: {len(problems)} problem(s) in checksums or signatures")
    console.print(f"{folder}: checksums and signatures of {len(files)} files verified")


def _terminate(_signum, _frame) -> None:
    raise KeyboardInterrupt  # same clean-up path as Ctrl-C: child steps stopped, nothing half-done kept


@cli.command("pin")
@click.argument("component")
@click.argument("version")
@click.pass_obj
def pin_cmd(settings: Settings, component: str, version: str) -> None:
    """Pin COMPONENT at VERSION in the lock file, with a checked digest for each place it can come from."""
    catalog, lock = load(settings)
    table = Table("location", "sha256", "how it was checked")
    for r in pin(catalog.get(component), version, lock):
        table.add_row(r.source.describe() if r.source else "(skipped)", r.source.sha256[:16] + "…" if r.source else "",
                      r.note)
    console.print(table)
    console.print(f"pinned {component} {version} in {lock.path}")


# --- GitHub: upstream check and releases --------------------------------------------------

import json  # noqa: E402  (these imports are kept with the commands that use them)

from . import upstream  # noqa: E402
from .github import GitHub, Target  # noqa: E402
from .mirrors import DebianArchive  # noqa: E402
from .publish import Publisher, keyless_identity  # noqa: E402


def github_options(command):
    """--api-url, --repo and --max-wait; the token comes only from GITHUB_TOKEN or GH_TOKEN (never argv)."""
    command = click.option("--max-wait", type=click.FloatRange(min=0), default=300, show_default=True,
                           envvar="STATICBUILD_GITHUB_MAX_WAIT",
                           help="Longest wait (seconds) for a rate limit to reset; longer is an error.")(command)
    command = click.option("--repo", help="This repository, OWNER/NAME [default: $GITHUB_REPOSITORY].")(command)
    return click.option("--api-url", help="GitHub API base URL [default: $GITHUB_API_URL or "
                        "https://api.github.com].")(command)


@cli.command("check")
@click.argument("tools", nargs=-1, metavar="[TOOL|all]...")
@click.option("--version", help="Release this version of the one TOOL instead of upstream's newest "
              "(empty: the newest).")
@click.option("--force", is_flag=True, help="Put versions that are released here already into the matrix again.")
@click.option("--json", "as_json", is_flag=True,
              help='Print only the build matrix {"include": [{"tool", "version"}, ...]} on stdout (the table '
                   "goes to stderr).")
@click.option("--update-lock", is_flag=True, help="Pin the proposed versions in the lock file (as `staticbuild pin`).")
@click.option("--outputs", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write matrix=, count=, bump= (a lock update is due), changed= (the lock was updated), "
                   "pinned= (what was pinned: `name version, ...`) and failed= (proposals that could not be "
                   "verified) lines to this file (in a workflow: $GITHUB_OUTPUT).")
@github_options
@click.pass_obj
def check_cmd(settings: Settings, tools: tuple[str, ...], version: str | None, force: bool, as_json: bool,
              update_lock: bool, outputs: Path | None, api_url: str | None, repo: str | None,
              max_wait: float) -> None:
    """Compare upstream's newest stable podman, buildah and skopeo with this repository's releases.

    Also proposes podman-full's runtime helpers (crun, conmon, netavark, aardvark-dns,
    fuse-overlayfs, catatonit) against the lock. The matrix holds the versions to build:
    released here not yet (or --force) and pinned by the lock.
    """
    target = Target.from_env(api_url, repo)
    catalog, lock = load(settings)
    with GitHub(target, max_wait=max_wait) as gh:
        report = upstream.check(gh, target.need_repo(), lock, upstream.parse_tools(tools), version or None, force,
                                catalog, DebianArchive())
    report = report.judged(catalog, lock)
    out = err if as_json else console
    lines = []  # also for the run's summary page
    bump_due, changes, failures = bool(report.lock_updates()), [], []
    if update_lock:
        sources = SourceCache(settings.cache)

        def verified_pin(work: Lock, name: str, version: str) -> None:
            pin(catalog.get(name), version, work, save=False)
            sources.get(name, work.pins[name])  # the bytes download and match: a build will find them
        changes, failures = upstream.update_lock(report, lock, verified_pin)
        lines += [f"pinned {name} {old or '(none)'} → {new}" for name, old, new in changes] + failures
        report = report.relocked(lock)
    else:
        upstream.require_buildable(report)
    print_check(report, out)
    lines += [f"refused: {reason}" for reason in report.refused()] + list(report.notes)
    for line in lines:
        out.print(line, soft_wrap=True, markup=False, highlight=False)
    write_summary(lines)
    matrix = json.dumps(report.matrix(), separators=(",", ":"))
    if outputs:
        with outputs.open("a") as fh:
            pinned = ", ".join(f"{name} {new}" for name, _, new in changes)
            fh.write(f"matrix={matrix}\ncount={len(report.matrix()['include'])}\n"
                     f"bump={str(bump_due).lower()}\nchanged={str(bool(changes)).lower()}\n"
                     f"pinned={pinned}\nfailed={len(failures)}\n")
    if as_json:
        click.echo(matrix)


def write_summary(lines: list[str]) -> None:
    """In GitHub Actions, the same lines on the run's summary page, where a person looks first."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and lines:
        with open(summary, "a") as fh:
            fh.write("\n".join(f"- {line}" for line in lines) + "\n")


def print_check(report: upstream.Report, out: Console) -> None:
    table = Table("tool", "upstream / asked", "lock", "released here", "next step", title="tools")
    for t in report.tools:
        table.add_row(t.tool, t.version, t.locked or "-", "yes" if t.released else "no", t.next_step())
    out.print(table)
    if report.components:
        table = Table("component", "upstream", "lock", "proposal", title="podman-full runtime helpers")
        for c in report.components:
            proposal = f"{c.locked or '(none)'} → {c.upstream}" if c.newer else "up to date"
            table.add_row(c.name, c.upstream, c.locked or "-", "refused (below)" if c.refused else proposal)
        out.print(table)


@cli.command("release")
@click.argument("tool", type=click.Choice(upstream.TOOLS))
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--version", required=True, help="The version the bundles in DIRECTORY hold (their SBOMs must agree).")
@click.option("--target", "commitish", envvar="GITHUB_SHA",
              help="Commit the tag is made at on publishing [default: $GITHUB_SHA, else the default branch].")
@click.option("--revision", type=click.IntRange(min=0), default=0, show_default=True,
              help="A rebuild of an already released version with updated components: TOOL-vVERSION-rN.")
@click.option("--key", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="The cosign public key the release is signed with [default: keyless, by this repository's "
                   "build workflow]; a published release's signatures are verified with it.")
@click.option("--gate", "gates", multiple=True, type=click.Path(path_type=Path),
              help="An upstream-test gate result (`python -m upstream_tests gate`, one per arch; repeatable): "
                   "a failure of ours in it stops the release, its counts go into the notes.")
@github_options
@click.pass_obj
def release_cmd(settings: Settings, tool: str, directory: Path, version: str, commitish: str | None,
                revision: int, key: Path | None, gates: tuple[Path, ...], api_url: str | None, repo: str | None,
                max_wait: float) -> None:
    """Publish DIRECTORY's bundles, checksums.txt, signatures and SBOMs as the release TOOL-vVERSION.

    A draft until every asset is up; a re-run resumes; a published release is never changed. The notes
    record what the lock pins for the tool's bundles, so `check` knows when a rebuild is due.
    """
    catalog, lock = load(settings)
    target = Target.from_env(api_url, repo)
    owner_repo = target.need_repo()
    target.need_token()
    with GitHub(target, max_wait=max_wait) as gh:
        identity = signing.Identity(key=key) if key else keyless_identity(owner_repo, os.environ)
        outcome = Publisher(gh, owner_repo).release(
            tool, version, directory, revision=revision, inputs=upstream.release_inputs(catalog, lock, tool),
            commitish=commitish or None, environ=os.environ, identity=identity, gates=list(gates), log=console.print)
    state = "published" if outcome.published else "already published with these exact assets; nothing to do:"
    console.print(f"{state} {outcome.url}", soft_wrap=True, highlight=False)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, EOFError):  # click turns any EOFError into Abort: it was no Ctrl-C
            fail(f"unexpected end of data ({exc.__context__ or 'truncated input'})")
        err.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BuildError as exc:
        err.print(f"[red]error:[/] {exc}")
        err.print("[dim]last lines of the log:[/]")
        err.print(exc.tail, markup=False, highlight=False)
        err.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except StaticbuildError as exc:
        fail(str(exc))
    except OSError as exc:  # an unwritable cache, a full disk, a folder where a file was expected, ...
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}")
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    sys.exit(1)
