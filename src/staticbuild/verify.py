"""Prove a binary is what we ship: static, the right machine, mimalloc inside, and it runs."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from .arch import Arch
from .archive import is_archive, open_tar
from .catalog import Catalog
from .errors import StaticbuildError
from .extract import UNREADABLE, check_members, one_line, safe_extractall

# Strings mimalloc's code always carries, also in a stripped binary.
MIMALLOC_MARKERS = (b"mimalloc: ", b"MIMALLOC_")
GO_MARKER = ".go.buildinfo"
RUN_TIMEOUT = 60


@dataclass
class Report:
    path: Path
    arch: Arch | None = None
    linkage: str = "?"
    allocator: str = "?"
    version: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"path": str(self.path), "arch": self.arch.name if self.arch else None, "linkage": self.linkage,
                "allocator": self.allocator, "version": self.version, "ok": self.ok, "problems": self.problems}


@dataclass(frozen=True)
class Expectation:
    args: tuple[str, ...]
    text: str


def inspect_elf(path: Path, report: Report) -> bytes | None:
    """Fill machine, linkage and allocator from the ELF file; returns the file's bytes."""
    data = path.read_bytes()
    with path.open("rb") as fh:
        elf = ELFFile(fh)
        report.arch = Arch.from_elf_machine(elf["e_machine"])
        if report.arch is None:
            report.problems.append(f"unsupported machine {elf['e_machine']}")
        interp = [s for s in elf.iter_segments() if s["p_type"] == "PT_INTERP"]
        needed = [t.needed for s in elf.iter_sections() if isinstance(s, DynamicSection)
                  for t in s.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        dynamic = any(s["p_type"] == "PT_DYNAMIC" for s in elf.iter_segments())
        if interp:
            report.problems.append(f"has an ELF interpreter ({interp[0].get_interp_name()})")
        if needed:
            report.problems.append(f"needs shared libraries: {', '.join(needed)}")
        report.linkage = "dynamic" if interp or needed else ("static-pie" if dynamic else "static")
        is_go = elf.get_section_by_name(GO_MARKER) is not None
    if all(m in data for m in MIMALLOC_MARKERS):
        report.allocator = "mimalloc"
    elif is_go and b"CGO_ENABLED=0" in data:
        report.allocator = "none (pure Go)"
    else:
        report.allocator = "missing"
        report.problems.append("mimalloc is not linked in")
    return data


# crun re-executes itself from a memfd copy at start-up, which qemu-user cannot follow; it
# skips that when its binary is on a read-only filesystem. So foreign binaries run from a
# read-only bind mount of their folder, in a private mount namespace (a user namespace too
# when not root), falling back to plain qemu where namespaces are not available.
READ_ONLY_VIEW = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def emulated(qemu: str, path: Path) -> list[str]:
    unshare = shutil.which("unshare")
    if not unshare:
        return [qemu]
    flags = "-m" if os.geteuid() == 0 else "-Urm"
    probe = subprocess.run([unshare, flags, "true"], capture_output=True)
    if probe.returncode != 0:
        return [qemu]
    return [unshare, flags, "sh", "-c", READ_ONLY_VIEW, "sh", str(path.parent.resolve()), qemu]


def run_env(extra: dict[str, str]) -> dict[str, str]:
    """A minimal environment: downloaded binaries never see the caller's tokens or settings."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
            "HOME": os.environ.get("HOME", "/"), **extra}


def run_binary(path: Path, arch: Arch, args: tuple[str, ...], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    """Run natively on a machine of the binary's arch (an arm64 runner), under qemu-user elsewhere."""
    prefix: list[str] = []
    if arch.needs_emulation:
        qemu = shutil.which(arch.info.qemu)
        if not qemu:
            raise StaticbuildError(f"{arch.info.qemu} is needed to run {arch} binaries on this "
                                   f"{platform.machine()} machine; run `make setup`")
        prefix = emulated(qemu, path)
    return subprocess.run([*prefix, str(path), *args], capture_output=True, text=True, errors="replace",
                          timeout=RUN_TIMEOUT, env=run_env(env_extra), stdin=subprocess.DEVNULL)


def cpu_has(flag: str) -> bool:
    try:
        return any(flag in line.split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("flags"))
    except OSError:
        return False


def check_run(report: Report, expect: Expectation) -> None:
    """Run the smoke command; with MIMALLOC_VERBOSE=1 mimalloc announces itself at start-up."""
    assert report.arch is not None
    if report.path.name.endswith(".avx2") and report.arch is Arch.amd64 and not cpu_has("avx2"):
        report.version = "not run (CPU lacks AVX2)"
        return
    try:
        proc = run_binary(report.path, report.arch, expect.args, {"MIMALLOC_VERBOSE": "1"})
    except subprocess.TimeoutExpired:
        report.problems.append(f"'{' '.join(expect.args)}' did not finish in {RUN_TIMEOUT}s")
        return
    output = proc.stdout + proc.stderr
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("mimalloc:")]
    report.version = lines[0].strip() if lines else "(no output)"
    if proc.returncode != 0:
        report.problems.append(f"'{' '.join(expect.args)}' exited {proc.returncode}")
    if expect.text not in output:
        report.problems.append(f"expected '{expect.text}' in the output of '{' '.join(expect.args)}'")
    if report.allocator == "mimalloc":
        if "mimalloc: process init" in output or "mimalloc: v" in output:
            report.allocator = "mimalloc (active)"
        else:
            report.problems.append("mimalloc did not initialise at run time")


def expectation_for(path: Path, catalog: Catalog, versions: dict[str, str]) -> Expectation | None:
    recipe = catalog.by_binary.get(path.name)
    if recipe is None or recipe.name not in versions:
        return None
    smoke = recipe.smoke_for(path.name)
    if smoke is None:
        return None
    return Expectation(smoke.args, smoke.expected(versions[recipe.name]))


def verify_file(path: Path, catalog: Catalog, versions: dict[str, str], run: bool = True) -> Report:
    report = Report(path)
    try:
        inspect_elf(path, report)
    except (ELFError, OSError) as exc:
        report.problems.append(f"not a readable ELF file ({exc})")
        return report
    expect = expectation_for(path, catalog, versions)
    if report.arch is None or not run:
        return report
    if expect is None:
        report.version = "not run (no smoke test known for this file)"
        return report
    check_run(report, expect)
    return report


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


@contextmanager
def expand(paths: list[Path]) -> Iterator[list[Path]]:
    """Files as given, ELF files found in directories, and ELF files inside tarballs (unpacked safely)."""
    with tempfile.TemporaryDirectory(prefix="staticbuild-verify-") as tmp:
        found: list[Path] = []
        for i, path in enumerate(paths):
            if path.is_dir():
                found += sorted(p for p in path.rglob("*") if p.is_file() and is_elf(p))
            elif is_archive(path):  # a release bundle (.tar.zst) or any tarball
                dest = Path(tmp) / str(i)
                dest.mkdir()
                try:
                    with open_tar(path) as tar:
                        check_members(tar, dest)
                        safe_extractall(tar, dest)
                except UNREADABLE as exc:
                    raise StaticbuildError(f"{path}: not a readable archive ({one_line(exc)})") from None
                # a symlink (systemd's generator links) is its target's second name, not another binary
                found += sorted(p for p in dest.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))
            elif path.exists():
                found.append(path)
            else:
                raise StaticbuildError(f"no such file: {path}")
        yield found
