"""The two target architectures and every name each tool uses for them."""

from __future__ import annotations

import enum
import platform
from dataclasses import dataclass


@dataclass(frozen=True)
class ArchInfo:
    gnu: str  # machine part of the GNU triple (configure --host, musl --target)
    elf_machine: str  # pyelftools' e_machine name
    go: str  # GOARCH
    meson_cpu_family: str
    gnu_tools_prefix: str  # Debian's binutils/gcc for this machine (native or cross)
    kernel_headers: tuple[str, ...]  # directories holding linux/, asm/, asm-generic/
    qemu: str  # user-mode emulator that runs its binaries on a machine of the other arch
    machines: tuple[str, ...]  # what `uname -m` says on such a machine


class Arch(enum.Enum):
    amd64 = ArchInfo(
        gnu="x86_64",
        elf_machine="EM_X86_64",
        go="amd64",
        meson_cpu_family="x86_64",
        gnu_tools_prefix="x86_64-linux-gnu-",
        kernel_headers=("/usr/include", "/usr/include/x86_64-linux-gnu"),
        qemu="qemu-x86_64-static",
        machines=("x86_64", "amd64"),
    )
    arm64 = ArchInfo(
        gnu="aarch64",
        elf_machine="EM_AARCH64",
        go="arm64",
        meson_cpu_family="aarch64",
        gnu_tools_prefix="aarch64-linux-gnu-",
        kernel_headers=("/usr/aarch64-linux-gnu/include",),
        qemu="qemu-aarch64-static",
        machines=("aarch64", "arm64"),
    )

    @property
    def info(self) -> ArchInfo:
        return self.value

    @property
    def musl_triple(self) -> str:
        return f"{self.info.gnu}-linux-musl"

    @property
    def rust_target(self) -> str:
        return f"{self.info.gnu}-unknown-linux-musl"

    @classmethod
    def parse(cls, text: str) -> list[Arch]:
        """`amd64`, `arm64` or `all` (also accepts x86_64 and aarch64)."""
        aliases = {"all": list(cls), "x86_64": [cls.amd64], "aarch64": [cls.arm64]}
        if text in aliases:
            return aliases[text]
        try:
            return [cls[text]]
        except KeyError:
            raise ValueError(f"unknown arch '{text}' (choose amd64, arm64 or all)") from None

    @classmethod
    def native(cls) -> Arch | None:
        """The arch of the machine this runs on (None on any other machine)."""
        machine = platform.machine().lower()
        return next((a for a in cls if machine in a.info.machines), None)

    @property
    def needs_emulation(self) -> bool:
        return Arch.native() is not self

    @classmethod
    def from_elf_machine(cls, machine: str) -> Arch | None:
        return next((a for a in cls if a.info.elf_machine == machine), None)

    def __str__(self) -> str:
        return self.name
