"""`staticbuild check`: the newest stable upstream releases against this repository's releases and the lock.

The build matrix it makes holds only versions the lock pins: `staticbuild package` builds
what staticbuild.lock says, so a newer upstream release reaches the matrix once the lock
has been updated (`--update-lock`, reviewed and committed), never by building something
other than what its label says.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from . import bundle
from .catalog import Catalog
from .compat import refusals
from .engine import closure
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


REVISION = re.compile(r"(.+)-r([1-9]\d*)")
INPUTS_MARKER = re.compile(r"<!-- staticbuild-inputs: ([0-9a-f]{64}) -->")


def release_tag(tool: str, version: str, revision: int = 0) -> str:
    """`podman-v6.0.2`; a rebuild of the same version with updated components is `podman-v6.0.2-r1`."""
    return f"{tool}-v{version}" + (f"-r{revision}" if revision else "")


def split_revision(text: str) -> tuple[str, int]:
    """'6.0.2-r1' -> ('6.0.2', 1); '6.0.2' -> ('6.0.2', 0)."""
    match = REVISION.fullmatch(text)
    return (match.group(1), int(match.group(2))) if match else (text, 0)


def release_key(text: str) -> tuple[tuple[int, ...], int]:
    """Order of this repository's releases of one tool: version, then rebuild."""
    version, revision = split_revision(text)
    return version_key(version), revision


def release_inputs(catalog: Catalog, lock: Lock, tool: str) -> str:
    """A digest of what the tool's bundles are made of according to the lock: every pinned component in
    their closure (toolchain included), with its version, epoch and accepted digests. A release records
    it; when the lock changes under a released version (a crun fix, a new musl), the digest changes
    and `check` proposes a rebuild."""
    names = set()
    for spec in (b for b in bundle.BUNDLES if b.tool == tool):
        for name in bundle.components(spec, catalog):
            names |= {name, *closure(catalog, catalog.get(name))}
    material = sorted((n, lock.pin(n).version, lock.pin(n).epoch, sorted(s.sha256 for s in lock.pin(n).sources))
                      for n in names if n in lock.pins)
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


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


@dataclass(frozen=True)
class Released:
    revision: int
    inputs: str | None  # the release_inputs digest its notes record (None: released before they did)


def published_here(gh: GitHub, repo: str) -> dict[str, dict[str, Released]]:
    """tool -> version -> its newest published release here (`{tool}-v{version}[-rN]`; drafts do not count)."""
    found: dict[str, dict[str, Released]] = {}
    for release in gh.paginate(f"/repos/{repo}/releases"):
        tool, sep, text = release.get("tag_name", "").partition("-v")
        if not sep or release.get("draft"):
            continue
        version, revision = split_revision(text)
        marker = INPUTS_MARKER.search(release.get("body") or "")
        versions = found.setdefault(tool, {})
        if version not in versions or versions[version].revision < revision:
            versions[version] = Released(revision, marker.group(1) if marker else None)
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
    revision: int = 0  # the release to make: 0 the first, N a rebuild with updated components
    rebuild: bool = False  # released, but the lock's components changed since: release -rN

    @property
    def buildable(self) -> bool:
        return self.locked == self.version

    @property
    def in_matrix(self) -> bool:
        return self.buildable and (not self.released or self.forced or self.rebuild)

    def next_step(self) -> str:
        if self.rebuild and self.buildable:
            return f"rebuild as {release_tag(self.tool, self.version, self.revision)} (components changed)"
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
        return {"include": [{"tool": t.tool, "version": t.version, **({"revision": str(t.revision)} if t.revision else {})}
                            for t in self.tools if t.in_matrix]}

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
          force: bool = False, catalog: Catalog | None = None) -> Report:
    """Where each tool stands; the runtime helpers too when podman is among `tools`.

    With a catalog, a released version whose recorded inputs differ from what the lock would
    build now (a helper or toolchain update) is proposed as the rebuild `-rN`; only a version
    the lock still pins is rebuilt, so an old line gets no rebuilds once the lock moved on.
    """
    if version and len(tools) != 1:
        raise StaticbuildError("--version needs exactly one TOOL")
    released = published_here(gh, repo)

    def locked(name: str) -> str | None:
        return lock.pins[name].version if name in lock.pins else None

    statuses = []
    for tool in tools:
        target = version or latest_stable(gh, UPSTREAM_REPOS[tool])
        out = released.get(tool, {}).get(target)
        status = ToolStatus(tool, target, locked(tool), out is not None, forced=force, requested=bool(version),
                            revision=out.revision if out else 0)
        # a release from before the notes recorded their inputs is left alone: nothing to compare with
        if out and out.inputs and catalog and status.buildable and out.inputs != release_inputs(catalog, lock, tool):
            status = replace(status, rebuild=True, revision=out.revision + 1)
        statuses.append(status)
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
