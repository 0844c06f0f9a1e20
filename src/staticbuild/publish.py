"""`staticbuild release`: one GitHub release made from a directory of finished assets.

The release is a draft until every asset is up and checked, so nobody can download an
incomplete one. A re-run resumes: identical assets are kept, partial uploads deleted and
redone; an asset that differs is an error and the release stays a draft. A published
release is never changed: publishing the same assets again does nothing, anything else is
an error.

An existing asset is the same as a local file when name and size match and the SHA-256
matches: GitHub's `digest` field ("sha256:...") where the API gives it, otherwise the
asset is downloaded and hashed (older GitHub Enterprise servers have no digest field).

Signatures are the exception: signing the same file again gives new bytes (a new keyless
certificate, a new nonce). On a draft, a re-run's signatures replace the old ones; on a
published release, the existing signatures stay and must verify against the published files.

GitHub's "latest" badge is one per repository and three tools share it: it goes to the
newest podman release only (the flagship); buildah and skopeo releases never take it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import signing
from .checksums import CHECKSUMS, check_checksums
from .errors import GitHubError, StaticbuildError
from .archive import open_tar
from .fetch import sha256_of
from .github import GitHub
from .mirrors import SOURCES_ASSET, sources_marker
from .upstream import release_key, release_tag, version_key

PATTERNS = ("*.tar.zst", "checksums.txt", "*.sigstore.json", "*.cdx.json", "install.sh")
LATEST_TOOL = "podman"
# Keyless signatures carry the identity of the workflow file that signed: for a reusable
# workflow that is the called file (job_workflow_ref), not the caller's.
SIGNER_WORKFLOW = ".github/workflows/build.yml"
OIDC_ISSUER = "https://token.actions.githubusercontent.com"
UPLOAD_ATTEMPTS = 4
CHUNK = 1 << 20


@dataclass(frozen=True)
class Asset:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file in pieces, so an upload streams it instead of holding it in memory."""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def collect_assets(directory: Path) -> list[Asset]:
    """The release's files: bundles, checksums.txt, signatures, SBOMs and install.sh (nothing else in DIR is uploaded)."""
    if not directory.is_dir():
        raise StaticbuildError(f"{directory} is not a directory")
    paths = sorted({p for pattern in PATTERNS for p in directory.glob(pattern) if p.is_file()})
    names = {p.name for p in paths}
    if not any(n.endswith(".tar.zst") for n in names):
        raise StaticbuildError(f"no bundle (*.tar.zst) in {directory}")
    if CHECKSUMS not in names:
        raise StaticbuildError(f"no {CHECKSUMS} in {directory}: run `staticbuild checksums {directory}` first")
    if not any(n.endswith(".cdx.json") for n in names):
        raise StaticbuildError(f"no SBOM (*.cdx.json) in {directory}: the release notes list the bundled "
                               "components from it")
    return [Asset(p, p.stat().st_size, sha256_of(p)) for p in paths]


def require_matching_checksums(directory: Path) -> None:
    """checksums.txt must name every bundle and SBOM with its true digest, and nothing missing."""
    problems = check_checksums(directory)
    if problems:
        raise StaticbuildError(f"{CHECKSUMS}: {problems[0]}; rerun `staticbuild checksums {directory}`")


def sbom_components(paths: list[Path]) -> list[tuple[str, str]]:
    """(name, version) of every bundled component: CycloneDX components marked staticbuild:kind = recipe."""
    found = set()
    for path in paths:
        try:
            sbom = json.loads(path.read_text())
            components = sbom.get("components") or []
        except (ValueError, AttributeError) as exc:
            raise StaticbuildError(f"{path} is not a CycloneDX JSON document: {exc}") from None
        for c in components:
            props = {(p.get("name"), p.get("value")) for p in c.get("properties") or [] if isinstance(p, dict)}
            if ("staticbuild:kind", "recipe") in props and c.get("name"):
                found.add((str(c["name"]), str(c.get("version", ""))))
    if not found:
        raise StaticbuildError(f"no bundled component (property staticbuild:kind = recipe) in "
                               f"{', '.join(p.name for p in paths)}")
    return sorted(found)


def check_tool_version(components: list[tuple[str, str]], tool: str, version: str) -> None:
    """The SBOMs must say the bundles hold `tool` at `version`: the tag must not promise another build."""
    versions = sorted({v for n, v in components if n == tool})
    if versions != [version]:
        seen = ", ".join(versions) or "none"
        raise StaticbuildError(f"the SBOMs name {tool} version(s) {seen}, not {version}: these bundles are not "
                               f"{tool} {version} (staticbuild.lock decides what is built)")


GATE_SCHEMA = 1
GATE_COUNTS = ("tests", "passed", "failed_environment", "failed_ours", "skipped")


def read_gates(paths: list[Path], tool: str, version: str) -> list[dict]:
    """The upstream-test gate's result files (`python -m upstream_tests gate`, one per arch) for this
    tool version; any failure of ours recorded in them stops the release."""
    gates = []
    for path in paths:
        try:
            gate = json.loads(path.read_text())
            suites = gate["suites"]
            if gate.get("schema") != GATE_SCHEMA or not isinstance(suites, list):
                raise ValueError(f"schema {gate.get('schema')!r}, expected {GATE_SCHEMA}")
            for entry in suites:
                for key in ("suite", "version", *GATE_COUNTS):
                    entry[key]  # noqa: B018 (a missing count is a broken file)
                if not all(isinstance(entry[k], int) and entry[k] >= 0 for k in GATE_COUNTS):
                    raise ValueError(f"{entry['suite']}: counts must be whole numbers")
        except OSError as exc:
            raise StaticbuildError(f"cannot read the upstream-test gate result {path}: {exc.strerror or exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise StaticbuildError(f"{path} is not an upstream-test gate result ({exc})") from None
        if (gate.get("tool"), gate.get("version")) != (tool, version):
            raise StaticbuildError(f"{path} is the gate of {gate.get('tool')} {gate.get('version')}, not of "
                                   f"{tool} {version}")
        ours = [(e["suite"], t) for e in suites for t in (e.get("ours_tests") or ["?"] * e["failed_ours"])]
        if ours:
            suite, test = ours[0]
            raise StaticbuildError(
                f"the upstream-test gate ({gate.get('arch', '?')}) recorded {len(ours)} failure(s) of ours, e.g. "
                f"{suite}: {test}; not publishing {tool} {version}")
        gates.append(gate)
    return gates


def gate_notes(gates: list[dict]) -> str:
    """The gate's counts for the release notes, one row per arch and suite."""
    if not gates:
        return ""
    rows = "\n".join(f"| {g.get('arch', '?')} | {e['suite']} {e['version']} | {e['tests']} | {e['passed']} | "
                      f"{e['failed_environment']} | {e['failed_ours']} | {e['skipped']} |"
                      for g in gates for e in g["suites"])
    return f"""
### Upstream test suites (release gate)

Upstream's own tests, run against these bundles; a failure is *environment* when the same version
built the ordinary way (dynamic, glibc) fails it too on the build machine, *ours* otherwise (none,
or this release would not exist).

| arch | suite | tests | passed | failed (environment) | failed (ours) | skipped |
|---|---|---:|---:|---:|---:|---:|
{rows}
"""


def title(tool: str, version: str, revision: int = 0) -> str:
    return f"{tool.capitalize()} {version}" + (f" (rebuild {revision})" if revision else "")


COMPONENT_ROW = re.compile(r"^\| ([^|\s]+) \| ([^|\s]+) \|$", re.MULTILINE)


def changes(before: str, components: list[tuple[str, str]], previous_tag: str) -> str:
    """A rebuild's notes: which bundled components changed since the previous release of the version."""
    old = dict(COMPONENT_ROW.findall(before))
    old.pop("component", None)
    new = dict(components)
    rows = [f"| {n} | {old.get(n, '-')} | {new.get(n, '-')} |" for n in sorted(old.keys() | new.keys())
            if old.get(n) != new.get(n)]
    table = "\n".join(["| component | before | now |", "|---|---|---|", *rows]) if rows else \
        "The bundled components' versions are the same; their pinned sources or the toolchain changed."
    return f"### Changes since {previous_tag}\n\n{table}\n\n"


def release_notes(tool: str, version: str, components: list[tuple[str, str]], repo: str, signed: bool,
                  environ: Mapping[str, str]) -> str:
    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    ref = environ.get("GITHUB_REF", "") if environ.get("GITHUB_REF", "").startswith("refs/") else "refs/heads/main"
    rows = "\n".join(f"| {name} | {v} |" for name, v in components)
    cosign = (f"cosign verify-blob --bundle FILE.sigstore.json \\\n"
              f"  --certificate-identity {server}/{repo}/{SIGNER_WORKFLOW}@{ref} \\\n"
              f"  --certificate-oidc-issuer {OIDC_ISSUER} FILE\n") if signed else ""
    return f"""\
Static {title(tool, version)} for Linux on amd64 and arm64: every binary linked against musl libc \
with the mimalloc allocator inside, no shared libraries, built from the sources pinned in staticbuild.lock.

### Bundled components

| component | version |
|---|---|
{rows}

### How to verify a download

```sh
sha256sum -c checksums.txt --ignore-missing
{cosign}gh attestation verify FILE --repo {repo}
```

FILE is the bundle you downloaded; checksums.txt {'and FILE.sigstore.json are assets' if signed else 'is an asset'} \
of this release. The build provenance was attested by this repository's build workflow.
"""


@dataclass(frozen=True)
class Outcome:
    url: str
    published: bool  # False: it was out already with exactly these assets


class Publisher:
    def __init__(self, gh: GitHub, repo: str):
        self.gh, self.repo = gh, repo

    # --- releases -------------------------------------------------------------------------

    def published(self, tag: str) -> dict | None:
        """The published release of `tag`, if any (this endpoint never shows drafts)."""
        try:
            return self.gh.json("GET", f"/repos/{self.repo}/releases/tags/{tag}")
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise

    def drafts(self, tag: str) -> list[dict]:
        return [r for r in self.gh.paginate(f"/repos/{self.repo}/releases") if r.get("draft") and r["tag_name"] == tag]

    def draft(self, tag: str, name: str, body: str, commitish: str | None) -> dict:
        """The draft of `tag`: the one a previous run left, or a new one."""
        for attempt in range(2):
            found = self.drafts(tag)
            if len(found) > 1:
                raise StaticbuildError(f"{len(found)} draft releases for {tag} (ids "
                                       f"{', '.join(str(r['id']) for r in found)}): delete all but one on GitHub")
            if found:
                return found[0]
            fields = {"tag_name": tag, "name": name, "body": body, "draft": True, "prerelease": False}
            try:
                return self.gh.json("POST", f"/repos/{self.repo}/releases", retry=False,
                                    json=fields | ({"target_commitish": commitish} if commitish else {}))
            except GitHubError as exc:
                # A lost answer may hide a draft that was made: look again rather than make a second one.
                if (exc.status is not None and exc.status < 500) or attempt:
                    raise
                self.gh.pause(attempt)
        raise AssertionError("unreachable")

    def make_latest(self, tool: str, version: str, revision: int = 0) -> str:
        """The repository's one "latest" badge: only podman's newest release takes it (an older branch's
        fix never does, and buildah and skopeo never take it from podman)."""
        if tool != LATEST_TOOL:
            return "false"
        released = [v for r in self.gh.paginate(f"/repos/{self.repo}/releases")
                    if not r.get("draft") and (v := _tool_version(r["tag_name"], tool))]
        mine = (version_key(version), revision)
        return "true" if all(mine >= release_key(v) for v in released) else "false"

    def previous_body(self, tool: str, version: str, revision: int) -> tuple[str, str] | None:
        """(tag, notes) of the newest published release of this version before `revision`."""
        if not revision:
            return None
        for earlier in range(revision - 1, -1, -1):
            found = self.published(release_tag(tool, version, earlier))
            if found:
                return found["tag_name"], found.get("body") or ""
        return None

    # --- assets ---------------------------------------------------------------------------

    def assets(self, release: dict) -> list[dict]:
        return list(self.gh.paginate(f"/repos/{self.repo}/releases/{release['id']}/assets"))

    def delete(self, asset: dict) -> None:
        self.gh.request("DELETE", f"/repos/{self.repo}/releases/assets/{asset['id']}")

    def same(self, remote: dict, local: Asset) -> bool:
        if remote.get("size") != local.size:
            return False
        if remote.get("digest"):
            return remote["digest"] == f"sha256:{local.sha256}"
        return hashlib.sha256(self.gh.download(remote["url"])).hexdigest() == local.sha256

    def differences(self, remote: list[dict], local: list[Asset], *, missing_too: bool) -> list[str]:
        """What keeps the uploaded assets from being exactly `local`; partial uploads are not looked at."""
        uploaded = {a["name"]: a for a in remote if a.get("state") == "uploaded"}
        mine = {a.name: a for a in local}
        problems = [f"{n} is on the release but not in the directory" for n in sorted(uploaded.keys() - mine.keys())]
        problems += [f"{n} differs from the local file" for n in sorted(uploaded.keys() & mine.keys())
                     if not is_signature(n) and not self.same(uploaded[n], mine[n])]
        if missing_too:
            problems += [f"{n} is missing from the release" for n in sorted(mine.keys() - uploaded.keys())]
        return problems

    def resigned(self, remote: list[dict], local: list[Asset]) -> list[dict]:
        """The uploaded signatures that this run's signatures replace (the same file, signed again)."""
        uploaded = {a["name"]: a for a in remote if a.get("state") == "uploaded"}
        return [uploaded[a.name] for a in local
                if is_signature(a.name) and a.name in uploaded and not self.same(uploaded[a.name], a)]

    def check_signatures(self, release: dict, local: list[Asset], identity: signing.Identity | None) -> None:
        """A published release keeps its signatures: each one this run made anew must let the published
        one verify against the file (the local file, which equals the published one)."""
        for remote in self.resigned(self.assets(release), local):
            name = remote["name"]
            if identity is None:
                raise StaticbuildError(f"{name} on the published {release['tag_name']} differs from the local one, "
                                       "and no identity was given to verify it")
            with tempfile.TemporaryDirectory(prefix="staticbuild-signature-") as tmp:
                bundle = Path(tmp) / name
                bundle.write_bytes(self.gh.download(remote["url"]))
                try:
                    signing.verify(next(a.path for a in local if a.name == name.removesuffix(signing.SUFFIX)),
                                   identity, bundle)
                except (StaticbuildError, StopIteration) as exc:
                    raise StaticbuildError(f"the published signature {name} of {release['tag_name']} does not verify "
                                           f"against the file ({exc or 'file missing'}); a published release is "
                                           "never changed here") from None

    def upload(self, release: dict, asset: Asset) -> None:
        """Upload one asset; after a broken upload or a name clash, look at what is there and act on it."""
        url = re.sub(r"\{[^}]*\}$", "", release["upload_url"])
        last: GitHubError | None = None
        for attempt in range(UPLOAD_ATTEMPTS):
            if attempt:  # after a failure: look at what is there under this name
                self.gh.pause(attempt - 1)
                there = next((a for a in self.assets(release) if a["name"] == asset.name), None)
                if there and there.get("state") == "uploaded":
                    if self.same(there, asset):
                        return  # it arrived after all
                    raise StaticbuildError(f"{asset.name} on the draft release differs from {asset.path}: delete "
                                           "it on GitHub or rebuild; the release stays a draft")
                if there:
                    self.delete(there)  # a partial upload ("starter"/"new") blocks the name until it is gone
            try:
                self.gh.request("POST", url, params={"name": asset.name}, retry=False,
                                content=lambda: file_chunks(asset.path),
                                headers={"Content-Type": "application/octet-stream",
                                         "Content-Length": str(asset.size)})
                return
            except GitHubError as exc:
                transient = exc.status is None or exc.status >= 500
                if not (transient or (exc.status == 422 and "already_exists" in exc.codes)):
                    raise
                last = exc
        raise GitHubError(f"uploading {asset.name} failed {UPLOAD_ATTEMPTS} times; last: {last}",
                          status=last.status if last else None)

    # --- the whole release ----------------------------------------------------------------

    def release(self, tool: str, version: str, directory: Path, *, revision: int = 0, inputs: str | None = None,
                commitish: str | None = None, environ: Mapping[str, str] | None = None,
                identity: signing.Identity | None = None, gates: list[Path] | None = None, log=print) -> Outcome:
        """Publish `directory` as TOOL-vVERSION (or its rebuild -rREVISION); `inputs` is the lock digest
        (upstream.release_inputs) recorded in the notes, so `check` sees when a rebuild is due."""
        assets = collect_assets(directory)
        require_matching_checksums(directory)
        components = sbom_components([a.path for a in assets if a.name.endswith(".cdx.json")])
        check_tool_version(components, tool, version)
        gate_results = read_gates(list(gates or []), tool, version)  # before anything is made on GitHub
        tag, name = release_tag(tool, version, revision), title(tool, version, revision)
        previous = self.previous_body(tool, version, revision)
        if revision and previous is None:
            raise StaticbuildError(f"{tag} is a rebuild, but no earlier release of {tool} {version} is published")
        body = (changes(previous[1], components, previous[0]) if previous else "") + release_notes(
            tool, version, components, self.repo, any(a.name.endswith(".sigstore.json") for a in assets), environ or {})
        body += gate_notes(gate_results)
        if inputs:
            body += f"\n<!-- staticbuild-inputs: {inputs} -->\n"
        body += "".join(f"{sources_marker(listed_sources(a.path))}\n" for a in assets if a.name.endswith(SOURCES_ASSET))

        done = self.published(tag)
        if done:
            problems = self.differences(self.assets(done), assets, missing_too=True)
            if problems:
                raise StaticbuildError(f"{tag} is published already and differs from {directory}: "
                                       f"{'; '.join(problems)}. A published release is never changed here")
            self.check_signatures(done, assets, identity)
            return Outcome(done["html_url"], published=False)

        draft = self.draft(tag, name, body, commitish)
        remote = self.assets(draft)
        for partial in (a for a in remote if a.get("state") != "uploaded"):
            log(f"deleting the partial upload {partial['name']} ({partial.get('state')})")
            self.delete(partial)
        problems = self.differences(remote, assets, missing_too=False)
        if problems:
            raise StaticbuildError(f"the draft release {tag} holds assets that are not these: {'; '.join(problems)}. "
                                   "It stays a draft: delete those assets on GitHub, or rebuild")
        for old in self.resigned(remote, assets):
            log(f"replacing {old['name']} (signed again by this run)")
            self.delete(old)
            remote = [a for a in remote if a is not old]
        have = {a["name"] for a in remote if a.get("state") == "uploaded"}
        for asset in assets:
            if asset.name in have:
                log(f"kept {asset.name} (already uploaded, identical)")
                continue
            self.upload(draft, asset)
            log(f"uploaded {asset.name} ({asset.size} bytes)")

        problems = self.differences(self.assets(draft), assets, missing_too=True)
        if problems:  # the last look before anyone can download it
            raise StaticbuildError(f"the draft release {tag} is not complete: {'; '.join(problems)}")
        final = self.gh.json("PATCH", f"/repos/{self.repo}/releases/{draft['id']}",
                             json={"tag_name": tag, "name": name, "body": body, "draft": False,
                                   "make_latest": self.make_latest(tool, version, revision)})
        return Outcome(final["html_url"], published=True)


def listed_sources(archive: Path) -> list[str]:
    """The digests a corresponding-source archive's SHA256SUMS lists (a rebuild finds them by these)."""
    with open_tar(archive) as tar:
        sums = next((m for m in tar.getmembers() if m.name.endswith("/SHA256SUMS")), None)
        if sums is None:
            raise StaticbuildError(f"{archive.name} has no SHA256SUMS: write it with `staticbuild sources`")
        return [line.split("  ", 1)[0] for line in tar.extractfile(sums).read().decode().splitlines()]


def is_signature(name: str) -> bool:
    return name.endswith(signing.SUFFIX)


def keyless_identity(repo: str, environ: Mapping[str, str]) -> signing.Identity:
    """The build workflow of this repository, at any branch or tag: who signs this repository's releases."""
    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return signing.Identity(certificate_identity=f"^{re.escape(f'{server}/{repo}/{SIGNER_WORKFLOW}')}@refs/.+$",
                            oidc_issuer=OIDC_ISSUER, identity_is_regexp=True)


def _tool_version(tag: str, tool: str) -> str | None:
    prefix = f"{tool}-v"
    return tag[len(prefix):] if tag.startswith(prefix) else None
