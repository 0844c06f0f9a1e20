"""Locations other than plain URLs: Debian's archive (through apt's own configuration) and the crate registry (through cargo).

No host name is written here: the Debian mirror is whatever apt's deb-src entries name,
the crate registry is whatever cargo is configured to use.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from debian.deb822 import Sources

from .errors import SourceError, ToolMissingError


@dataclass(frozen=True)
class DebianFile:
    url: str
    sha256: str
    size: int
    suite: str


class DebianArchive:
    """Finds files of Debian source packages in the Sources indexes apt has downloaded.

    The indexes are covered by the signed Release files apt checked on `apt-get update`,
    so the SHA-256 they list is a trustworthy pin for an orig tarball.
    """

    @cached_property
    def _indexes(self) -> list[tuple[str, str, str]]:
        """(index file, repository URI, suite) for every deb-src index apt knows."""
        if not shutil.which("apt-get"):
            raise ToolMissingError("debian: locations need apt (Debian or Ubuntu); run `make setup`")
        out = subprocess.run(
            ["apt-get", "indextargets", "--format", "$(FILENAME)\t$(REPO_URI)\t$(CODENAME)", "Created-By: Sources"],
            capture_output=True, text=True, check=False,
        ).stdout
        rows = [tuple(line.split("\t")) for line in out.splitlines() if line.count("\t") == 2]
        return [r for r in rows if Path(r[0]).exists()]  # type: ignore[misc]

    def _paragraphs(self, index: str, package: str):
        text = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", index], capture_output=True, text=True, check=True
        ).stdout
        head = f"Package: {package}\n"
        for block in text.split("\n\n"):
            if block.startswith(head):
                yield Sources(block)

    def find(self, package: str, filename: str) -> list[DebianFile]:
        """Every place apt's deb-src indexes list `filename` of `package` (same file, several suites)."""
        if not self._indexes:
            raise SourceError(
                "no deb-src index is configured for apt: run `make setup` (it adds deb-src entries) and `apt-get update`"
            )
        found = []
        for index, repo_uri, suite in self._indexes:
            for para in self._paragraphs(index, package):
                for entry in para.get("Checksums-Sha256", []):
                    if entry["name"] == filename:
                        url = f"{repo_uri.rstrip('/')}/{para['Directory']}/{filename}"
                        found.append(DebianFile(url, entry["sha256"], int(entry["size"]), suite))
        return found

    def url_for(self, package: str, filename: str, sha256: str) -> str:
        for f in self.find(package, filename):
            if f.sha256 == sha256:
                return f.url
        raise SourceError(f"debian:{package}/{filename} with the pinned digest is in none of apt's deb-src indexes")


def fetch_crate(name: str, version: str, dest: Path) -> None:
    """Download one crate's .crate file with cargo (which checks the registry's checksum) and copy it to `dest`."""
    cargo = shutil.which("cargo")
    if not cargo:
        raise ToolMissingError("crate: locations need cargo (install Rust); run `make setup`")
    with tempfile.TemporaryDirectory(prefix="staticbuild-crate-") as tmp:
        project = Path(tmp)
        (project / "src").mkdir()
        (project / "src" / "lib.rs").write_text("")
        (project / "Cargo.toml").write_text(
            f'[package]\nname = "staticbuild-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n'
            f'[dependencies]\n{name} = {{ version = "={version}", default-features = false }}\n'
        )
        result = subprocess.run([cargo, "fetch", "--quiet"], cwd=project, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SourceError(f"cargo could not fetch crate {name} {version}: {last}")
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    hits = glob.glob(str(cargo_home / "registry" / "cache" / "*" / f"{name}-{version}.crate"))
    if not hits:
        raise SourceError(f"cargo fetched {name} {version} but its .crate is not under {cargo_home}/registry/cache")
    shutil.copyfile(hits[0], dest)


# The checksum database's explicit answer that it does not list a module version (through the
# proxy: ".../sumdb/sum.golang.org/lookup/M@V: 404 Not Found"). Anything else (no network, a
# refused connection, a mismatch) is never taken as leave to skip the database.
NOT_IN_SUMDB = re.compile(r"/lookup/\S+@\S+: 404 Not Found")


@dataclass(frozen=True)
class GoModule:
    epoch: int  # the version's time as the module proxy reports it
    in_sumdb: bool


def fetch_gomod(module: str, version: str, dest: Path, require_sumdb: bool = False) -> GoModule:
    """Download a module zip with `go mod download` (GOPROXY as configured) and copy it to `dest`.

    The pinned SHA-256 of the zip is what the build trusts. The checksum database is asked
    too; a module it says it does not list (skopeo's is not) is accepted unless
    `require_sumdb`, and marked as resting on its digest alone.
    """
    go = shutil.which("go")
    if not go:
        raise ToolMissingError("gomod: locations need Go; run `make setup`")
    def download(env: dict[str, str]) -> dict:
        proc = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"], capture_output=True,
                              text=True, check=False, env=os.environ | {"GOFLAGS": "-mod=mod"} | env)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError:
            return {"Error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    info, in_sumdb = download({}), True
    if "Error" in info and NOT_IN_SUMDB.search(info["Error"]) and not require_sumdb:
        info, in_sumdb = download({"GONOSUMDB": module}), False
    if "Error" in info:
        raise SourceError(f"the Go module proxy cannot serve {module}@{version}: {info['Error'].splitlines()[0]}")
    shutil.copyfile(info["Zip"], dest)
    stamp = json.loads(Path(info["Info"]).read_text()).get("Time", "") if info.get("Info") else ""
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    return GoModule(int(when.timestamp()) if when else 0, in_sumdb)
