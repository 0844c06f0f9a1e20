"""One module per upstream suite. Each says what its units are (test files), how to get the
binaries of a flavor ready, and how to run one unit (or a few of its tests) of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..common import Settings
from ..results import Unit


@dataclass
class Prepared:
    """A flavor made ready: what the suite needs to run its units."""

    flavor: str
    binaries: dict[str, Path]  # what is under test, by name
    data: dict = field(default_factory=dict)  # suite-specific: paths, environment


class Suite:
    name: str = ""
    component: str = ""  # the lock entry whose version is tested
    gate: tuple[str, ...] = ()  # the units the release gate runs
    smoke: tuple[str, ...] = ()  # the units run for arm64 under qemu-user (empty: none can)
    known: dict[str, str] = {}  # *ours* failures that cannot be fixed: test name -> explanation

    def units(self, settings: Settings) -> list[str]:
        raise NotImplementedError

    def prepare(self, settings: Settings, flavor: str) -> Prepared:
        raise NotImplementedError

    def run_unit(self, settings: Settings, prepared: Prepared, unit: str, only: list[str] | None = None) -> Unit:
        """Run a unit; `only` restricts it to these test names (retries, the gate's dynamic check)."""
        raise NotImplementedError

    def versions(self, prepared: Prepared) -> dict[str, str]:
        """What each binary under test says it is, for the result file."""
        import subprocess
        out = {}
        for name, path in prepared.binaries.items():
            proc = subprocess.run([path, "--version"], capture_output=True, text=True)
            first = (proc.stdout or proc.stderr).strip().splitlines()[:1]
            out[name] = f"{first[0] if first else '?'} ({path})"
        return out


def all_suites() -> dict[str, Suite]:
    from . import buildah, crun, netavark, podman, skopeo
    suites = [crun.CrunSuite(), netavark.NetavarkSuite(), skopeo.SkopeoSuite(), podman.PodmanSuite(),
              podman.PodmanRootlessSuite(), buildah.BuildahSuite()]
    return {s.name: s for s in suites}


def case_name(unit: str, description: str) -> str:
    return f"{unit} :: {description}"
