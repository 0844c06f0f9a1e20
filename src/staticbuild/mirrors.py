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

from .errors import SourceError, StaticbuildError, ToolMissingError


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

    def orig_versions(self, wanted: dict[str, re.Pattern]) -> dict[str, dict[str, str]]:
        """package -> {upstream version: suite} for every orig tarball the deb-src indexes list whose
        name matches the package's pattern (group 1 is the version). Each index is read once."""
        if not self._indexes:
            raise SourceError("no deb-src index is configured for apt: run `make setup` and `apt-get update`")
        found: dict[str, dict[str, str]] = {name: {} for name in wanted}
        for index, _uri, suite in self._indexes:
            text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", index], capture_output=True, text=True,
                                  check=True).stdout
            for block in text.split("\n\n"):
                package = block[9:block.find("\n")] if block.startswith("Package: ") else None
                if package not in wanted:
                    continue
                for entry in Sources(block).get("Checksums-Sha256", []):
                    match = wanted[package].fullmatch(entry["name"])
                    if match:
                        found[package].setdefault(match.group(1), suite)
        return found

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
# proxy: ".../sumdb/<database>/lookup/M@V: 404 Not Found", the database being `go env GOSUMDB`). Anything else (no network, a
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


# A release's notes list the digests its corresponding source (`staticbuild sources`) holds.
SOURCES_MARKER = re.compile(r"<!-- staticbuild-sources: ([0-9a-f ]+) -->")
SOURCES_ASSET = "-sources.tar.zst"


def sources_marker(digests: list[str]) -> str:
    return f"<!-- staticbuild-sources: {' '.join(sorted(digests))} -->"


class ReleasedSources:
    """This repository's own releases as the last place a pinned file can come from.

    Each release carries its corresponding source, whose digests its notes list, so a file
    that left every mirror (a Debian orig that unstable moved past) is still there for a
    rebuild, checked by the same digest as from anywhere else.
    """

    def __init__(self, target):
        self.target = target

    @classmethod
    def from_env(cls, environ=os.environ) -> ReleasedSources | None:
        """From STATICBUILD_SOURCES_REPO, or in a workflow run GITHUB_REPOSITORY (None when neither is set)."""
        from .github import Target
        repo = environ.get("STATICBUILD_SOURCES_REPO") or environ.get("GITHUB_REPOSITORY")
        return cls(Target.from_env(repo=repo, environ=environ)) if repo else None

    def fetch(self, sha256: str, dest: Path) -> None:
        from .github import GitHub
        try:
            with GitHub(self.target, max_wait=60) as gh:
                for release in gh.paginate(f"/repos/{self.target.repo}/releases"):
                    marker = SOURCES_MARKER.search(release.get("body") or "")
                    asset = next((a for a in release.get("assets") or [] if a["name"].endswith(SOURCES_ASSET)), None)
                    if release.get("draft") or not marker or sha256 not in marker.group(1).split() or not asset:
                        continue
                    extract_by_digest(gh.download(asset["url"]), sha256, dest)
                    return
        except StaticbuildError as exc:  # the API is down, no network, a rate limit: the file is not here
            raise SourceError(f"{self.target.repo}'s releases: {exc}") from None
        raise SourceError(f"no release of {self.target.repo} holds it")


def extract_by_digest(archive: bytes, sha256: str, dest: Path) -> None:
    """The member of a sources archive that SHA256SUMS names with this digest."""
    from .archive import read_tar_zst
    with read_tar_zst(archive) as tar:
        sums = next((m for m in tar.getmembers() if m.name.endswith("/SHA256SUMS")), None)
        if sums is None:
            raise SourceError("the release's sources archive has no SHA256SUMS")
        top = sums.name.rsplit("/", 1)[0]
        listed = dict(line.split("  ", 1) for line in tar.extractfile(sums).read().decode().splitlines())
        if sha256 not in listed:
            raise SourceError("the release's sources archive does not hold it")
        member = tar.extractfile(f"{top}/{listed[sha256]}")
        with dest.open("wb") as out:
            shutil.copyfileobj(member, out)
