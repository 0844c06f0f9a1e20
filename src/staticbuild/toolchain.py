"""How to compile for an arch: compiler wrappers, flags and per-build-system settings.

The target toolchain is Debian's gcc (native for amd64, gcc-aarch64-linux-gnu for arm64)
driven through a specs file onto a musl sysroot that this project builds itself, in
which libc.a carries mimalloc in place of musl's malloc. Nothing is emulated: both arches
are plain compiles on the amd64 host. docs/ARCHITECTURE.md says why this was chosen.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .arch import Arch
from .errors import ToolMissingError
from .recipe import ToolchainStage

# Debian's rustc-web (1.96, bookworm-security) knows the musl targets and ships std's source;
# rustup's toolchain here has only x86_64 glibc and cannot download more.
RUSTC, CARGO = "/usr/bin/rustc", "/usr/bin/cargo"
GTHREAD_WEAK = ("pthread_once", "pthread_mutex_lock", "pthread_mutex_unlock", "pthread_key_create",
                "pthread_getspecific", "pthread_setspecific")
BINUTILS = ("ar", "ranlib", "strip", "nm", "objcopy", "objdump", "readelf", "ld", "strings")
SETUP_HINT = "install it with `make setup` (scripts/setup-host)"


def require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise ToolMissingError(f"'{tool}' is not installed; {SETUP_HINT}")
    return path


# Host programs that take part in builds (configure scripts, Makefiles, patches, generators).
# Their versions are in every key: a new binutils or autoconf can change what comes out.
HOST_TOOLS = ("make", "patch", "pkg-config", "autoconf", "automake", "libtoolize", "m4", "bison", "flex", "gperf")


def first_line(argv: list[str]) -> str:
    """The first line a program prints for --version; 'absent' when it is not installed."""
    if not shutil.which(argv[0]):
        return "absent"
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    lines = (proc.stdout or proc.stderr).splitlines()
    return lines[0].strip() if lines else f"exit {proc.returncode}"


def file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).resolve().read_bytes()).hexdigest()[:16]


@cache
def host_identity(arch: Arch) -> dict[str, str]:
    """What of the host shapes the output: the compiler and binutils, kernel headers, the build programs."""
    prefix = arch.info.gnu_tools_prefix
    gcc = require(f"{prefix}gcc")
    return {
        "gcc": subprocess.run([gcc, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0],
        # binutils' version line has no distribution revision: the programs' own digests do
        "binutils": first_line([require(f"{prefix}ld"), "--version"]),
        "ld, as": [file_digest(require(f"{prefix}{t}")) for t in ("ld", "as")],
        "linux headers": kernel_headers_version(arch),
        **{tool: first_line([tool, "--version"]) for tool in HOST_TOOLS},
        "sh": os.path.realpath(shutil.which("sh") or "sh"),  # dash or bash: configure scripts differ
    }


def kernel_headers_version(arch: Arch) -> str:
    for root in arch.info.kernel_headers:
        header = Path(root) / "linux" / "version.h"
        if header.exists():
            match = re.search(r"LINUX_VERSION_CODE (\d+)", header.read_text())
            if match:
                code = int(match.group(1))
                return f"{code >> 16}.{(code >> 8) & 0xFF}.{code & 0xFF}"
    raise ToolMissingError(f"kernel headers for {arch} not found in {arch.info.kernel_headers}; {SETUP_HINT}")


def specs_text(sysroot: Path) -> str:
    """A gcc specs file that swaps glibc for the musl sysroot and links statically.

    -nostdinc keeps the host's glibc headers out; gcc's own headers (stddef.h, ...) stay
    reachable through `include%s`. crtbeginT.o is gcc's start file for static executables.
    """
    inc, lib = sysroot / "include", sysroot / "lib"
    return f"""%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem {inc} -isystem include%s %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem {inc} -isystem include%s

*link_libgcc:
-L{lib} -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
%{{!shared: {lib}/crt1.o}} {lib}/crti.o crtbeginT.o%s

*endfile:
crtend.o%s {lib}/crtn.o

*link:
-nostdlib -static %{{rdynamic:-export-dynamic}}

"""


def write_script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def write_compiler(folder: Path, triple: str, sysroot: Path, gcc: str, specs_dir: Path | None = None) -> None:
    """`<triple>-gcc`: the host's gcc driven onto the musl sysroot by a specs file beside it
    (named as it will be found at `specs_dir`, when the folder is written elsewhere first)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "musl-gcc.specs").write_text(specs_text(sysroot))
    specs = (specs_dir or folder) / "musl-gcc.specs"
    write_script(folder / f"{triple}-gcc", f'exec {gcc} -specs "{specs}" -static "$@"')


@dataclass
class Toolchain:
    """The compiler environment of one build: `env()` for any build system, plus helpers."""

    arch: Arch
    stage: ToolchainStage
    sysroot: Path | None  # musl sysroot for bare-musl and target stages
    tools_dir: Path  # where this build's wrappers are written
    deps: Path  # staging prefix holding the dependencies' installed trees
    source_date_epoch: int

    @property
    def triple(self) -> str:
        return self.arch.musl_triple

    @property
    def gnu_prefix(self) -> str:
        return self.arch.info.gnu_tools_prefix

    @property
    def cc(self) -> str:
        if self.stage is ToolchainStage.host_cross:
            return require(f"{self.gnu_prefix}gcc")
        return str(self.tools_dir / f"{self.triple}-gcc")

    def tool(self, name: str) -> str:
        return require(f"{self.gnu_prefix}{name}")

    def materialize(self) -> None:
        """Write the compiler wrapper, binutils links and a pkg-config that only sees the staging prefix."""
        self.tools_dir.mkdir(parents=True, exist_ok=True)
        if self.stage is ToolchainStage.host_cross:
            return
        write_compiler(self.tools_dir, self.triple, self.sysroot, require(f"{self.gnu_prefix}gcc"))
        os.symlink(f"{self.triple}-gcc", self.tools_dir / f"{self.triple}-cc")
        for tool in BINUTILS:
            os.symlink(self.tool(tool), self.tools_dir / f"{self.triple}-{tool}")
        pkgconf = require("pkg-config")
        self._script(
            f"{self.triple}-pkg-config",
            f'PKG_CONFIG_LIBDIR="{self.deps}/usr/lib/pkgconfig:{self.deps}/usr/share/pkgconfig" '
            f'PKG_CONFIG_SYSROOT_DIR="{self.deps}" PKG_CONFIG_PATH= exec {pkgconf} --static "$@"',
        )

    def _script(self, name: str, body: str) -> None:
        write_script(self.tools_dir / name, body)

    def shared_cc(self, shared: Path) -> str:
        """The same compiler wrapper at a path that depends only on what it does, not on the build.

        cargo hashes the target linker's path into every unit's fingerprint: with each
        component's own tools_dir, one Rust component rebuilt std and every shared crate
        for the next (ConfigSettingsChanged). A new sysroot gets a new path, and so a rebuild.
        """
        assert self.sysroot is not None
        gcc = require(f"{self.gnu_prefix}gcc")
        digest = hashlib.sha256(f"{gcc}\n{specs_text(self.sysroot)}".encode()).hexdigest()[:16]
        final = shared / "cc" / f"{self.arch.name}-{digest}"
        if not final.is_dir():
            tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            write_compiler(tmp, self.triple, self.sysroot, gcc, specs_dir=final)
            tmp.rename(final)
        return str(final / f"{self.triple}-gcc")

    def env(self, build_dir: Path) -> dict[str, str]:
        """Variables every build system reads; flags map build paths away for reproducibility."""
        env = {
            "PATH": f"{self.tools_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "SOURCE_DATE_EPOCH": str(self.source_date_epoch),
            "LC_ALL": "C",
            "TZ": "UTC",
        }
        if self.stage is ToolchainStage.host_cross:
            return env | {"CROSS_COMPILE": self.gnu_prefix, "CC": self.cc}
        prefix_map = f"-ffile-prefix-map={build_dir}=/build"
        return env | {
            "CC": self.cc,
            "CXX": "false",  # no C++ runtime for musl here: fail fast instead of picking the host's g++
            **{t.upper(): str(self.tools_dir / f"{self.triple}-{t}") for t in BINUTILS if t != "strings"},
            "PKG_CONFIG": str(self.tools_dir / f"{self.triple}-pkg-config"),
            "CFLAGS": f"-O2 -pipe {prefix_map}",
            "CPPFLAGS": f"-I{self.deps}/usr/include",
            "LDFLAGS": f"-static -L{self.deps}/usr/lib",
        }

    def meson_cross_file(self, path: Path) -> Path:
        """meson: the target machine, our tools, static libraries; target programs are never run."""
        env = self.env(path.parent)
        def quoted(flags: str) -> str:
            return ", ".join(f"'{f}'" for f in flags.split())
        path.write_text(f"""[binaries]
c = '{env["CC"]}'
ar = '{env["AR"]}'
strip = '{env["STRIP"]}'
pkg-config = '{env["PKG_CONFIG"]}'

[built-in options]
c_args = [{quoted(env["CFLAGS"] + " " + env["CPPFLAGS"])}]
c_link_args = [{quoted(env["LDFLAGS"])}]
default_library = 'static'
prefer_static = true

[properties]
needs_exe_wrapper = true

[host_machine]
system = 'linux'
cpu_family = '{self.arch.info.meson_cpu_family}'
cpu = '{self.arch.info.gnu}'
endian = 'little'
""")
        return path

    def go_env(self, build_dir: Path, cgo: bool) -> dict[str, str]:
        """Go: the target arch, and cgo through the musl wrapper with the staging prefix."""
        env = self.env(build_dir)
        return {
            "GOOS": "linux",
            "GOARCH": self.arch.info.go,
            "CGO_ENABLED": "1" if cgo else "0",
            "CGO_CFLAGS": f"{env['CFLAGS']} {env['CPPFLAGS']}",
            "CGO_LDFLAGS": f"-L{self.deps}/usr/lib",
            "GOTOOLCHAIN": "local",  # never download another Go: the pinned host Go builds
            "GOAMD64": "v1", "GOARM64": "v8.0",  # the baseline CPUs, whatever a go env file says
        }

    def cargo_env(self, work_root: Path, shared: Path) -> dict[str, str]:
        """Rust: Debian's rustc-web builds std for the musl target (-Z build-std) and links with our wrapper.

        std's unwinder on musl is libunwind, which rustup would ship; GCC's libgcc_eh.a has the
        same _Unwind_* ABI, so it is offered under that name (its glibc-only _dl_find_object
        comes from the sysroot's compat layer). -nodefaultlibs drops libgcc, which mimalloc
        needs, so it is added back. Flags, linker path and the cc crate's settings are the same
        for every component of an arch, so the shared target dir keeps std and common crates
        between them (cargo rebuilds a unit when any of them changes).
        """
        unwind = self.rust_unwind(shared)
        target = self.arch.rust_target.upper().replace("-", "_")
        cc = self.shared_cc(shared)
        cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
        rustflags = [
            "-C", "link-self-contained=no", "-C", "target-feature=+crt-static", "-L", str(unwind),
            "-C", "link-arg=-lgcc",
            # libgcc_eh reaches pthread functions through weak references, which a static link
            # leaves at 0 unless something else pulls them in: unwinding then calls address 0.
            *(arg for sym in GTHREAD_WEAK for arg in ("-C", f"link-arg=-Wl,-u,{sym}")),
            f"--remap-path-prefix={work_root}=/build", f"--remap-path-prefix={cargo_home}=/cargo",
            # build scripts' generated code (netavark's protobuf bindings) is included from OUT_DIR
            f"--remap-path-prefix={shared / 'cargo-target'}=/target",
        ]
        return {
            "RUSTC": RUSTC, "RUSTC_BOOTSTRAP": "1",  # -Z build-std on a stable compiler
            f"CARGO_TARGET_{target}_LINKER": cc,
            # the cc crate's build scripts rerun when CC, CFLAGS or AR change: the same for every component
            f"CC_{self.arch.rust_target.replace('-', '_')}": cc, "AR": self.tool("ar"),
            "CFLAGS": f"-O2 -pipe -ffile-prefix-map={work_root}=/build",
            "CC_x86_64_unknown_linux_gnu": "gcc", "HOST_CC": "gcc",  # build scripts run on the host
            "CARGO_ENCODED_RUSTFLAGS": "\x1f".join(rustflags),
            "CARGO_TARGET_DIR": str(shared / "cargo-target" / self.arch.name),
        }

    def rust_unwind(self, shared: Path) -> Path:
        """A folder offering gcc's libgcc_eh.a as libunwind.a, named by that file's digest and written
        atomically: a new gcc gets a new folder (and so a rebuild), a half-copied file is never used."""
        eh = Path(subprocess.run([self.tool("gcc"), "-print-file-name=libgcc_eh.a"], capture_output=True, text=True,
                                 check=True).stdout.strip())
        data = eh.read_bytes()
        final = shared / "rust-unwind" / f"{self.arch.name}-{hashlib.sha256(data).hexdigest()[:16]}"
        if not (final / "libunwind.a").is_file():
            tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            (tmp / "libunwind.a").write_bytes(data)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        return final

    def configure_args(self) -> list[str]:
        """autotools: cross-compile from the amd64 build machine to a musl host, static only."""
        return [f"--host={self.triple}", "--build=x86_64-pc-linux-gnu", "--prefix=/usr",
                "--disable-shared", "--enable-static"]
