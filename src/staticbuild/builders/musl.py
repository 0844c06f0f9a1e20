"""The two builders that make the target toolchain: musl itself, then its sysroot with mimalloc inside libc.a."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from ..context import BuildContext
from ..errors import StaticbuildError

COMPAT_SOURCE = (Path(__file__).parent / "musl_compat.c").read_text()
# Declarations for the compat functions, appended to musl's unistd.h (glibc declares them
# there under _GNU_SOURCE): configure checks that find them in libc.a then compile too.
COMPAT_DECLARATIONS = """
/* staticbuild: functions of the toolchain's compat layer in libc.a */
#if defined(_GNU_SOURCE) && !defined(_STATICBUILD_COMPAT_UNISTD)
#define _STATICBUILD_COMPAT_UNISTD
#ifdef __cplusplus
extern "C" {
#endif
int close_range(unsigned int, unsigned int, int);
#ifdef __cplusplus
}
#endif
#endif
"""
OBJECTS_DIR = "lib/musl-objects"  # musl's libc objects, kept so the sysroot can re-archive them
KERNEL_HEADER_DIRS = ("linux", "asm", "asm-generic", "mtd", "rdma", "sound", "video", "drm", "misc", "xen")
PRINT_OBJECTS = "print-objects:\n\t@echo $(AOBJS)\n"


@dataclass(frozen=True)
class MuslLibc:
    """musl built with Debian's gcc for the target machine, plus the kernel's UAPI headers."""

    kind: str = "musl"

    def build(self, ctx: BuildContext) -> None:
        prefix = ctx.toolchain.gnu_prefix
        ctx.run("configure", [ctx.src / "configure", "--prefix=/", f"--target={ctx.toolchain.triple}",
                              "--disable-shared", "--disable-wrapper", f"CROSS_COMPILE={prefix}", f"CC={prefix}gcc",
                              f"CFLAGS=-O2 -ffile-prefix-map={ctx.src}=/build/musl"])
        ctx.run("make", ["make", f"-j{ctx.jobs}"])
        ctx.run("install", ["make", "install", f"DESTDIR={ctx.dest}"])
        # Debian's gcc defaults to PIE, so musl archives its .lo objects: ask its Makefile which.
        ctx.shell("keep-objects", f"""
            printf '{PRINT_OBJECTS}' | make -s -f Makefile -f - print-objects | tr ' ' '\\n' > objects.txt
            mkdir -p "$DESTDIR/{OBJECTS_DIR}"
            tar cf - -T objects.txt | tar xf - -C "$DESTDIR/{OBJECTS_DIR}"
            cp objects.txt "$DESTDIR/{OBJECTS_DIR}/objects.txt"
        """, cwd=ctx.build)
        headers = " ".join(f"{root}/{d}" for root in ctx.target.arch.info.kernel_headers
                           for d in KERNEL_HEADER_DIRS if Path(root, d).is_dir())
        ctx.shell("kernel-headers", f'cp -r {headers} "$DESTDIR/include/"')


@dataclass(frozen=True)
class MuslSysroot:
    """The final sysroot: musl, with its malloc objects swapped for mimalloc in libc.a.

    Every static link then uses mimalloc with no per-project flags, C, cgo and Rust alike.
    Objects that only define symbols mimalloc also defines (musl's src/malloc, strdup,
    strndup, valloc) are left out; an object that overlaps mimalloc only in part is an error.
    """

    libc: str = "musl"
    allocator: str = "mimalloc"
    compat_source: str = field(default=COMPAT_SOURCE, repr=False)  # in the fingerprint through its digest
    compat_digest: str = hashlib.sha256((COMPAT_SOURCE + COMPAT_DECLARATIONS).encode()).hexdigest()
    kind: str = "sysroot"

    def build(self, ctx: BuildContext) -> None:
        musl, mimalloc = ctx.dep_dest(self.libc), ctx.dep_dest(self.allocator)
        shutil.copytree(musl, ctx.dest, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("musl-objects"))
        objects_dir = musl / OBJECTS_DIR
        allocator_obj = mimalloc / "usr/lib/mimalloc.o"
        compat_obj = self._compile_compat(ctx, musl)
        with (ctx.dest / "include" / "unistd.h").open("a") as unistd:
            unistd.write(COMPAT_DECLARATIONS)
        keep, dropped = select_objects(objects_dir, allocator_obj)
        clash = defined_globals(compat_obj) & set().union(*(defined_globals(objects_dir / o) for o in keep))
        if clash:
            raise StaticbuildError(f"musl now provides {sorted(clash)}: drop them from musl_compat.c")
        listing = ctx.build / "libc-objects.txt"
        listing.write_text("\n".join(str(objects_dir / o) for o in keep) + f"\n{allocator_obj}\n{compat_obj}\n")
        (ctx.runner.logs / "dropped-musl-objects.txt").write_text("\n".join(dropped) + "\n")
        libc = ctx.dest / "lib" / "libc.a"
        # musl's own malloc, for allocator comparisons (`build --allocator musl`): the same
        # compat layer, since unistd.h declares it for both.
        ctx.run("archive-musl-malloc", [ctx.toolchain.tool("ar"), "rsD", libc, compat_obj])
        libc.rename(ctx.dest / "lib" / "libc-musl-malloc.a")
        ctx.run("archive", [ctx.toolchain.tool("ar"), "rcsD", libc, f"@{listing}"])
        shutil.copytree(mimalloc / "usr/include", ctx.dest / "include", dirs_exist_ok=True)


    def _compile_compat(self, ctx: BuildContext, musl: Path) -> Path:
        source, obj = ctx.build / "musl_compat.c", ctx.build / "musl_compat.o"
        source.write_text(self.compat_source)
        gcc = ctx.toolchain.tool("gcc")
        gcc_include = subprocess.run([gcc, "-print-file-name=include"], capture_output=True, text=True,
                                     check=True).stdout.strip()
        ctx.run("compat", [gcc, "-O2", "-fno-stack-protector", "-nostdinc", "-isystem", musl / "include",
                           "-isystem", gcc_include, "-c", source, "-o", obj])
        return obj


def defined_globals(path: Path) -> set[str]:
    with path.open("rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        if symtab is None:
            return set()
        return {s.name for s in symtab.iter_symbols()
                if s["st_shndx"] != "SHN_UNDEF" and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")}


def select_objects(objects_dir: Path, allocator_obj: Path) -> tuple[list[str], list[str]]:
    """musl objects to archive with the allocator, and those left out (with the reason)."""
    provided = defined_globals(allocator_obj)
    keep, dropped = [], []
    for obj in (objects_dir / "objects.txt").read_text().split():
        if obj.startswith("obj/src/malloc/"):
            dropped.append(f"{obj}: musl's allocator")
            continue
        defined = defined_globals(objects_dir / obj)
        overlap = defined & provided
        if not overlap:
            keep.append(obj)
        elif overlap == defined:
            dropped.append(f"{obj}: {', '.join(sorted(overlap))} provided by the allocator")
        else:
            raise StaticbuildError(f"{obj} defines {sorted(overlap)} like the allocator but also "
                                   f"{sorted(defined - overlap)}: cannot replace it safely")
    return keep, dropped
