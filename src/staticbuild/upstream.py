"""`staticbuild check`: the newest stable upstream releases against this repository's releases and the lock.

The build matrix it makes holds only versions the lock pins: `staticbuild package` builds
what staticbuild.lock says, so a newer upstream release reaches the matrix once the lock
has been updated (`--update-lock`, reviewed and committed), never by building something
other than what its label says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .catalog import Catalog
from .compat import refusals
from .errors import StaticbuildError
from .github import GitHub
from .lock import Lock

TOOLS = ("podman", "buildah", "skopeo")
# podman-full's runtime helpers, whose versions are proposed alongside podman's.
RUNTIME = ("crun", "conmon", "netavark", "aardvark-dns", "fuse-overlayfs", "catatonit")
UPSTREAM_REPOS = {name: f"containers/{name}" for name in TOOLS + RUNTIME} | {"catatonit": "openSUSE/catatonit"}
# Only plain numbered tags count as stable, whatever the release's flags say: some projects
# tag release candidates (v5.0.0-rc1) without marking them as pre-releases.
STABLE_TAG = re.compile(r"v?(\d+(?:\.\d+)+)")


def version_key(version: str) -> tuple[int, ...]:
    """Numeric order (1.10 after 1.9); a version that is not plain numbers sorts first."""
    return tuple(int(p) for p in version.split(".")) if re.fullmatch(r"\d+(\.\d+)*", version) else ()


def release_tag(tool: str, version: str) -> str:
    return f"{tool}-v{version}"


def stable_version(release: dict) -> str | None:
    """The version of a published, stable release; None for drafts, pre-releases and odd tags."""
    if release.get("draft") or release.get("prerelease"):
        return None
    match = STABLE_TAG.fullmatch(release.get("tag_name", ""))
    return match.group(1) if match else None


def latest_stable(gh: GitHub, repo: str) -> str:
    """The highest stable version (not the newest by date: patch releases of old branches come later)."""
    versions = [v for r in gh.paginate(f"/repos/{repo}/releases") if (v := stable_version(r))]
    if not versions:
        raise StaticbuildError(f"{repo} has no stable release on GitHub")
    return max(versions, key=version_key)


def published_here(gh: GitHub, repo: str) -> dict[str, set[str]]:
    """tool -> versions released in this repository (published `{tool}-v{version}` releases; drafts do not count)."""
    found: dict[str, set[str]] = {}
    for release in gh.paginate(f"/repos/{repo}/releases"):
        tool, sep, version = release.get("tag_name", "").partition("-v")
        if sep and not release.get("draft"):
            found.setdefault(tool, set()).add(version)
    return found


@dataclass(frozen=True)
class ToolStatus:
    tool: str
    version: str  # the one to release: upstream's newest, or the one asked for
    locked: str | None
    released: bool
    forced: bool = False  # release again even if it is out already
    requested: bool = False  # the version was named (--version), not found upstream
    refused: str = ""  # why this version is not pinned (compat.refusals)

    @property
    def buildable(self) -> bool:
        return self.locked == self.version

    @property
    def in_matrix(self) -> bool:
        return self.buildable and (not self.released or self.forced)

    def next_step(self) -> str:
        if self.in_matrix:
            return "build and release" + (" again (forced)" if self.released else "")
        if self.released:
            return "up to date"
        if self.refused:
            return "refused (below)"
        return f"update the lock ({self.locked or 'not pinned'} → {self.version}): staticbuild check --update-lock"


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    upstream: str
    locked: str | None
    refused: str = ""

    @property
    def newer(self) -> bool:
        return self.locked is None or version_key(self.upstream) > version_key(self.locked)


@dataclass(frozen=True)
class Report:
    tools: tuple[ToolStatus, ...]
    components: tuple[ComponentStatus, ...]

    def matrix(self) -> dict[str, list[dict[str, str]]]:
        """For `strategy.matrix: ${{ fromJSON(...) }}`: only `include`, so no key becomes an extra dimension."""
        return {"include": [{"tool": t.tool, "version": t.version} for t in self.tools if t.in_matrix]}

    def relocked(self, lock: Lock) -> Report:
        def locked(name: str) -> str | None:
            return lock.pins[name].version if name in lock.pins else None
        return Report(tuple(replace(t, locked=locked(t.tool)) for t in self.tools),
                      tuple(replace(c, locked=locked(c.name)) for c in self.components))

    def proposals(self) -> list[tuple[str, str]]:
        """(component, version) pairs a lock update would pin: tools behind their target, helpers behind upstream."""
        tools = [(t.tool, t.version) for t in self.tools
                 if t.locked != t.version and (t.requested or t.locked is None
                                               or version_key(t.version) > version_key(t.locked))]
        return tools + [(c.name, c.upstream) for c in self.components if c.newer]

    def lock_updates(self) -> list[tuple[str, str]]:
        """The proposals that are not refused."""
        refused = {t.tool for t in self.tools if t.refused} | {c.name for c in self.components if c.refused}
        return [(n, v) for n, v in self.proposals() if n not in refused]

    def refused(self) -> list[str]:
        return [t.refused for t in self.tools if t.refused] + [c.refused for c in self.components if c.refused]

    def judged(self, catalog: Catalog, lock: Lock) -> Report:
        """The report with each proposal the recipes cannot build, or that breaks a requirement, refused."""
        pinned = {name: pin.version for name, pin in lock.pins.items()}
        why = refusals(catalog, pinned, dict(self.proposals()))
        return Report(tuple(replace(t, refused=why.get(t.tool, "")) for t in self.tools),
                      tuple(replace(c, refused=why.get(c.name, "")) for c in self.components))


def parse_tools(names: Iterable[str]) -> tuple[str, ...]:
    """Tool arguments as given; none or `all` means every tool (a workflow's choice input passes `all`)."""
    chosen = tuple(dict.fromkeys(names))
    if not chosen or "all" in chosen:
        return TOOLS
    unknown = [n for n in chosen if n not in TOOLS]
    if unknown:
        raise StaticbuildError(f"unknown tool '{unknown[0]}' (known: {', '.join(TOOLS)}, all)")
    return chosen


def check(gh: GitHub, repo: str, lock: Lock, tools: tuple[str, ...], version: str | None = None,
          force: bool = False) -> Report:
    """Where each tool stands; the runtime helpers too when podman is among `tools`."""
    if version and len(tools) != 1:
        raise StaticbuildError("--version needs exactly one TOOL")
    released = published_here(gh, repo)

    def locked(name: str) -> str | None:
        return lock.pins[name].version if name in lock.pins else None

    statuses = []
    for tool in tools:
        target = version or latest_stable(gh, UPSTREAM_REPOS[tool])
        statuses.append(ToolStatus(tool, target, locked(tool), target in released.get(tool, set()),
                                   forced=force, requested=bool(version)))
    components = tuple(ComponentStatus(name, latest_stable(gh, UPSTREAM_REPOS[name]), locked(name))
                       for name in RUNTIME) if "podman" in tools else ()
    return Report(tuple(statuses), components)


def require_buildable(report: Report) -> None:
    """A version asked for by name must be what the lock pins, or the build would make something else."""
    for t in report.tools:
        if t.requested and not t.buildable:
            raise StaticbuildError(f"staticbuild.lock pins {t.tool} {t.locked or '(nothing)'}, not {t.version}: "
                                   f"run `staticbuild pin {t.tool} {t.version}` (or check --update-lock) "
                                   "and commit the lock")


def update_lock(report: Report, lock: Lock, pin: Callable[[Lock, str, str], object]) -> list[tuple[str, str | None, str]]:
    """Pin every proposed version through `pin(working_lock, component, version)` (the `staticbuild pin`
    machinery, not saving) into a copy of the lock, and save the copy once all succeeded: a failure half-way
    leaves the lock file and `lock` as they were.

    Returns (component, old, new) for each; the report is then out of date: see `Report.relocked`.
    """
    work = lock.copy()
    changes = []
    for name, version in report.lock_updates():
        old = work.pins[name].version if name in work.pins else None
        pin(work, name, version)
        changes.append((name, old, version))
    if changes:
        work.save()
        lock.pins = work.pins
    return changes
