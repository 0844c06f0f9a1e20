"""What bundles carry besides binaries (CI suite, no builds): generator links, podman's
systemd units from the pinned module zip, checked by systemd itself, and completions."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from staticbuild import completions, systemd_units
from staticbuild.archive import EXECUTABLE, Entry, symlink, write_tar
from staticbuild.bundle import BUNDLES, find_bundle
from staticbuild.errors import SourceError, StaticbuildError
from staticbuild.fetch import SourceCache
from staticbuild.source_files import files_under

PLAIN = ("podman.socket", "podman.service", "podman-restart.service", "podman-auto-update.service",
         "podman-auto-update.timer", "podman-clean-transient.service")


@pytest.fixture(scope="module")
def contrib(build_cache, lock) -> dict[str, bytes]:
    """contrib/systemd of the podman release the lock pins, read from its module zip."""
    archive, source = SourceCache(build_cache).get("podman", lock.pin("podman"))
    return files_under(archive, source.subdir, systemd_units.CONTRIB)


def test_generator_links_unpack_to_quadlet_under_any_prefix(tmp_path):
    top = "podman-v6"
    entries = [Entry(f"{top}/lib/podman/quadlet", b"#!/bin/sh\necho quadlet \"$0\"\n", EXECUTABLE),
               *systemd_units.entries(top, {"system/podman.socket": b"", **{
                   f"{f}/{n}": b"" for f in ("system", "user") for n in
                   (*systemd_units.UNITS, *systemd_units.USER_ONLY)}})]
    archive = tmp_path / "b.tar"
    with archive.open("wb") as fh:
        write_tar(entries, 0, fh)
    prefix = tmp_path / "usr" / "local"
    prefix.mkdir(parents=True)
    subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", archive], check=True)
    for name in systemd_units.GENERATORS:
        link = prefix / "lib" / "systemd" / name
        assert link.is_symlink() and link.resolve() == prefix / "lib" / "podman" / "quadlet"


def test_a_link_that_leaves_the_bundle_is_refused():
    with pytest.raises(ValueError, match="leaves the archive"):
        symlink("top/lib/x", "../../../etc/passwd")
    with pytest.raises(ValueError, match="leaves the archive"):
        symlink("top/lib/x", "/usr/bin/podman")


def test_units_name_podman_by_its_bare_name_and_keep_everything_else(contrib):
    units = systemd_units.unit_files(contrib)
    assert set(units) == ({f"system/{n}" for n in systemd_units.UNITS}
                          | {f"user/{n}" for n in (*systemd_units.UNITS, *systemd_units.USER_ONLY)})
    assert "ExecStart=podman $LOGGING system service" in units["system/podman.service"]
    assert not any("@@" in text or "/usr/bin/podman" in text for text in units.values())
    assert "ListenStream=%t/podman/podman.sock" in units["user/podman.socket"]
    assert "Requires=boot-complete.target" in units["system/podman-clean-transient.service"]
    assert "boot-complete" not in units["user/podman-clean-transient.service"]


def write_units(units: dict[str, str], root: Path) -> Path:
    for path, text in units.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


# systemd resolves the bare `podman` through its fixed search path: with a podman in
# /usr/local/bin (a private tmpfs here) every unit verifies, without one none does.
VERIFY = """mount -t tmpfs none /usr/local && mkdir -p /usr/local/bin /tmp/rt
[ "$1" = with ] && printf '#!/bin/sh\\n' > /usr/local/bin/podman && chmod +x /usr/local/bin/podman
shift; export XDG_RUNTIME_DIR=/tmp/rt; exec systemd-analyze "$@"
"""


def systemd_verify(with_podman: bool, *args: str | Path) -> subprocess.CompletedProcess:
    if not shutil.which("systemd-analyze") or shutil.which("podman"):
        pytest.skip("needs systemd-analyze and no podman of the machine's own on PATH")
    return subprocess.run(["unshare", "-m", "sh", "-c", VERIFY, "sh", "with" if with_podman else "without",
                           *map(str, args)], capture_output=True, text=True)


def test_systemd_accepts_every_unit_for_its_manager(contrib, tmp_path):
    root = write_units(systemd_units.unit_files(contrib), tmp_path)
    system = sorted(str(p) for p in (root / "system").iterdir() if p.name != "podman-kube@.service")
    user = sorted(str(p) for p in (root / "user").iterdir() if p.name != "podman-kube@.service")
    proc = systemd_verify(True, "verify", "--man=no", *system)
    assert proc.returncode == 0, proc.stderr
    proc = systemd_verify(True, "--user", "verify", "--man=no", *user)
    assert proc.returncode == 0, proc.stderr
    # The same files as user units would not load: the user variant's edit is needed.
    proc = systemd_verify(True, "--user", "verify", "--man=no", root / "system" / "podman-clean-transient.service")
    assert proc.returncode != 0 and "boot-complete.target" in proc.stderr
    proc = systemd_verify(False, "verify", "--man=no", root / "system" / "podman.service")
    assert proc.returncode != 0 and "podman is not executable" in proc.stderr


def test_source_files_reads_a_module_zip_and_a_tarball(tmp_path):
    zipped = tmp_path / "m.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("example.com/tool/v2@v2.0.0/contrib/a.service", "zip")
        zf.writestr("example.com/tool/v2@v2.0.0/go.mod", "module x")
    assert files_under(zipped, "tool/v2@v2.0.0", "contrib") == {"a.service": b"zip"}
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("pkg-1.0/util/fuse.conf")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"tar"))
    assert files_under(tarball, "", "util") == {"fuse.conf": b"tar"}
    with pytest.raises(SourceError, match="no files under contrib/systemd/"):
        files_under(tarball, "", "contrib/systemd")


def test_a_failing_completion_command_is_one_clear_error(tmp_path):
    fake = tmp_path / "tool"
    fake.write_text("#!/bin/sh\necho \"unknown command $1\" >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(StaticbuildError, match=r"`tool completion bash` failed \(exit 3\): unknown command completion"):
        completions.generate(fake, "tool", "bash")


def test_completions_go_where_the_shells_look_under_a_prefix(tmp_path):
    fake = tmp_path / "tool"
    fake.write_text("#!/bin/sh\necho \"# $2 completion for tool\"\n")
    fake.chmod(0o755)
    files = {e.name: e.source for e in completions.entries("t-v1", "tool", fake)}
    assert files == {"t-v1/share/bash-completion/completions/tool": b"# bash completion for tool\n",
                     "t-v1/share/zsh/site-functions/_tool": b"# zsh completion for tool\n",
                     "t-v1/share/fish/vendor_completions.d/tool.fish": b"# fish completion for tool\n"}


def test_podman_full_declares_quadlet_fusermount3_and_units():
    full = find_bundle("podman", "full")
    assert "quadlet" in full.helpers and "fusermount3" in full.bin and full.systemd
    assert not find_bundle("podman", "minimal").systemd
    assert all(spec.completions for spec in BUNDLES)  # every tool prints its own
