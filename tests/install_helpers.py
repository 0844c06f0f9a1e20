"""Running install.sh against releases served by FakeGitHub, and looking at what it left behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

from conftest import COSIGN_ENV, REPO
from staticbuild import signing
from staticbuild.checksums import write_checksums

INSTALLER = REPO / "install.sh"
RELEASE_REPO = "staticbuild-test/releases"
SHELLS = ("dash", "busybox sh", "bash")


def release_dir(bundles: list[Path], out: Path, key: Path | None) -> Path:
    """A release's assets as the release job makes them: bundles, install.sh, checksums.txt, signatures."""
    out.mkdir(parents=True, exist_ok=True)
    for bundle in bundles:
        shutil.copy(bundle, out / bundle.name)
    shutil.copy(INSTALLER, out / INSTALLER.name)
    write_checksums(out)
    if key:
        old = {k: os.environ.get(k) for k in COSIGN_ENV}
        os.environ.update(COSIGN_ENV)
        try:
            signing.sign(out, key)
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return out


def publish(fake, tag: str, folder: Path, repo: str = RELEASE_REPO, **kwargs) -> dict:
    assets = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return fake.add_release(repo, tag, assets=assets, **kwargs)


def replace_asset(fake, release: dict, name: str, data: bytes) -> None:
    asset = next(a for a in fake.assets[release["id"]] if a["name"] == name)
    asset["_data"], asset["size"] = data, len(data)


def installer_env(fake, path: str | None = None, key: Path | None = None, **extra: str) -> dict[str, str]:
    """A small, explicit environment: no token unless asked, this machine's PATH unless given; with
    `key`, signatures are checked against that public key (STATICBUILD_KEY, as --key)."""
    env = {"PATH": path or os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
           "GITHUB_API_URL": fake.url, "STATICBUILD_REPO": RELEASE_REPO, "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
    return env | ({"STATICBUILD_KEY": str(key)} if key else {}) | extra


def run_installer(*args: str, env: dict[str, str], shell: str = "dash", script: Path = INSTALLER,
                  timeout: int = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*shell.split(), str(script), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, owner and content digest (or link target)."""
    found: dict[str, tuple] = {}
    if not root.exists():
        return found
    for path in sorted([root, *root.rglob("*")]):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            found[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            found[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid)
        else:
            found[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The installer's failure: exit 1 and exactly one line on stderr, starting with 'install.sh: '."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("install.sh: "), proc.stderr
    return lines[0]


def path_without(*tools: str, tmp: Path) -> str:
    """A PATH whose folders hold links to this machine's programs, except `tools`."""
    folder = tmp / ("path-without-" + "-".join(tools))
    if not folder.exists():
        folder.mkdir(parents=True)
        for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            for program in Path(directory).glob("*"):
                link = folder / program.name
                if program.name not in tools and not link.exists() and os.access(program, os.X_OK):
                    link.symlink_to(program)
    return str(folder)
