"""Real builds of the first components for both arches, and proof that they are what we claim."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import SMALL_COMPONENTS, run_cli
from staticbuild.arch import Arch
from staticbuild.engine import Target
from staticbuild.recipe import ToolchainStage
from staticbuild.toolchain import Toolchain

pytestmark = pytest.mark.build
ARCHES = [pytest.param(a, id=a.name) for a in Arch]

ALLOCATOR_PROBE = r"""
#include <mimalloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Threads free each other's blocks: the hard case for an allocator swapped in under libc. */
#define SLOTS 256
static void *slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *churn(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    for (int i = 0; i < 200000; i++) {
        int k = rand_r(&seed) % SLOTS;
        void *fresh = malloc(1 + rand_r(&seed) % 4096);
        pthread_mutex_lock(&lock);
        void *old = slots[k]; slots[k] = fresh;
        pthread_mutex_unlock(&lock);
        free(old);
    }
    return NULL;
}
int main(void) {
    pthread_t t[8];
    for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, churn, (void *)i);
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++) free(slots[i]);
    char *dup = strdup("x");
    FILE *f = fopen("/proc/self/status", "r");          /* musl allocates the FILE internally */
    char *line = NULL; size_t cap = 0;
    getline(&line, &cap, f);                             /* and grows this buffer with realloc */
    printf("malloc=%d strdup=%d musl-fopen=%d musl-getline=%d\n",
           mi_is_in_heap_region(malloc(64)), mi_is_in_heap_region(dup),
           mi_is_in_heap_region(f), mi_is_in_heap_region(line));
    return 0;
}
"""


def run(arch: Arch, *argv: str | Path, **kwargs) -> subprocess.CompletedProcess:
    prefix = [arch.info.qemu] if arch.needs_emulation else []
    return subprocess.run([*prefix, *map(str, argv)], capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def probe(built, tmp_path_factory):
    """The allocator probe compiled with each arch's target toolchain (unstripped, for nm)."""
    engine, results, _ = built
    binaries = {}
    for arch in Arch:
        sysroot = results[Target(engine.catalog.get("toolchain"), arch)].dest
        work = tmp_path_factory.mktemp(f"probe-{arch}")
        toolchain = Toolchain(arch, ToolchainStage.target, sysroot, work / "tools", work / "deps", 0)
        toolchain.materialize()
        (work / "probe.c").write_text(ALLOCATOR_PROBE)
        env = toolchain.env(work)
        subprocess.run([env["CC"], "-O2", "-pthread", "-o", work / "probe", work / "probe.c"], check=True, env=env)
        binaries[arch] = (work / "probe", toolchain)
    return binaries


def test_cli_verify_passes_for_every_binary_of_both_arches(built):
    _, _, out = built
    proc = run_cli("verify", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    assert len(reports) == 8  # catatonit, passt, pasta (+ .avx2 pair on amd64)
    assert all(r["ok"] and r["linkage"] == "static" and r["allocator"] == "mimalloc (active)" for r in reports)
    assert sorted(r["arch"] for r in reports).count("arm64") == 3


@pytest.mark.parametrize("arch", ARCHES)
def test_mimalloc_serves_every_allocation_at_run_time(probe, arch):
    binary, _ = probe[arch]
    proc = run(arch, binary, env={"MIMALLOC_SHOW_STATS": "1", "MIMALLOC_VERBOSE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "malloc=1 strdup=1 musl-fopen=1 musl-getline=1"
    assert "mimalloc: process init" in proc.stderr and "heap stats" in proc.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_mimalloc_commits_arenas_on_demand_unless_asked(probe, arch):
    """The toolchain's compiled-in default (eager arena commit cost 4x peak RSS in the benchmarks);
    the run-time option still overrides it."""
    binary, _ = probe[arch]
    shipped = run(arch, binary, env={"MIMALLOC_VERBOSE": "1"})
    assert "option 'arena_eager_commit': 0" in shipped.stderr, shipped.stderr
    asked = run(arch, binary, env={"MIMALLOC_VERBOSE": "1", "MIMALLOC_ARENA_EAGER_COMMIT": "1"})
    assert "option 'arena_eager_commit': 1" in asked.stderr, asked.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_malloc_symbol_is_mimallocs(probe, arch):
    binary, toolchain = probe[arch]
    symbols = subprocess.run([toolchain.tool("nm"), binary], capture_output=True, text=True, check=True).stdout
    address = {line.split()[-1]: line.split()[0] for line in symbols.splitlines() if len(line.split()) == 3}
    assert address["malloc"] == address["mi_malloc"]
    assert "__libc_malloc_impl" not in address and "__malloc_donate" not in address, "musl's malloc left out"


@pytest.mark.parametrize("arch", ARCHES)
def test_toolchain_libc_archive_carries_mimalloc_not_musl_malloc(built, arch):
    engine, results, _ = built
    libc = results[Target(engine.catalog.get("toolchain"), arch)].dest / "lib" / "libc.a"
    members = subprocess.run(["ar", "t", libc], capture_output=True, text=True, check=True).stdout.split()
    assert "mimalloc.o" in members
    assert not {"lite_malloc.lo", "malloc.lo", "donate.lo"} & set(members)


@pytest.mark.parametrize("arch", ARCHES)
def test_binaries_are_static_for_the_right_machine(built, arch):
    _, _, out = built
    for binary in (out / arch.name / "bin").iterdir():
        with binary.open("rb") as fh:
            elf = ELFFile(fh)
            assert elf["e_machine"] == arch.info.elf_machine
            assert not [s for s in elf.iter_segments() if s["p_type"] in ("PT_INTERP", "PT_DYNAMIC")]


@pytest.mark.parametrize("arch", ARCHES)
def test_catatonit_runs_a_child_and_passes_its_exit_code(built, arch):
    _, _, out = built
    proc = run(arch, out / arch.name / "bin" / "catatonit", "--", "/bin/sh", "-c", "echo child-ran; exit 7")
    assert proc.returncode == 7 and "child-ran" in proc.stdout, proc.stderr


def test_pasta_builds_a_network_namespace(built):
    """pasta (amd64; qemu-user cannot create user namespaces) gives a command a configured tap interface."""
    _, _, out = built
    script = "ip -o -4 addr show | grep -v ' lo ' ; echo pasta-ok"
    proc = run(Arch.amd64, out / "amd64" / "bin" / "pasta", "--runas", "0", "--config-net", "--", "sh", "-c", script)
    assert proc.returncode == 0 and "pasta-ok" in proc.stdout, proc.stderr
    assert " inet " in proc.stdout, "an interface with an IPv4 address inside the namespace"


def test_pasta_avx2_variant_is_installed_next_to_pasta_on_amd64_only(built):
    _, _, out = built
    assert (out / "amd64" / "bin" / "pasta.avx2").exists()
    assert not (out / "arm64" / "bin" / "pasta.avx2").exists()


def test_second_build_is_a_cache_hit(built, build_cache):
    proc = run_cli("build", *SMALL_COMPONENTS, "--arch", "all", cache=build_cache)
    assert proc.returncode == 0, proc.stderr
    assert "building" not in proc.stderr
    assert proc.stderr.count("cached") == 2 * (len(SMALL_COMPONENTS) + 3)  # + musl, mimalloc, toolchain


def test_allocator_musl_links_musls_own_malloc_under_its_own_key(built, build_cache, tmp_path):
    """The benchmarks' plain-musl variant: same recipe, libc.a swapped; the mimalloc builds stay cached."""
    out = tmp_path / "out"
    proc = run_cli("build", "catatonit", "--arch", "all", "--allocator", "musl", "--out", str(out), cache=build_cache)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("building catatonit") == 2 and "building toolchain" not in proc.stderr
    reports = json.loads(run_cli("verify", "--json", str(out)).stdout)
    assert [r["allocator"] for r in reports] == ["missing", "missing"]
    for arch in Arch:
        proc = run(arch, out / arch.name / "bin" / "catatonit", "--", "/bin/sh", "-c", "exit 3")
        assert proc.returncode == 3, proc.stderr
    again = run_cli("build", "catatonit", "--arch", "all", cache=build_cache)
    assert again.returncode == 0 and "building" not in again.stderr


COMPAT_PROBE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

struct dl_find_object { unsigned long long flags; void *start, *end, *link_map, *eh_frame; unsigned long long r[7]; };
int _dl_find_object(void *pc, struct dl_find_object *result);  /* close_range comes from <unistd.h> */

int main(void) {
    int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY);
    int closed = close_range(a, b, 0) == 0 && fcntl(a, F_GETFD) == -1 && fcntl(b, F_GETFD) == -1;
    struct dl_find_object found, missing;
    int here = _dl_find_object((void *)main, &found) == 0 && found.eh_frame
               && (char *)found.start <= (char *)main && (char *)main < (char *)found.end;
    int nowhere = _dl_find_object((void *)16, &missing) == -1;
    printf("close_range=%d dl_find_object=%d outside=%d\n", closed, here, nowhere);
    return 0;
}
"""


def compile_with_toolchain(built, arch: Arch, source: str, work: Path, *flags: str) -> Path:
    """SOURCE compiled and linked with ARCH's target toolchain, as a component's C code is."""
    engine, results, _ = built
    sysroot = results[Target(engine.catalog.get("toolchain"), arch)].dest
    toolchain = Toolchain(arch, ToolchainStage.target, sysroot, work / "tools", work / "deps", 0)
    toolchain.materialize()
    (work / "probe.c").write_text(source)
    env = toolchain.env(work)
    subprocess.run([env["CC"], "-O2", "-Werror=implicit-function-declaration", *flags,
                    "-o", work / "probe", work / "probe.c"], check=True, env=env)
    return work / "probe"


@pytest.mark.parametrize("arch", ARCHES)
def test_compat_layer_close_range_and_dl_find_object(built, arch, tmp_path):
    """The toolchain's libc.a carries what musl lacks: close_range(2) and glibc's _dl_find_object."""
    # --eh-frame-hdr as rustc passes it (gcc adds it only to dynamic links): unwinding needs the table.
    probe = compile_with_toolchain(built, arch, COMPAT_PROBE, tmp_path, "-Wl,--eh-frame-hdr")
    proc = run(arch, probe)
    assert proc.stdout.strip() == "close_range=1 dl_find_object=1 outside=1", proc.stderr


STRERROR_PROBE = r"""
#include <stdio.h>
#include <string.h>
int main(void) {
    for (int code = 0; code < 256; code++) printf("%d\t%s\n", code, strerror(code));
    return 0;
}
"""


@pytest.mark.parametrize("arch", ARCHES)
def test_error_messages_are_worded_as_glibc_words_them(built, arch, tmp_path):
    """musl's strerror says "Address in use" where glibc (and Go, and upstream's tests) say "Address
    already in use": the toolchain's musl carries glibc's wording for every errno this host knows."""
    proc = run(arch, compile_with_toolchain(built, arch, STRERROR_PROBE, tmp_path))
    ours = dict(line.split("\t", 1) for line in proc.stdout.splitlines())
    differ = {code: (ours[str(code)], os.strerror(code)) for code in errno.errorcode
              if ours[str(code)] != os.strerror(code)}
    assert len(errno.errorcode) > 120 and not differ, differ
    assert ours["0"] == ours["255"] == "No error information"  # musl's catch-all, for unknown codes too
