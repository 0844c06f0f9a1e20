"""install.sh: the script, its host check, and real installs of real bundles served by a local GitHub.

CI part: shellcheck, the three shells, bad input, the host check finding by finding against a
fake host root (present, missing, and fixed by the printed command), the release asset
patterns, and install / upgrade / uninstall / refusals with small bundles of the real pipeline
(catatonit + pasta, signed with a throw-away key pair). Full part (marker `full`): podman-full
installed on a bare Debian root file system as root into /usr/local and as a user into
~/.local, running containers, then upgraded and removed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from rich.console import Console

from conftest import SMALL, no_emulation
from github_server import FakeGitHub
from install_helpers import (INSTALLER, RELEASE_REPO, SHELLS, installer_env, one_error_line, path_without, publish,
                             release_dir, replace_asset, run_installer, snapshot)
from staticbuild.arch import Arch
from staticbuild.bundle import ALL_CONFIG, BundleSpec
from staticbuild.checksums import CHECKSUMS, artifacts, read_checksums
from staticbuild.package import package
from staticbuild.publish import collect_assets

BUNDLE = "catatonit-linux-amd64.tar.zst"


# --- the script itself ----------------------------------------------------------------------

def test_shellcheck_finds_nothing():
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is not installed: `make setup` installs it")
    proc = subprocess.run(["shellcheck", "--shell=sh", "--severity=style", str(INSTALLER)], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_every_shell_parses_it_and_prints_help(shell):
    assert subprocess.run([*shell.split(), "-n", str(INSTALLER)]).returncode == 0
    proc = subprocess.run([*shell.split(), str(INSTALLER), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: sh install.sh TOOL"), proc.stderr


@pytest.mark.parametrize(("args", "env", "says"), [
    ((), {}, None),
    (("podman", "--bogus"), {}, "unknown option --bogus"),
    (("podman", "buildah"), {}, "one tool at a time"),
    (("Pod/man",), {}, "is not a tool name"),
    (("podman", "--version", "latest"), {}, "--version latest: give a version like 6.0.2"),
    (("podman", "--version", "6.0.2;rm"), {}, "--version 6.0.2;rm"),
    (("podman", "--version"), {}, "--version needs a value"),
    (("podman", "--upgrade", "--uninstall"), {}, "exclude each other"),
    (("podman", "--key", "/nonexistent.pub"), {}, "--key /nonexistent.pub: no such file"),
    (("podman", "--prefix", "/tmp/a b"), {}, "only letters, digits"),
    (("podman", "--arch", "riscv64", "--prefix", "/tmp/x"), {"STATICBUILD_REPO": "o/r"}, "--arch riscv64: amd64 or arm64"),
    (("podman", "--prefix", "/tmp/x"), {"STATICBUILD_REPO": "not-a-repo"}, "give OWNER/NAME"),
    (("podman", "--prefix", "/tmp/x"), {"STATICBUILD_REPO": ""}, "which repository?"),
    (("podman", "--uninstall", "--prefix", "/tmp/nothing-here"), {}, "podman is not installed in /tmp/nothing-here"),
    (("--check", "--user", "nobody-such-user"), {}, "--check: no user nobody-such-user"),
])
def test_bad_input_is_one_line_and_exit_1(args, env, says):
    proc = subprocess.run(["dash", str(INSTALLER), *args], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": "/root"} | env)
    if says is None:  # no tool: the usage, on stderr
        assert proc.returncode == 1 and proc.stderr.startswith("usage:")
        return
    assert says in one_error_line(proc)


# --- the host check -------------------------------------------------------------------------

USER, UID = "alice", 1000


def node(root: Path, name: str, minor: int) -> None:
    """A character device of the misc major (10), mode 0666 as distributions make /dev/fuse and /dev/net/tun."""
    os.mknod(root / name, 0o666 | stat.S_IFCHR, os.makedev(10, minor))
    (root / name).chmod(0o666)


def good_host(root: Path) -> Path:
    """A host root where every rootless prerequisite is met, as on a current Debian or Ubuntu."""
    files = {
        "etc/passwd": f"root:x:0:0::/root:/bin/sh\n{USER}:x:{UID}:{UID}::/home/{USER}:/bin/sh\n",
        "etc/subuid": f"{USER}:100000:65536\n", "etc/subgid": f"{USER}:100000:65536\n",
        "etc/os-release": "ID=debian\n",
        "proc/sys/user/max_user_namespaces": "63223\n", "proc/sys/kernel/unprivileged_userns_clone": "1\n",
        "proc/sys/kernel/osrelease": "6.1.0-18-amd64\n", "proc/sys/net/ipv4/ip_unprivileged_port_start": "80\n",
        "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
        f"sys/fs/cgroup/user.slice/user-{UID}.slice/user@{UID}.service/cgroup.controllers": "cpuset cpu io memory pids\n",
        f"var/lib/systemd/linger/{USER}": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for tool in ("newuidmap", "newgidmap", "nft"):
        path = root / ("usr/sbin" if tool == "nft" else "usr/bin") / tool
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o4755 if tool != "nft" else 0o755)
    (root / "dev/net").mkdir(parents=True)
    for name, minor in (("dev/fuse", 229), ("dev/net/tun", 200)):
        node(root, name, minor)
    (root / f"run/user/{UID}").mkdir(parents=True)
    os.chown(root / f"run/user/{UID}", UID, UID)
    return root


def check(root: Path, *args: str, shell: str = "dash", env: dict | None = None) -> tuple[int, dict, str]:
    """Run --check against `root`: (exit status, id -> (level, text, fix), output)."""
    environ = {"PATH": os.environ["PATH"], "HOME": "/root", "STATICBUILD_HOST_ROOT": str(root),
               "XDG_RUNTIME_DIR": f"/run/user/{UID}"} | (env or {})
    proc = subprocess.run([*shell.split(), str(INSTALLER), "--check", "podman", "--user", USER,
                           "--prefix", "/usr/local", *args], capture_output=True, text=True, env=environ)
    assert proc.returncode in (0, 2, 3), proc.stderr
    findings: dict[str, list] = {}
    last = None
    for line in proc.stdout.splitlines():
        if m := re.match(r"^(ok|note|warn|FAIL)\s+(\S+)\s+(.*)$", line):
            last = findings[m[2]] = [m[1], m[3], None]
        elif (m := re.match(r"^\s+fix: (.*)$", line)) and last:
            last[2] = m[1]
    return proc.returncode, {k: tuple(v) for k, v in findings.items()}, proc.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_a_good_host_passes_every_check(tmp_path, shell):
    status, findings, out = check(good_host(tmp_path), shell=shell)
    assert status == 0, out
    expected = {"cgroup", "overlay", "nft", "subuid", "subgid", "newuidmap", "newgidmap", "userns", "delegation",
                "fuse", "tun", "runtime-dir", "linger", "ports"}
    assert set(findings) == expected, out
    assert {k for k, (level, _, _) in findings.items() if level != "ok"} == set(), out
    assert "nothing blocks root or rootless use" in out


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def remove(root: Path, name: str) -> None:
    (root / name).unlink()


# Each row: finding, what breaks it on the good host, the level and exit status then, a part of
# the printed fix, and the same fix applied to the fake root (None: nothing a file change shows).
BROKEN = [
    ("subuid", lambda r: write(r, "etc/subuid", "bob:100000:65536\n"), "FAIL", 2,
     "sudo usermod --add-subuids 165536-231071 alice", lambda r: write(r, "etc/subuid", "bob:100000:65536\nalice:165536:65536\n")),
    ("subgid", lambda r: write(r, "etc/subgid", f"{USER}:100000:1000\n"), "warn", 0, "sudo usermod --add-subgids",
     lambda r: write(r, "etc/subgid", f"{USER}:100000:65536\n")),
    ("newuidmap", lambda r: (r / "usr/bin/newuidmap").chmod(0o755), "FAIL", 2, "sudo chmod u+s /usr/bin/newuidmap",
     lambda r: subprocess.run(["chmod", "u+s", r / "usr/bin/newuidmap"], check=True)),
    ("newgidmap", lambda r: (r / "usr/bin/newgidmap").chmod(0o755), "FAIL", 2, "sudo setcap cap_setgid+ep /usr/bin/newgidmap",
     lambda r: subprocess.run(["setcap", "cap_setgid+ep", r / "usr/bin/newgidmap"], check=True)),
    ("newuidmap", lambda r: remove(r, "usr/bin/newuidmap"), "FAIL", 2, "sudo apt-get install uidmap", None),
    ("userns", lambda r: write(r, "proc/sys/user/max_user_namespaces", "0\n"), "FAIL", 2,
     "sudo sysctl -w user.max_user_namespaces=28633", lambda r: write(r, "proc/sys/user/max_user_namespaces", "28633\n")),
    ("userns", lambda r: write(r, "proc/sys/kernel/unprivileged_userns_clone", "0\n"), "FAIL", 2,
     "sudo sysctl -w kernel.unprivileged_userns_clone=1", lambda r: write(r, "proc/sys/kernel/unprivileged_userns_clone", "1\n")),
    ("apparmor", lambda r: write(r, "proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n"), "FAIL", 2,
     "--apparmor --prefix /usr/local", None),  # the profile itself: test_apparmor_profile_satisfies_the_check
    ("cgroup", lambda r: (remove(r, "sys/fs/cgroup/cgroup.controllers"),
                          write(r, "sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n")), "FAIL", 3,
     "systemd.unified_cgroup_hierarchy=1", None),
    ("delegation", lambda r: write(r, f"sys/fs/cgroup/user.slice/user-{UID}.slice/user@{UID}.service/cgroup.controllers",
                                   "memory pids\n"), "warn", 0, "Delegate=cpu cpuset io memory pids",
     lambda r: write(r, f"sys/fs/cgroup/user.slice/user-{UID}.slice/user@{UID}.service/cgroup.controllers", "cpu memory pids\n")),
    ("delegation", lambda r: shutil.rmtree(r / "sys/fs/cgroup/user.slice"), "warn", 0, "sudo loginctl enable-linger alice", None),
    ("fuse", lambda r: remove(r, "dev/fuse"), "warn", 0, "sudo modprobe fuse",
     lambda r: node(r, "dev/fuse", 229)),
    ("fuse", lambda r: (r / "dev/fuse").chmod(0o600), "warn", 0, "sudo chmod 0666 /dev/fuse",
     lambda r: subprocess.run(["chmod", "0666", r / "dev/fuse"], check=True)),
    ("tun", lambda r: remove(r, "dev/net/tun"), "FAIL", 2, "sudo modprobe tun",
     lambda r: node(r, "dev/net/tun", 200)),
    ("tun", lambda r: (r / "dev/net/tun").chmod(0o600), "FAIL", 2, "sudo chmod 0666 /dev/net/tun",
     lambda r: subprocess.run(["chmod", "0666", r / "dev/net/tun"], check=True)),
    ("runtime-dir", lambda r: os.chown(r / f"run/user/{UID}", 0, 0), "warn", 0, "log in as alice",
     lambda r: os.chown(r / f"run/user/{UID}", UID, UID)),
    ("linger", lambda r: remove(r, f"var/lib/systemd/linger/{USER}"), "note", 0, "sudo loginctl enable-linger alice",
     lambda r: write(r, f"var/lib/systemd/linger/{USER}", "")),
    ("ports", lambda r: write(r, "proc/sys/net/ipv4/ip_unprivileged_port_start", "1024\n"), "note", 0,
     "sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80",
     lambda r: write(r, "proc/sys/net/ipv4/ip_unprivileged_port_start", "80\n")),
    ("overlay", lambda r: write(r, "proc/sys/kernel/osrelease", "5.10.0-28-amd64\n"), "warn", 0, "5.13", None),
    ("nft", lambda r: remove(r, "usr/sbin/nft"), "warn", 0, "sudo apt-get install nftables",
     lambda r: (write(r, "usr/sbin/nft", "#!/bin/sh\n"), (r / "usr/sbin/nft").chmod(0o755))),
]


@pytest.mark.parametrize(("finding", "breakage", "level", "status", "fix", "apply_fix"), BROKEN,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(BROKEN)])
def test_each_finding_missing_then_fixed(tmp_path, finding, breakage, level, status, fix, apply_fix):
    root = good_host(tmp_path)
    breakage(root)
    got, findings, out = check(root)
    assert findings[finding][0] == level, out
    assert fix in (findings[finding][2] or ""), out
    assert got == status, out
    others = {k: v[0] for k, v in findings.items() if k != finding and v[0] != "ok"}
    assert others == {}, out
    if apply_fix:
        apply_fix(root)
        got, findings, out = check(root)
        assert (got, findings[finding][0]) == (0, "ok"), out


def test_fuse_blocks_rootless_on_an_old_kernel(tmp_path):
    root = good_host(tmp_path)
    write(root, "proc/sys/kernel/osrelease", "5.4.0-42-generic\n")
    remove(root, "dev/fuse")
    status, findings, out = check(root)
    assert (status, findings["fuse"][0], findings["overlay"][0]) == (2, "FAIL", "warn"), out


def test_the_free_subuid_range_follows_the_others(tmp_path):
    root = good_host(tmp_path)
    write(root, "etc/subuid", "bob:100000:65536\ncarol:300000:65536\n")
    _, findings, _ = check(root)
    assert findings["subuid"][2] == "sudo usermod --add-subuids 365536-431071 alice"


def test_fedora_gets_dnf_for_newuidmap(tmp_path):
    root = good_host(tmp_path)
    write(root, "etc/os-release", 'ID=fedora\n')
    remove(root, "usr/bin/newgidmap")
    _, findings, _ = check(root)
    assert findings["newgidmap"][2] == "sudo dnf install shadow-utils"


def test_root_only_without_a_user(tmp_path):
    root = good_host(tmp_path)
    proc = subprocess.run(["dash", str(INSTALLER), "--check"], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": "/root", "STATICBUILD_HOST_ROOT": str(root)})
    assert proc.returncode == 0, proc.stdout
    assert re.search(r"^note +rootless +root only was checked", proc.stdout, re.M)
    assert "subuid" not in proc.stdout


def test_apparmor_profile_satisfies_the_check(tmp_path):
    """--apparmor (as root) writes a profile per user-namespace creating binary of the prefix, like
    Ubuntu's for /usr/bin/podman; the check then accepts it. apparmor_parser is not on these
    machines, so the file is written and loading is left to its absence."""
    root = good_host(tmp_path / "host")
    write(root, "proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n")
    prefix = tmp_path / "prefix"
    for name in ("bin/podman", "lib/podman/crun", "lib/podman/conmon"):
        (prefix / name).parent.mkdir(parents=True, exist_ok=True)
        (prefix / name).write_text("#!/bin/sh\n")
        (prefix / name).chmod(0o755)
    apparmor = root / "etc/apparmor.d"
    apparmor.mkdir(parents=True)
    script = INSTALLER.read_text().replace("APPARMOR_DIR=/etc/apparmor.d", f"APPARMOR_DIR={apparmor}")
    (tmp_path / "install.sh").write_text(script)
    proc = subprocess.run(["dash", str(tmp_path / "install.sh"), "--apparmor", "--prefix", str(prefix)],
                          capture_output=True, text=True, env={"PATH": path_without("apparmor_parser", tmp=tmp_path)})
    assert proc.returncode == 0, proc.stderr
    written = list(apparmor.iterdir())
    assert len(written) == 1
    text = written[0].read_text()
    assert re.search(rf"^profile staticbuild\S+ {prefix}/bin/podman flags=\(unconfined\) {{\n  userns,\n}}$", text, re.M), text
    assert f"{prefix}/lib/podman/crun flags=(unconfined)" in text
    assert "conmon" not in text  # it creates no user namespace
    status, findings, out = check(root, "--prefix", str(prefix))
    assert (status, findings["apparmor"][0]) == (0, "ok"), out


# --- what a release carries -----------------------------------------------------------------

def test_install_sh_is_checksummed_signed_and_uploaded(tmp_path, cosign_keys):
    folder = tmp_path / "dist"
    folder.mkdir()
    (folder / "podman-full-linux-amd64.tar.zst").write_bytes(b"bundle")
    (folder / "podman-full-linux-amd64.cdx.json").write_text("{}")
    (folder / "notes.txt").write_text("not an asset")
    shutil.copy(INSTALLER, folder / "install.sh")
    assert [p.name for p in artifacts(folder)] == ["install.sh", "podman-full-linux-amd64.cdx.json",
                                                   "podman-full-linux-amd64.tar.zst"]
    release_dir([], folder, cosign_keys[0])
    assert "install.sh" in read_checksums(folder)
    assert (folder / "install.sh.sigstore.json").is_file()
    names = {a.name for a in collect_assets(folder)}
    assert {"install.sh", "install.sh.sigstore.json", CHECKSUMS} <= names and "notes.txt" not in names


# --- installs from small real bundles (CI) ---------------------------------------------------

# The second release: a rebuild of the same version that no longer has pasta.avx2 and
# registries.conf, so an upgrade has files to remove.
SMALLER = BundleSpec("catatonit", None, bin=("catatonit",), config=tuple(c for c in ALL_CONFIG if c != "registries.conf"),
                     helpers=("pasta",))


@pytest.fixture(scope="module")
def releases(built, settings, catalog, lock, cosign_keys, tmp_path_factory) -> dict[str, Path]:
    """Signed release folders: v1 (SMALL), v2 (SMALLER, a rebuild -r1) and v1 signed by another key."""
    made = {}
    base = tmp_path_factory.mktemp("releases")
    for name, spec in (("v1", SMALL), ("v2", SMALLER)):
        dist = base / f"dist-{name}"
        with no_emulation():
            package(settings, catalog, lock, spec, Arch.amd64, dist, console=Console(stderr=True))
        made[name] = release_dir([dist / BUNDLE], base / name, cosign_keys[0])
    other_key = base / "other"
    other_key.mkdir()
    subprocess.run(["cosign", "generate-key-pair"], cwd=other_key, env=os.environ | {"COSIGN_PASSWORD": "test-only"},
                   check=True, capture_output=True)
    made["v1-other-key"] = release_dir([base / "dist-v1" / BUNDLE], base / "v1-other-key", other_key / "cosign.key")
    return made


@pytest.fixture
def github(releases):
    """The releases of the test repository, with other tools' releases, a draft and a pre-release around them."""
    with FakeGitHub() as fake:
        publish(fake, "catatonit-v0.2.1", releases["v1"])
        publish(fake, "podman-v6.0.2", releases["v1"])
        publish(fake, "catatonit-v0.3.0", releases["v2"], draft=True)
        publish(fake, "catatonit-v0.4.0", releases["v2"], prerelease=True)
        yield fake


def pub_key(cosign_keys) -> str:
    return str(cosign_keys[1])


@pytest.fixture
def env(github, cosign_keys) -> dict[str, str]:
    """The installer's environment for the test releases: signatures checked against the test key."""
    return installer_env(github, key=cosign_keys[1])


@pytest.mark.build
def test_installs_checks_and_records_every_file(env, releases, cosign_keys, tmp_path):
    prefix = tmp_path / "prefix"
    proc = run_installer("catatonit", "--prefix", str(prefix), "--key", pub_key(cosign_keys), env=env)
    assert proc.returncode == 0, proc.stderr
    members = subprocess.run(f"zstd -dc {releases['v1'] / BUNDLE} | tar -tf -", shell=True, capture_output=True,
                             text=True, check=True).stdout.split()
    assert f"installed catatonit-v0.2.1 (0.2.1, catatonit amd64) in {prefix}: {len(members)} files; SHA-256 checked, " \
           f"signature checked against {cosign_keys[1]}" in proc.stdout
    assert f'export PATH="{prefix}/bin:$PATH"' in proc.stdout
    assert subprocess.run([prefix / "bin/catatonit", "--version"], capture_output=True, text=True).stdout.startswith("tini")
    assert os.access(prefix / "lib/podman/pasta", os.X_OK) and not os.access(prefix / "etc/containers/policy.json", os.X_OK)
    manifest = (prefix / "lib/staticbuild/catatonit.manifest").read_text()
    assert "tag\tcatatonit-v0.2.1\n" in manifest and f"\t755\tfile\t{prefix}/bin/catatonit\n" in manifest
    assert f"\t644\tconf\t{prefix}/etc/containers/storage.conf\n" in manifest
    assert (prefix / "lib/staticbuild/install.sh").read_bytes() == INSTALLER.read_bytes()
    again = run_installer("catatonit", "--prefix", str(prefix), env=env)
    assert (again.returncode, again.stdout.strip()) == (0, f"catatonit-v0.2.1 is installed in {prefix} already; nothing to do")


@pytest.mark.build
def test_newest_release_wins_rebuilds_after_their_version(github, env, releases, tmp_path):
    publish(github, "catatonit-v0.2.1-r1", releases["v2"])
    publish(github, "catatonit-v0.2.0-r9", releases["v1"])
    prefix = tmp_path / "p"
    proc = run_installer("catatonit", "--prefix", str(prefix), env=env)
    assert "installed catatonit-v0.2.1-r1 " in proc.stdout, proc.stderr  # not the draft 0.3.0 or pre-release 0.4.0
    old = run_installer("catatonit", "--prefix", str(tmp_path / "q"), "--version", "0.2.0", env=env)
    assert "installed catatonit-v0.2.0-r9 " in old.stdout, old.stderr
    exact = run_installer("catatonit", "--prefix", str(tmp_path / "r"), "--version", "v0.2.1", env=env)
    assert "installed catatonit-v0.2.1-r1 " in exact.stdout, exact.stderr
    missing = run_installer("catatonit", "--prefix", str(tmp_path / "s"), "--version", "0.3.0", env=env)
    assert one_error_line(missing) == f"install.sh: no release catatonit-v0.3.0 in {RELEASE_REPO}"
    unknown = run_installer("skopeo", "--prefix", str(tmp_path / "t"), env=env)
    assert one_error_line(unknown) == f"install.sh: no skopeo release in {RELEASE_REPO} (released here: catatonit, podman)"
    assert not (tmp_path / "s").exists() and not (tmp_path / "t").exists()


@pytest.mark.build
def test_releases_over_several_pages_and_the_token_stays_with_the_api(github, env, releases, tmp_path):
    for n in range(120):  # the newest catatonit release ends up on the second page of 100
        github.add_release("other/repo", f"x-v{n}")
        github.add_release(RELEASE_REPO, f"buildah-v1.{n}.0")
    publish(github, "catatonit-v0.2.1-r2", releases["v2"])
    for n in range(120):
        github.add_release(RELEASE_REPO, f"skopeo-v1.{n}.0")
    github.token = "secret"
    proc = run_installer("catatonit", "--prefix", str(tmp_path / "p"), env=env | {"GITHUB_TOKEN": "secret"})
    assert "installed catatonit-v0.2.1-r2 " in proc.stdout, proc.stderr
    api = [h for m, p, h in github.requests if p.startswith("/repos/")]
    storage = [h for m, p, h in github.requests if p.startswith("/storage/")]
    assert len(storage) == 3 and all("authorization" not in h for h in storage)  # checksums, signature, bundle
    assert api and all(h.get("authorization") == "Bearer secret" for h in api)
    assert github.calls("GET", r"/releases$") == 3  # 245 releases of this repository, 100 a page


@pytest.mark.build
def test_upgrade_keeps_an_edited_config_and_removes_dropped_files(github, env, releases, cosign_keys, tmp_path):
    prefix = tmp_path / "prefix"
    assert run_installer("catatonit", "--prefix", str(prefix), env=env).returncode == 0
    storage = prefix / "etc/containers/storage.conf"
    storage.write_text(storage.read_text() + "\n# mine\n")
    publish(github, "catatonit-v0.2.1-r1", releases["v2"])
    refused = run_installer("catatonit", "--prefix", str(prefix), env=env)
    assert one_error_line(refused) == f"install.sh: catatonit-v0.2.1 is installed in {prefix}: --upgrade moves it to " \
                                      "catatonit-v0.2.1-r1"
    proc = run_installer("catatonit", "--upgrade", "--prefix", str(prefix), "--key", pub_key(cosign_keys), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "upgraded catatonit-v0.2.1 to catatonit-v0.2.1-r1" in proc.stdout
    assert f"kept your edited {storage}; the new version's file is {storage}.staticbuild-new" in proc.stdout
    assert storage.read_text().endswith("# mine\n")
    assert (prefix / "etc/containers/storage.conf.staticbuild-new").is_file()
    assert not (prefix / "lib/podman/pasta.avx2").exists() and not (prefix / "etc/containers/registries.conf").exists()
    assert (prefix / "lib/podman/pasta").is_file()
    assert "tag\tcatatonit-v0.2.1-r1\n" in (prefix / "lib/staticbuild/catatonit.manifest").read_text()
    # uninstalling keeps only the user's edit, and says so
    gone = run_installer("catatonit", "--uninstall", "--prefix", str(prefix), env=env)
    assert f"left {storage}: it changed after it was installed" in gone.stdout
    assert sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*")) == ["etc", "etc/containers",
                                                                              "etc/containers/storage.conf"]


@pytest.mark.build
def test_uninstall_leaves_nothing(github, cosign_keys, tmp_path):
    home = tmp_path / "home"
    (home / ".local/share").mkdir(parents=True)
    (home / ".local/share/keep-me").write_text("the user's")
    before = snapshot(home)
    env = installer_env(github, key=cosign_keys[1], HOME=str(home))
    # root's default prefix is /usr/local: shown in a private mount namespace over an empty one, so the
    # machine's own /usr/local is never touched
    usr_local = snapshot(Path("/usr/local/bin"))
    private = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs tmpfs /usr/local && exec busybox sh "$@"', "sh"]
    default = subprocess.run([*private, str(INSTALLER), "catatonit"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert default.returncode == 0 and "in /usr/local" in default.stdout, default.stderr
    assert snapshot(Path("/usr/local/bin")) == usr_local
    (home / ".local/bin").mkdir()  # a folder the user makes later stays
    assert run_installer("catatonit", "--prefix", str(home / ".local"), env=env).returncode == 0
    assert (home / ".local/bin/catatonit").is_file()
    proc = run_installer("catatonit", "--uninstall", "--prefix", str(home / ".local"), env=env, shell="busybox sh")
    assert proc.stdout.strip() == f"removed catatonit-v0.2.1 from {home}/.local", proc.stderr
    after = snapshot(home)
    assert after.pop(".local/bin") == ("dir", 0o755, 0)
    assert after == before


@pytest.mark.build
def test_uninstall_removes_folders_made_for_the_install(env, tmp_path):
    prefix = tmp_path / "a" / "b"
    assert run_installer("catatonit", "--prefix", str(prefix), env=env).returncode == 0
    assert run_installer("catatonit", "--uninstall", "--prefix", str(prefix), env=env).returncode == 0
    assert list(tmp_path.iterdir()) == []


def installed(env, tmp_path, cosign_keys) -> tuple[Path, dict]:
    prefix = tmp_path / "prefix"
    proc = run_installer("catatonit", "--prefix", str(prefix), "--key", pub_key(cosign_keys), env=env)
    assert proc.returncode == 0, proc.stderr
    return prefix, snapshot(prefix)


@pytest.mark.build
@pytest.mark.parametrize("shell", ["dash", "busybox sh"])
def test_a_tampered_bundle_changes_nothing(github, env, releases, cosign_keys, tmp_path, shell):
    prefix, before = installed(env, tmp_path, cosign_keys)
    release = publish(github, "catatonit-v0.2.1-r1", releases["v2"])
    data = bytearray((releases["v2"] / BUNDLE).read_bytes())
    data[len(data) // 2] ^= 1
    replace_asset(github, release, BUNDLE, bytes(data))
    proc = run_installer("catatonit", "--upgrade", "--prefix", str(prefix), env=env, shell=shell)
    assert re.fullmatch(rf"install\.sh: {BUNDLE}: SHA-256 [0-9a-f]{{64}} does not match checksums\.txt \([0-9a-f]{{64}}\): "
                        r"the download is damaged or was tampered with; nothing was changed", one_error_line(proc))
    assert snapshot(prefix) == before


@pytest.mark.build
def test_a_consistent_forgery_fails_the_signature(github, env, releases, cosign_keys, tmp_path):
    """Bundle and checksums.txt both replaced, signed with another key: only the signature catches it."""
    prefix, before = installed(env, tmp_path, cosign_keys)
    publish(github, "catatonit-v0.2.1-r1", releases["v1-other-key"])
    proc = run_installer("catatonit", "--upgrade", "--prefix", str(prefix), "--key", pub_key(cosign_keys),
                         env=env)
    assert one_error_line(proc).startswith(f"install.sh: {BUNDLE}: the signature does not verify against {cosign_keys[1]} (")
    assert proc.stderr.strip().endswith("); nothing was changed")
    assert snapshot(prefix) == before


@pytest.mark.build
def test_the_default_identity_refuses_a_key_pair_signature(github, releases, cosign_keys, tmp_path):
    """Without --key the signature must come from the release workflow's certificate: a key-pair
    signature (no certificate) is refused. Keyless signing needs GitHub's OIDC, so acceptance of
    a real workflow signature cannot be shown here."""
    prefix = tmp_path / "prefix"
    proc = run_installer("catatonit", "--prefix", str(prefix), env=installer_env(github))
    assert "signature does not verify as signed by https://github.com/staticbuild-test/releases's release workflow" \
        in one_error_line(proc)
    assert not prefix.exists()


@pytest.mark.build
def test_without_cosign_sha256_only_unless_a_signature_is_required(github, tmp_path):
    env = installer_env(github, path=path_without("cosign", tmp=tmp_path))
    refused = run_installer("catatonit", "--prefix", str(tmp_path / "p"), "--require-signature", env=env)
    assert one_error_line(refused) == "install.sh: cosign is not installed and --require-signature was given; " \
                                      "nothing was changed"
    assert not (tmp_path / "p").exists()
    proc = run_installer("catatonit", "--prefix", str(tmp_path / "p"), env=env)
    assert proc.returncode == 0 and "cosign is not installed: checked the SHA-256 only" in proc.stderr


@pytest.mark.build
def test_a_release_without_signatures(github, env, releases, tmp_path):
    unsigned = tmp_path / "unsigned"
    shutil.copytree(releases["v1"], unsigned)
    for sig in unsigned.glob("*.sigstore.json"):
        sig.unlink()
    publish(github, "catatonit-v0.2.1-r1", unsigned)
    refused = run_installer("catatonit", "--prefix", str(tmp_path / "p"), "--require-signature", env=env)
    assert "has no signature catatonit-linux-amd64.tar.zst.sigstore.json" in one_error_line(refused)


@pytest.mark.build
def test_a_cut_download_changes_nothing(github, env, releases, cosign_keys, tmp_path):
    prefix, before = installed(env, tmp_path, cosign_keys)
    publish(github, "catatonit-v0.2.1-r1", releases["v2"])
    github.cut_download(BUNDLE, times=10)  # curl retries; every try is cut
    proc = run_installer("catatonit", "--upgrade", "--prefix", str(prefix), env=env)
    assert re.fullmatch(rf"install\.sh: download of {re.escape(BUNDLE)} failed \(.*\); nothing was changed",
                        one_error_line(proc))
    assert snapshot(prefix) == before


@pytest.mark.build
def test_an_interrupted_download_changes_nothing_and_leaves_no_temporary_files(github, env, releases, cosign_keys, tmp_path):
    prefix, before = installed(env, tmp_path, cosign_keys)
    publish(github, "catatonit-v0.2.1-r1", releases["v2"])
    github.stall_download(BUNDLE, 30)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    child = subprocess.Popen(["dash", str(INSTALLER), "catatonit", "--upgrade", "--prefix", str(prefix)],
                             env=env | {"TMPDIR": str(tmp)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    for _ in range(100):
        if any(tmp.rglob("bundle.tar.zst")):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130 and "interrupted; nothing more was changed" in err
    assert snapshot(prefix) == before
    assert list(tmp.iterdir()) == []


@pytest.mark.build
def test_a_file_of_someone_else_is_never_replaced_without_force(env, tmp_path):
    prefix = tmp_path / "prefix"
    (prefix / "lib/podman").mkdir(parents=True)
    (prefix / "lib/podman/pasta").write_text("the admin's own pasta\n")
    before = snapshot(prefix)
    proc = run_installer("catatonit", "--prefix", str(prefix), env=env)
    assert one_error_line(proc) == f"install.sh: refusing to replace {prefix}/lib/podman/pasta, which was not " \
                                   "installed by this script; nothing was changed (--force replaces such files)"
    assert snapshot(prefix) == before
    forced = run_installer("catatonit", "--prefix", str(prefix), "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert (prefix / "lib/podman/pasta").read_bytes()[:4] == b"\x7fELF"


@pytest.mark.build
def test_an_installed_binary_replaced_by_hand_blocks_an_upgrade(github, env, releases, cosign_keys, tmp_path):
    prefix, _ = installed(env, tmp_path, cosign_keys)
    (prefix / "bin/catatonit").write_text("#!/bin/sh\n# my own build\n")
    before = snapshot(prefix)
    publish(github, "catatonit-v0.2.1-r1", releases["v2"])
    proc = run_installer("catatonit", "--upgrade", "--prefix", str(prefix), env=env)
    assert f"refusing to replace {prefix}/bin/catatonit, which changed since this script installed it" in one_error_line(proc)
    assert snapshot(prefix) == before


@pytest.mark.build
def test_an_unwritable_prefix_is_refused_before_anything_changes(github, cosign_keys):
    """A user (nobody here) installing into a prefix that root owns."""
    with tempfile.TemporaryDirectory(prefix="staticbuild-nobody-") as scratch:
        scratch = Path(scratch)
        scratch.chmod(0o755)
        (scratch / "tmp").mkdir(mode=0o777)
        (scratch / "tmp").chmod(0o777)
        (scratch / "prefix").mkdir()
        shutil.copy(INSTALLER, scratch / "install.sh")
        shutil.copy(cosign_keys[1], scratch / "cosign.pub")
        before = snapshot(scratch / "prefix")
        proc = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "dash",
                               str(scratch / "install.sh"), "catatonit", "--prefix", str(scratch / "prefix")],
                              capture_output=True, text=True,
                              env=installer_env(github, key=scratch / "cosign.pub", HOME=str(scratch),
                                             TMPDIR=str(scratch / "tmp")))
        assert one_error_line(proc) == f"install.sh: cannot write to {scratch}/prefix: run as root, or choose --prefix; " \
                                       "nothing was changed"
        assert snapshot(scratch / "prefix") == before and list((scratch / "tmp").iterdir()) == []


@pytest.mark.build
def test_wget_instead_of_curl(github, cosign_keys, tmp_path):
    env = installer_env(github, key=cosign_keys[1], path=path_without("curl", tmp=tmp_path))
    proc = run_installer("catatonit", "--prefix", str(tmp_path / "p"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p/bin/catatonit").is_file()


@pytest.mark.build
def test_no_zstd_is_one_clear_line(github, tmp_path):
    proc = run_installer("catatonit", "--prefix", str(tmp_path / "p"),
                         env=installer_env(github, path=path_without("zstd", tmp=tmp_path)))
    assert "zstd is missing" in one_error_line(proc)


@pytest.mark.build
def test_a_hostile_bundle_is_refused(github, env, cosign_keys, tmp_path):
    """A bundle whose checksum matches (an attacker who controls the release) still may not write
    outside its prefix: link targets and member names are checked before anything changes."""
    bad = tmp_path / "bad"
    bad.mkdir()
    tree = tmp_path / "tree" / "catatonit-v0.2.1" / "bin"
    tree.mkdir(parents=True)
    (tree / "catatonit").symlink_to("../../../../../etc/passwd")
    subprocess.run(f"tar -C {tmp_path / 'tree'} -cf - catatonit-v0.2.1 | zstd -q -o {bad / BUNDLE}", shell=True, check=True)
    release_dir([], bad, cosign_keys[0])
    publish(github, "catatonit-v0.2.1", bad, repo="hostile/repo")
    proc = run_installer("catatonit", "--prefix", str(tmp_path / "p"), env=env | {"STATICBUILD_REPO": "hostile/repo"})
    assert "link bin/catatonit -> ../../../../../etc/passwd leaves the bundle" in one_error_line(proc)
    assert not (tmp_path / "p").exists()


# --- the full suite: podman-full on a bare Debian, as root and as a user ------------------------

PODMAN_BUNDLES = ("podman-full-linux-amd64.tar.zst", "podman-minimal-linux-amd64.tar.zst")
IMAGE = "localhost/busybox:install"
USER_IN_ROOT = "alice"


@pytest.fixture(scope="module")
def podman_release(settings, catalog, lock, cosign_keys, tmp_path_factory) -> Path:
    """podman-full and podman-minimal for amd64 from the real pipeline, signed, with install.sh."""
    from staticbuild.bundle import find_bundle
    dist = tmp_path_factory.mktemp("podman-dist")
    with no_emulation():
        for variant in ("full", "minimal"):
            package(settings, catalog, lock, find_bundle("podman", variant), Arch.amd64, dist,
                    console=Console(stderr=True))
    return release_dir([dist / name for name in PODMAN_BUNDLES], tmp_path_factory.mktemp("podman-release"), cosign_keys[0])


@pytest.fixture(scope="module")
def bare_debian(cosign_keys, tmp_path_factory) -> Path:
    """A minbase Debian with what the installer needs (curl, zstd) and rootless podman needs (uidmap),
    cosign, a user with subordinate ids, and the installer and the test key in /root."""
    from oci_helpers import BUSYBOX
    from rootfs import debian_rootfs, in_chroot
    root = debian_rootfs(tmp_path_factory.mktemp("debian") / "root", "amd64", include=("curl", "zstd", "uidmap"))
    # No maintainer script ran: base-passwd's would have made these, and mawk's the awk alternative.
    if not (root / "usr/bin/awk").exists():
        (root / "usr/bin/awk").symlink_to("mawk")
    shutil.copy(root / "usr/share/base-passwd/passwd.master", root / "etc/passwd")
    shutil.copy(root / "usr/share/base-passwd/group.master", root / "etc/group")
    for name in ("shadow", "gshadow", "subuid", "subgid"):
        (root / "etc" / name).touch()
    proc = in_chroot(root, f"useradd -m -s /bin/sh {USER_IN_ROOT} && "
                           f"usermod --add-subuids 200000-265535 --add-subgids 200000-265535 {USER_IN_ROOT}")
    assert proc.returncode == 0, proc.stderr
    shutil.copy(shutil.which("cosign"), root / "usr/bin/cosign")
    (root / "opt").mkdir(exist_ok=True)
    for source, name in ((INSTALLER, "install.sh"), (cosign_keys[1], "cosign.pub")):
        shutil.copy(source, root / "opt" / name)
        (root / "opt" / name).chmod(0o644)
    image = tmp_path_factory.mktemp("image")
    (image / "bin").mkdir()
    shutil.copy(BUSYBOX, image / "bin/busybox")
    for applet in ("sh", "echo", "cat", "id", "ip", "grep"):
        (image / "bin" / applet).symlink_to("busybox")
    subprocess.run(["tar", "-C", image, "-cf", root / "opt/rootfs.tar", "."], check=True)
    (root / "opt/rootfs.tar").chmod(0o644)
    return root


def in_root(root: Path, script: str, env: dict[str, str], user: str | None = None, timeout: int = 600):
    """`script` inside the Debian tree (as its root), in a private mount namespace that shows podman a cgroup2
    /sys/fs/cgroup (this machine's is hybrid) and 0666 /dev/fuse and /dev/net/tun (0600 here),
    as root or as `user` (with its /run/user/UID)."""
    from podman_helpers import CGROUP2
    uid = subprocess.run(["chroot", root, "id", "-u", user], capture_output=True, text=True).stdout.strip() if user else "0"
    (root / "opt/test.sh").write_text(script)
    (root / "opt/test.sh").chmod(0o644)
    run_as = f"setpriv --reuid {user} --regid {user} --init-groups " if user else ""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"} | env
    if user:
        env |= {"HOME": f"/home/{user}", "USER": user, "XDG_RUNTIME_DIR": f"/run/user/{uid}"}
    # pivot_root, not chroot: the kernel refuses new user namespaces to a chrooted process.
    outer = f"""{CGROUP2}
mount --bind {root} {root}
for d in /proc /sys /dev; do mount --rbind $d {root}$d; done
mount -t tmpfs tmpfs {root}/run && mount -t tmpfs tmpfs {root}/tmp
mkdir -p -m 700 {root}/run/user/{uid} && chown {uid}:{uid} {root}/run/user/{uid}
devdir=$(mktemp -d) && mount -t tmpfs -o dev,mode=755 tmpfs $devdir && mkdir $devdir/net
mknod -m 666 $devdir/fuse c 10 229 && mknod -m 666 $devdir/net/tun c 10 200
mount --bind $devdir/fuse {root}/dev/fuse && mount --bind $devdir/net/tun {root}/dev/net/tun
cd {root} && mkdir -p .oldroot && pivot_root . .oldroot && cd / && umount -l /.oldroot
exec {run_as}env -i {' '.join(f'{k}={v}' for k, v in env.items())} sh -e /opt/test.sh"""
    return subprocess.run(["unshare", "-m", "sh", "-ec", outer], capture_output=True, text=True, timeout=timeout, cwd="/")


def podman_test_conf(root: Path, rootful: bool) -> str:
    """This machine's quirks, never the bundle's: no cgroup controllers, low hard rlimits, networks kept here."""
    import resource
    nofile, nproc = (resource.getrlimit(r)[1] for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC))
    conf = root / "opt" / ("root.conf" if rootful else "user.conf")
    conf.write_text(f'[containers]\ncgroups = "disabled"\ndefault_ulimits = ["nofile={nofile}:{nofile}", '
                    f'"nproc={nproc}:{nproc}"]\n')
    conf.chmod(0o644)
    return f"/opt/{conf.name}"


def root_env(fake) -> dict[str, str]:
    return {"GITHUB_API_URL": fake.url, "STATICBUILD_REPO": RELEASE_REPO, "STATICBUILD_KEY": "/opt/cosign.pub"}


@pytest.mark.build
@pytest.mark.full
def test_root_installs_podman_into_usr_local_runs_a_container_and_uninstalls(podman_release, bare_debian):
    root = bare_debian
    before = snapshot(root / "usr/local")
    with FakeGitHub() as fake:
        publish(fake, "podman-v6.0.2", podman_release)
        conf = podman_test_conf(root, rootful=True)
        script = f"""
sh /opt/install.sh podman
echo "which: $(command -v podman)"
podman import /opt/rootfs.tar {IMAGE} >/dev/null
echo "run: $(podman run --rm --network none {IMAGE} echo hello-from-usr-local)"
echo "runtime: $(podman info --format '{{{{.Host.OCIRuntime.Path}}}} {{{{.Host.Conmon.Path}}}}')"
podman rmi -a -f >/dev/null
sh /usr/local/lib/staticbuild/install.sh podman --check --user {USER_IN_ROOT} || echo "check: $?"
sh /usr/local/lib/staticbuild/install.sh podman --uninstall
"""
        proc = in_root(root, script, root_env(fake) | {"CONTAINERS_CONF_OVERRIDE": conf})
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "installed podman-v6.0.2 (6.0.2, full amd64) in /usr/local:" in out and "signature checked against" in out
    assert "add /usr/local/bin to your PATH" not in out
    assert "which: /usr/local/bin/podman" in out
    assert "run: hello-from-usr-local" in out
    assert "runtime: /usr/local/lib/podman/crun /usr/local/lib/podman/conmon" in out
    for finding in ("cgroup", "subuid", "subgid", "newuidmap", "newgidmap", "userns", "tun", "fuse"):
        assert re.search(rf"^ok +{finding} ", out, re.M), out
    assert re.search(r"^warn +nft ", out, re.M)  # a bare Debian has no nftables: bridge networks would fail
    assert "removed podman-v6.0.2 from /usr/local" in out
    assert snapshot(root / "usr/local") == before


@pytest.mark.build
@pytest.mark.full
def test_a_user_installs_podman_into_home_runs_rootless_upgrades_and_uninstalls(podman_release, bare_debian):
    root = bare_debian
    home = root / "home" / USER_IN_ROOT
    before = snapshot(home)
    with FakeGitHub() as fake:
        publish(fake, "podman-v6.0.2", podman_release)
        conf = podman_test_conf(root, rootful=False)
        script = f"""
sh /opt/install.sh podman
p=$HOME/.local/bin/podman
$p import /opt/rootfs.tar {IMAGE} >/dev/null
echo "rootless: $($p run --rm {IMAGE} sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' \\n' ' ')"
echo "network: $($p run --rm --network pasta {IMAGE} ip -4 addr show scope global | grep -c 'inet ')"
$p system reset -f >/dev/null 2>&1
echo '# my setting' >> $HOME/.local/etc/containers/containers.conf
sh $HOME/.local/lib/staticbuild/install.sh podman --upgrade --variant minimal
echo "after upgrade: $(ls $HOME/.local/lib/podman 2>/dev/null | wc -l) helpers, $($p --version)"
sh $HOME/.local/lib/staticbuild/install.sh podman --uninstall
rm -rf $HOME/.local/share/containers $HOME/.config/containers $HOME/.cache  # podman's own state, not installed
rmdir $HOME/.local/share $HOME/.config
"""
        proc = in_root(root, script, root_env(fake) | {"CONTAINERS_CONF_OVERRIDE": conf}, user=USER_IN_ROOT)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"installed podman-v6.0.2 (6.0.2, full amd64) in /home/{USER_IN_ROOT}/.local:" in out
    assert f'export PATH="/home/{USER_IN_ROOT}/.local/bin:$PATH"' in out
    assert "quadlet" not in out or "quadlet -user ~/.config/systemd/user" in out
    assert re.search(r"rootless: 0 0 \d+ 1 ", out), out  # root in the container, alice's uid outside
    assert "network: 1" in out, out  # pasta gave the container an address
    assert "upgraded podman-v6.0.2 to podman-v6.0.2" not in out  # the same tag, another variant
    assert f"kept your edited /home/{USER_IN_ROOT}/.local/etc/containers/containers.conf" in out
    assert "after upgrade: 0 helpers, podman version 6.0.2" in out  # podman-minimal has no lib/podman
    assert f"left /home/{USER_IN_ROOT}/.local/etc/containers/containers.conf: it changed after it was installed" in out
    after = snapshot(home)
    assert {k for k in after if k not in before} == {".local", ".local/etc", ".local/etc/containers",
                                                     ".local/etc/containers/containers.conf"}
    assert {k: v for k, v in after.items() if k in before} == before


@pytest.mark.build
def test_two_tools_share_identical_files_and_refuse_different_ones(github, env, releases, cosign_keys, tmp_path):
    """A second tool whose bundle carries the same lib/podman/pasta (as podman-full and buildah
    share crun): shared while both are installed, removed with the last; other bytes are refused."""
    pasta = (releases["v1"] / BUNDLE)
    unpacked = tmp_path / "v1"
    unpacked.mkdir()
    subprocess.run(f"zstd -dc {pasta} | tar -C {unpacked} -xf -", shell=True, check=True)
    for name, content in (("other", (unpacked / "catatonit-v0.2.1/lib/podman/pasta").read_bytes()),
                          ("differs", b"#!/bin/sh\n")):
        tree = tmp_path / name / "tree" / f"{name}-v1.0/lib/podman"
        tree.mkdir(parents=True)
        (tree / "pasta").write_bytes(content)
        (tree / "pasta").chmod(0o755)
        folder = tmp_path / name / "release"
        folder.mkdir()
        subprocess.run(f"tar -C {tree.parents[2]} -cf - {name}-v1.0/lib/podman/pasta | zstd -q -o "
                       f"{folder}/{name}-linux-amd64.tar.zst", shell=True, check=True)
        release_dir([], folder, cosign_keys[0])
        publish(github, f"{name}-v1.0", folder)
    prefix = tmp_path / "prefix"
    assert run_installer("catatonit", "--prefix", str(prefix), env=env).returncode == 0
    before = snapshot(prefix)
    refused = run_installer("differs", "--prefix", str(prefix), env=env)
    assert f"refusing to replace {prefix}/lib/podman/pasta, which belongs to the catatonit installation with other " \
           "contents" in one_error_line(refused)
    assert snapshot(prefix) == before
    assert run_installer("other", "--prefix", str(prefix), env=env).returncode == 0
    assert run_installer("catatonit", "--uninstall", "--prefix", str(prefix), env=env).returncode == 0
    assert (prefix / "lib/podman/pasta").is_file() and not (prefix / "bin/catatonit").exists()
    assert run_installer("other", "--uninstall", "--prefix", str(prefix), env=env).returncode == 0
    assert not prefix.exists()
