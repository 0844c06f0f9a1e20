"""Helpers for tests that run real containers on these machines.

The machines mount cgroups in a hybrid layout (v1 controllers plus a cgroup2 mount holding
only hugetlb) that crun refuses; hiding the cgroup2 mount in a private mount namespace
leaves plain cgroup v1, which crun accepts. Real cgroup v2 hosts need none of this.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUSYBOX = Path("/bin/busybox")


def need_root_and_busybox() -> None:
    if os.geteuid() != 0:
        pytest.skip("running containers needs root here (the rootless path is the end-to-end suite's)")
    if not BUSYBOX.exists():
        pytest.skip("busybox-static is installed by `make setup`")


def make_bundle(root: Path, args: list[str], crun: Path) -> Path:
    """An OCI bundle: a busybox root filesystem and crun's default spec with our command."""
    rootfs = root / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in ("sh", "echo", "cat", "id"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    subprocess.run([crun, "spec"], cwd=root, check=True)
    spec = json.loads((root / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    (root / "config.json").write_text(json.dumps(spec, indent=1))
    return root


def in_cgroup_v1_namespace(script: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace without the hybrid cgroup2 mount."""
    wrapped = "umount /sys/fs/cgroup/unified 2>/dev/null || true\n" + script
    return subprocess.run(["unshare", "-m", "sh", "-ec", wrapped], capture_output=True, text=True, timeout=timeout)
