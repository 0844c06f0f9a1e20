"""The four release bundles for both arches: layout, verify, reproducibility, relocation.

Relocation is the point of the bundle: unpacked with --strip-components=1 into /usr/local,
into / (an empty usr-merged root, entered with chroot) or into a user's ~/.local (rootless),
podman must use the bundle's own helpers and config with nothing edited.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from conftest import no_emulation, run_cli
from oci_helpers import BUSYBOX, write_layout
from podman_helpers import (chown_tree, in_cgroup2_namespace, podman_info, unpack, unprivileged_user, user_env,
                            usrmerged_root)
from staticbuild.arch import Arch
from staticbuild.archive import open_tar
from staticbuild import systemd_units
from staticbuild.bundle import BUILDAH_HELPERS, BUNDLES, FULL_HELPERS
from staticbuild.checksums import CHECKSUMS
from staticbuild.fetch import SourceCache
from staticbuild.package import package
from staticbuild.source_files import files_under

pytestmark = [pytest.mark.build, pytest.mark.full]
PODMAN, BUILDAH, SKOPEO = "podman-v6.0.2", "buildah-v1.45.0", "skopeo-v1.19.0"


def package_all(settings, catalog, lock, out: Path) -> Path:
    with no_emulation():
        for spec in BUNDLES:
            for arch in Arch:
                package(settings, catalog, lock, spec, arch, out, console=Console(stderr=True))
    return out


@pytest.fixture(scope="module")
def dist(settings, catalog, lock, tmp_path_factory) -> Path:
    return package_all(settings, catalog, lock, tmp_path_factory.mktemp("dist"))


def names(bundle: Path) -> set[str]:
    with open_tar(bundle) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def completions(tool: str) -> set[str]:
    return {f"share/bash-completion/completions/{tool}", f"share/zsh/site-functions/_{tool}",
            f"share/fish/vendor_completions.d/{tool}.fish"}


UNITS = {f"lib/systemd/{u}" for u in systemd_units.unit_files(
    {f"{f}/{n}": b"" for f in ("system", "user") for n in (*systemd_units.UNITS, *systemd_units.USER_ONLY)})}


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_the_four_bundles_have_the_documented_layout(dist, arch):
    config = {f"etc/containers/{c}" for c in ("containers.conf", "policy.json", "registries.conf", "storage.conf")}
    helpers = {f"lib/podman/{h}" for h in FULL_HELPERS if arch is Arch.amd64 or h != "pasta.avx2"}
    buildah_helpers = {f"lib/podman/{h}" for h in BUILDAH_HELPERS if arch is Arch.amd64 or h != "pasta.avx2"}
    full = {"bin/podman", "bin/fuse-overlayfs", "bin/fusermount3", *helpers, *config, *completions("podman"), *UNITS}
    expected = {
        "podman-full": {f"{PODMAN}/{p}" for p in full},
        "podman-minimal": {f"{PODMAN}/{p}" for p in {"bin/podman", *config, *completions("podman")}},
        "buildah": {f"{BUILDAH}/{p}" for p in {"bin/buildah", *config, *buildah_helpers, *completions("buildah")}},
        "skopeo": {f"{SKOPEO}/{p}" for p in {"bin/skopeo", "etc/containers/policy.json",
                                             "etc/containers/registries.conf", *completions("skopeo")}},
    }
    for kind, files in expected.items():
        inside = names(dist / f"{kind}-linux-{arch}.tar.zst")
        assert {n for n in inside if "/share/licenses/" not in n} == files, kind
        licences = {n.split("/share/licenses/")[1].split("/")[0] for n in inside if "/share/licenses/" in n}
        assert {"musl", "mimalloc", kind.split("-")[0], "go"} <= licences, kind
        if kind == "podman-full":  # the Rust helpers bring their crates' texts and Rust's standard library's
            assert {"netavark", "aardvark-dns", "crates", "rust-std", "crun", "glib", "passt"} <= licences
    with open_tar(dist / f"podman-full-linux-{arch}.tar.zst") as tar:
        links = {m.name: m.linkname for m in tar.getmembers() if m.issym()}
    assert links == {f"{PODMAN}/lib/systemd/{name}": target for name, target in systemd_units.GENERATORS.items()}
    listed = {line.split()[1] for line in (dist / CHECKSUMS).read_text().splitlines()}
    assert listed == {f"{k}-linux-{a}.{ext}" for k in expected for a in ("amd64", "arm64") for ext in
                      ("tar.zst", "cdx.json")}


def test_both_arches_carry_the_same_completions_and_units(dist):
    def texts(arch: str) -> dict[str, bytes]:
        with open_tar(dist / f"podman-full-linux-{arch}.tar.zst") as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                    if m.isfile() and m.name.split("/")[1] in ("share", "lib")
                    and "/lib/podman/" not in m.name and "/share/licenses/" not in m.name}
    amd64 = texts("amd64")
    assert len(amd64) == 3 + len(UNITS) and amd64 == texts("arm64")
    assert b"__start_podman" in amd64[f"{PODMAN}/share/bash-completion/completions/podman"]


def test_podman_completions_are_upstreams(dist, lock, settings):
    """Generated in remote mode (no cgroup check), they equal the scripts upstream commits in completions/."""
    archive, source = SourceCache(settings.cache).get("podman", lock.pin("podman"))
    upstream = files_under(archive, source.subdir, "completions")
    with open_tar(dist / "podman-full-linux-amd64.tar.zst") as tar:
        for ours, theirs in (("bash-completion/completions/podman", "bash/podman"),
                             ("zsh/site-functions/_podman", "zsh/_podman"),
                             ("fish/vendor_completions.d/podman.fish", "fish/podman.fish")):
            assert tar.extractfile(f"{PODMAN}/share/{ours}").read() == upstream[theirs], ours  # type: ignore[union-attr]


@pytest.mark.parametrize("arch", list(Arch), ids=lambda a: a.name)
def test_every_binary_in_every_bundle_passes_verify(dist, arch):
    bundles = sorted(str(p) for p in dist.glob(f"*-linux-{arch}.tar.zst"))
    proc = run_cli("verify", "--json", *bundles)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    full = 3 + len(FULL_HELPERS) - (arch is Arch.arm64)  # podman, fuse-overlayfs, fusermount3, helpers (no pasta.avx2 on arm64)
    buildah = 1 + len(BUILDAH_HELPERS) - (arch is Arch.arm64)
    assert len(reports) == full + 1 + buildah + 1  # podman-full, podman-minimal, buildah, skopeo
    assert all(r["linkage"] == "static" and r["arch"] == arch.name for r in reports)
    assert {r["allocator"] for r in reports if r["path"].endswith(("/quadlet", "/fusermount3"))} == {"mimalloc (active)"}


def test_packaging_again_gives_identical_bytes(dist, settings, catalog, lock, tmp_path):
    again = package_all(settings, catalog, lock, tmp_path / "again")
    different = [p.name for p in sorted(dist.iterdir()) if (again / p.name).read_bytes() != p.read_bytes()]
    assert different == []


def test_sbom_lists_the_runtime_go_modules_and_crates(dist, lock):
    sbom = json.loads((dist / "podman-full-linux-arm64.cdx.json").read_text())
    kinds = {}
    for c in sbom["components"]:
        kind = next(p["value"] for p in c["properties"] if p["name"] == "staticbuild:kind")
        kinds.setdefault(kind, {})[c["name"]] = c.get("version")
    for name in ("podman", "crun", "conmon", "netavark", "aardvark-dns", "glib", "libseccomp", "musl", "mimalloc"):
        assert kinds["recipe"][name] == lock.pins[name].version
    assert kinds["go-module"]["go.podman.io/common"].startswith("v0.")
    assert "tokio" in kinds["crate"]


# -- relocation --------------------------------------------------------------------------
@pytest.fixture
def full_amd64(dist) -> Path:
    return dist / "podman-full-linux-amd64.tar.zst"


def assert_bundled_helpers(info: dict, libdir: str) -> None:
    assert info["host"]["ociRuntime"]["path"] == f"{libdir}/crun"
    assert info["host"]["conmon"]["path"] == f"{libdir}/conmon"
    assert info["host"]["pasta"]["executable"] == f"{libdir}/pasta"
    assert info["host"]["networkBackendInfo"]["path"] == f"{libdir}/netavark"
    assert info["version"]["Version"] == "6.0.2"


def test_podman_unpacked_into_usr_local_uses_its_helpers_and_config(full_amd64, tmp_path):
    prefix = unpack(full_amd64, tmp_path / "usr" / "local")
    (prefix / "etc/containers/containers.conf").write_text(  # a mark only the bundle's file carries
        (prefix / "etc/containers/containers.conf").read_text() + '\nevents_logger = "none"\n')
    store = ["--root", tmp_path / "storage", "--runroot", tmp_path / "run"]
    info = podman_info(prefix / "bin" / "podman", *store)
    assert_bundled_helpers(info, f"{prefix}/lib/podman")
    assert info["host"]["eventLogger"] == "none"  # <prefix>/etc/containers/containers.conf was read
    assert info["registries"]["search"] == ["docker.io", "quay.io"]  # and its registries.conf


def test_podman_unpacked_into_root_uses_its_helpers(full_amd64, tmp_path):
    root = usrmerged_root(tmp_path / "root")
    unpack(full_amd64, root)
    assert (root / "usr/lib/podman/conmon").is_file()  # lib/podman landed in /lib -> /usr/lib
    info = podman_info(Path("/bin/podman"), chroot=root, env={"HOME": "/root"})  # the bare root has no passwd
    assert_bundled_helpers(info, "/usr/lib/podman")
    assert info["store"]["graphRoot"] == "/var/lib/containers/storage"
    assert info["registries"]["search"] == ["docker.io", "quay.io"]  # /etc/containers/registries.conf


def test_rootless_podman_in_home_local_uses_its_helpers(full_amd64):
    with unprivileged_user() as (user, home):
        prefix = unpack(full_amd64, home / ".local")
        chown_tree(home, user)
        info = podman_info(prefix / "bin" / "podman", user=user, env=user_env(home, user))
        assert info["host"]["security"]["rootless"] is True
        assert_bundled_helpers(info, f"{prefix}/lib/podman")
        assert info["store"]["graphRoot"] == f"{home}/.local/share/containers/storage"


def test_skopeo_finds_the_bundled_policy(dist, tmp_path):
    if Path("/etc/containers/policy.json").exists() or not BUSYBOX.exists():
        pytest.skip("needs a machine without /etc/containers/policy.json, and busybox-static")
    prefix = unpack(dist / "skopeo-linux-amd64.tar.zst", tmp_path / "opt")
    layout = tmp_path / "layout"
    digests = write_layout(layout)
    copy = [prefix / "bin" / "skopeo", "copy", f"oci:{layout}:latest", f"dir:{tmp_path / 'copy'}"]
    proc = subprocess.run(copy, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    manifest = (tmp_path / "copy" / "manifest.json").read_bytes()
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == digests["manifest"]
    (prefix / "etc/containers/policy.json").unlink()  # without it, skopeo has no policy to copy under
    shutil.rmtree(tmp_path / "copy")
    proc = subprocess.run(copy, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode != 0 and "policy.json" in proc.stderr


def test_buildah_reads_the_bundled_storage_conf(dist, tmp_path):
    prefix = unpack(dist / "buildah-linux-amd64.tar.zst", tmp_path / "opt")
    conf = prefix / "etc/containers/storage.conf"
    conf.write_text(conf.read_text().replace('driver = "overlay"', f'driver = "vfs"\ngraphroot = "{tmp_path}/g"\n'
                                                                     f'runroot = "{tmp_path}/r"'))
    proc = in_cgroup2_namespace([prefix / "bin" / "buildah", "info"], env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    store = json.loads(proc.stdout)["store"]
    assert (store["GraphRoot"], store["GraphDriverName"]) == (f"{tmp_path}/g", "vfs")
