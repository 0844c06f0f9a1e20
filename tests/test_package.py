"""Packaging stages on real builds: reproducible .tar.zst, SBOM, checksums, cosign signatures.

The four release bundles need the heavy Go and Rust components (tests/test_bundles.py, full
suite); here a bundle declared like them but made of catatonit and pasta goes through the
same pipeline, for both arches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from rich.console import Console

from conftest import COSIGN_ENV, LOCK, SMALL, make_dist, no_emulation, run_cli
from podman_helpers import unpack, usrmerged_root
from staticbuild.arch import Arch
from staticbuild.archive import Entry, open_tar, write_tar_zst
from staticbuild.atomic import atomic_path
from staticbuild.bundle import ALL_CONFIG
from staticbuild.checksums import CHECKSUMS, check_checksums
from staticbuild.engine import Engine, Settings
from staticbuild.fetch import sha256_of
from staticbuild.lock import Lock, PinnedSource
from staticbuild.package import package

pytestmark = pytest.mark.build
@pytest.fixture(scope="module")
def dist(built, settings, catalog, lock, tmp_path_factory) -> Path:
    return make_dist(settings, catalog, lock, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def keys(cosign_keys) -> tuple[Path, Path]:
    return cosign_keys


def members(bundle: Path) -> list[tarfile.TarInfo]:
    with open_tar(bundle) as tar:
        return tar.getmembers()


def test_layout_owner_modes_and_mtime(dist, built):
    _, results, _ = built
    epoch = next(r.manifest["source_date_epoch"] for t, r in results.items() if t.recipe.name == "catatonit")
    for arch in Arch:
        entries = members(dist / f"catatonit-linux-{arch}.tar.zst")
        names = [m.name for m in entries]
        assert names == sorted(names), "entries are sorted"
        expected_helpers = {"pasta", "pasta.avx2"} if arch is Arch.amd64 else {"pasta"}  # avx2 build on amd64 only
        assert {n.rsplit("/", 1)[-1] for n in names if "/lib/podman/" in n} == expected_helpers
        assert {n for n in names if "/etc/containers/" in n} == {f"catatonit-v0.2.1/etc/containers/{c}"
                                                                 for c in ALL_CONFIG}
        assert all(n.startswith("catatonit-v0.2.1/") for n in names)
        for m in entries:
            assert m.isfile(), f"{m.name}: only files (a directory entry would replace a /bin -> usr/bin link)"
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "root", "root", epoch)
            executable = "/bin/" in m.name or "/lib/podman/" in m.name
            assert m.mode == (0o755 if executable else 0o644), m.name


def test_unpacking_into_a_usr_merged_root_keeps_its_links(dist, tmp_path):
    root = usrmerged_root(tmp_path / "root")
    (root / "usr/bin/sh").write_text("the system's own file")
    unpack(dist / "catatonit-linux-amd64.tar.zst", root)
    assert (root / "bin").is_symlink() and (root / "lib").is_symlink()
    assert (root / "usr/bin/catatonit").is_file() and (root / "usr/lib/podman/pasta").is_file()
    assert (root / "bin/sh").read_text() == "the system's own file"


def test_bundles_pass_verify(dist):
    for arch in Arch:
        proc = run_cli("verify", "--json", str(dist / f"catatonit-linux-{arch}.tar.zst"))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        reports = json.loads(proc.stdout)
        assert {Path(r["path"]).name for r in reports} >= {"catatonit", "pasta"}
        assert all(r["arch"] == arch.name and r["linkage"] == "static" for r in reports)


def test_same_inputs_give_the_same_bytes(dist, built, settings, catalog, lock, tmp_path):
    again = make_dist(settings, catalog, lock, tmp_path / "again")
    for name in sorted(p.name for p in dist.iterdir()):
        assert (again / name).read_bytes() == (dist / name).read_bytes(), name


def test_archive_ignores_file_metadata_and_thread_count(tmp_path, built):
    _, _, out = built
    source = out / "amd64" / "bin" / "catatonit"
    copy = tmp_path / "copy"
    shutil.copyfile(source, copy)
    os.chmod(copy, 0o700)
    os.utime(copy, (1, 1))
    archives = []
    for i, (path, threads) in enumerate([(source, 1), (copy, 4)]):
        entries = [Entry("x-v1/bin/catatonit", path, 0o755), Entry("x-v1/etc/a.conf", b"a = 1\n")]
        archives.append(tmp_path / f"{i}.tar.zst")
        write_tar_zst(list(reversed(entries)) if i else entries, 1_700_000_000, archives[-1], threads=threads)
    assert archives[0].read_bytes() == archives[1].read_bytes()


def test_reproducible_from_a_clean_cache(dist, catalog, lock, tmp_path):
    """A second cold build (toolchain included) in another directory gives the same amd64 bundle."""
    other = Settings(cache=tmp_path / "other-cache", lock=lock.path)
    engine = Engine(other, catalog, lock, Console(stderr=True))
    with no_emulation():
        engine.build(["catatonit", "passt"], [Arch.amd64])
    package(other, catalog, lock, SMALL, Arch.amd64, tmp_path / "dist", build_missing=False)
    for name in ("catatonit-linux-amd64.tar.zst", "catatonit-linux-amd64.cdx.json"):  # the SBOM too
        assert sha256_of(tmp_path / "dist" / name) == sha256_of(dist / name), name


def test_the_sbom_names_what_is_pinned_not_the_mirror_that_answered(dist, built, settings, catalog, lock, tmp_path):
    """The SBOM lists every pinned location of the bytes built, in the lock's order; which one served them
    (a note in build.json) does not matter, and another location for the same bytes is no rebuild."""
    pin = lock.pin("catatonit")
    mirror = PinnedSource("https://mirror.example.invalid/catatonit-0.2.1.tar.gz", pin.sources[0].sha256)
    wider = Lock(tmp_path / "wider.lock", lock.pins | {"catatonit": replace(pin, sources=(*pin.sources, mirror))})
    again = make_dist(settings, catalog, wider, tmp_path / "again")  # cached builds only: the keys are the same
    sbom = json.loads((again / "catatonit-linux-amd64.cdx.json").read_text())
    catatonit = next(c for c in sbom["components"] if c["name"] == "catatonit")
    sources = [p["value"] for p in catatonit["properties"] if p["name"] == "staticbuild:source"]
    assert sources == [*(s.url for s in pin.sources), mirror.url]
    assert (again / "catatonit-linux-amd64.tar.zst").read_bytes() == (dist / "catatonit-linux-amd64.tar.zst").read_bytes()


def test_checksums_work_with_sha256sum(dist):
    listed = [line.split()[1] for line in (dist / CHECKSUMS).read_text().splitlines()]
    assert listed == sorted(p.name for p in dist.iterdir() if p.name != CHECKSUMS)
    proc = subprocess.run(["sha256sum", "-c", CHECKSUMS], cwd=dist, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sbom_is_valid_cyclonedx_with_sources_licences_and_files(dist, lock):
    text = (dist / "catatonit-linux-arm64.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    assert sbom["metadata"]["component"]["hashes"][0]["content"] == sha256_of(dist / "catatonit-linux-arm64.tar.zst")
    by_ref = {c["bom-ref"]: c for c in sbom["components"]}
    for name in ("catatonit", "passt", "musl", "mimalloc"):  # what is in the binaries, the libc included
        component = by_ref[f"recipe:{name}"]
        assert component["version"] == lock.pins[name].version
        assert component["hashes"][0]["content"] in {s.sha256 for s in lock.pins[name].sources}
        assert component["licenses"]
    with open_tar(dist / "catatonit-linux-arm64.tar.zst") as tar:
        for member in tar.getmembers():
            if member.isfile():
                digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
                assert by_ref[f"file:{member.name}"]["hashes"][0]["content"] == digest
    depends = {d["ref"]: set(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    assert depends["file:catatonit-v0.2.1/bin/catatonit"] == {"recipe:catatonit"}


def signed_copy(dist: Path, keys, tmp_path: Path) -> Path:
    folder = tmp_path / "release"
    shutil.copytree(dist, folder)
    proc = run_cli("sign", str(folder), "--key", str(keys[0]), env=COSIGN_ENV)
    assert proc.returncode == 0, proc.stderr
    return folder


def test_signed_release_verifies_and_a_changed_byte_fails(dist, keys, tmp_path):
    folder = signed_copy(dist, keys, tmp_path)
    signed = sorted(p.name.removesuffix(".sigstore.json") for p in folder.glob("*.sigstore.json"))
    assert signed == sorted(p.name for p in folder.iterdir() if not p.name.endswith(".sigstore.json"))
    assert run_cli("verify-release", str(folder), "--key", str(keys[1])).returncode == 0

    bundle = folder / "catatonit-linux-amd64.tar.zst"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 1
    bundle.write_bytes(bytes(data))
    proc = run_cli("verify-release", str(folder), "--key", str(keys[1]))
    assert proc.returncode == 1
    assert "catatonit-linux-amd64.tar.zst: SHA-256 differs" in proc.stderr
    assert "cosign failed for catatonit-linux-amd64.tar.zst" in proc.stderr


def test_verify_release_fails_on_a_missing_signature_or_another_key(dist, keys, tmp_path):
    folder = signed_copy(dist, keys, tmp_path)
    (folder / "catatonit-linux-arm64.cdx.json.sigstore.json").unlink()
    proc = run_cli("verify-release", str(folder), "--key", str(keys[1]))
    assert proc.returncode == 1 and "no signature" in proc.stderr
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["cosign", "generate-key-pair"], cwd=other, env=os.environ | COSIGN_ENV, check=True,
                   capture_output=True)
    proc = run_cli("verify-release", str(signed_copy(dist, keys, tmp_path / "again")), "--key",
                   str(other / "cosign.pub"))
    assert proc.returncode == 1 and "cosign failed" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["nosuch"], "unknown tool 'nosuch' (bundles exist for: buildah, podman, skopeo)"),
    (["podman", "--variant", "tiny"], "unknown variant 'tiny' for podman (known: full, minimal)"),
    (["skopeo", "--variant", "full"], "skopeo has no variants; leave out --variant"),
    (["skopeo", "--no-build"], "is not built (or its recipe changed)"),
])
def test_bad_package_input_is_one_clear_line_and_writes_nothing(args, message, tmp_path):
    out = tmp_path / "dist"
    proc = run_cli("package", *args, "--out", str(out), cache=tmp_path / "empty-cache")
    assert proc.returncode == 1
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists() or not list(out.iterdir())


def test_sign_needs_exactly_one_mode(dist):
    proc = run_cli("sign", str(dist))
    assert proc.returncode == 2 and "exactly one of --key or --keyless" in proc.stderr


def test_a_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "x.tar.zst"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_that_breaks_a_requirement_is_refused_before_anything_is_built(tmp_path):
    """podman 6 with a netavark 3 in the lock is never packaged: one line, nothing written."""
    lock = tmp_path / "staticbuild.lock"
    lock.write_text(LOCK.read_text().replace('[netavark]\nversion = "2.1.0"', '[netavark]\nversion = "3.0.0"'))
    proc = run_cli("package", "podman", "--variant", "full", "--out", str(tmp_path / "dist"), cache=tmp_path / "c",
                   lock=lock)
    assert proc.returncode == 1 and proc.stderr.strip() == \
        "error: podman-full: podman 6.0.2 needs netavark >= 2, < 3, not 3.0.0"
    assert not (tmp_path / "dist").exists() and not (tmp_path / "c" / "builds").exists()
