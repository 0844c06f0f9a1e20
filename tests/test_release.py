"""`staticbuild release` against a local GitHub stand-in: small fake assets, no builds, no network."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from conftest import COSIGN_ENV, run_cli
from github_server import FakeGitHub
from staticbuild.errors import GitHubError, StaticbuildError
from staticbuild.github import GitHub, Target
from staticbuild.publish import UPLOAD_ATTEMPTS, Publisher

REPO = "me/staticbuild"
TOKEN = "test-token"
TAG = "podman-v6.0.2"
BUNDLES = ("podman-full-linux-amd64", "podman-full-linux-arm64", "podman-minimal-linux-amd64")


@pytest.fixture(autouse=True)
def no_real_github(monkeypatch):
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_SHA", "GITHUB_REF",
                 "GITHUB_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeGitHub(token=TOKEN) as server:
        yield server


def component(name: str, version: str, kind: str = "recipe") -> dict:
    return {"type": "application", "bom-ref": f"{kind}:{name}", "name": name, "version": version,
            "properties": [{"name": "staticbuild:kind", "value": kind}]}


def sbom(bundle: str, extra: list[dict]) -> dict:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
            "metadata": {"component": {"type": "application", "name": bundle, "version": "6.0.2"}},
            "components": [component("podman", "6.0.2"), component("libseccomp", "2.6.0"),
                           component("go.podman.io/storage", "v1.61.0", kind="go-module"),
                           {"type": "file", "name": "bin/podman"}, *extra]}


def write_checksums(dist: Path) -> None:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
             for p in sorted(dist.iterdir()) if p.name.endswith((".tar.zst", ".cdx.json"))]
    (dist / "checksums.txt").write_text("\n".join(lines) + "\n")


def make_dist(tmp_path: Path, seed: int = 1, signed: bool = True) -> Path:
    """What the pipeline hands to `release`: bundles, SBOMs, checksums.txt and a signature per file."""
    dist = tmp_path / f"dist{seed}"
    dist.mkdir()
    rng = random.Random(seed)
    for name in BUNDLES:
        (dist / f"{name}.tar.zst").write_bytes(rng.randbytes(rng.randrange(2000, 6000)))
        full = [component("crun", "1.21"), component("conmon", "2.1.13")] if "full" in name else []
        (dist / f"{name}.cdx.json").write_text(json.dumps(sbom(name, full)))
    write_checksums(dist)
    if signed:
        for path in sorted(dist.iterdir()):
            (dist / f"{path.name}.sigstore.json").write_text(json.dumps({"mediaType": "application/vnd.dev."
                                                                         "sigstore.bundle.v0.3+json", "of": path.name}))
    return dist


def local_files(dist: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in dist.iterdir()}


def publisher(fake: FakeGitHub) -> Publisher:
    return Publisher(GitHub(Target(fake.url, REPO, TOKEN), sleep=lambda _s: None), REPO)


def use_fake(monkeypatch, fake: FakeGitHub) -> None:
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


# --- a release from start to end ------------------------------------------------------------

def test_release_publishes_every_asset_with_title_and_notes(fake, tmp_path, monkeypatch):
    dist = make_dist(tmp_path)
    use_fake(monkeypatch, fake)
    monkeypatch.setenv("GITHUB_SHA", "0123abcd")
    proc = run_cli("release", "podman", "--version", "6.0.2", str(dist))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(f"published {fake.url}/{REPO}/releases/tag/{TAG}")

    release = fake.release(REPO, TAG)
    assert release["name"] == "Podman 6.0.2" and not release["draft"] and not release["prerelease"]
    assert release["target_commitish"] == "0123abcd" and release["_make_latest"] == "true"
    assert fake.asset_data(release) == local_files(dist)  # 3 bundles, 3 SBOMs, checksums, 7 signatures
    assert len(local_files(dist)) == 14

    body = release["body"]
    table = [line for line in body.splitlines() if line.startswith("| ") and "component" not in line]
    assert table == ["| conmon | 2.1.13 |", "| crun | 1.21 |", "| libseccomp | 2.6.0 |", "| podman | 6.0.2 |"]
    assert "go.podman.io/storage" not in body and "bin/podman" not in body  # only the bundled components
    assert "sha256sum -c checksums.txt --ignore-missing" in body
    assert ("cosign verify-blob --bundle FILE.sigstore.json \\\n  --certificate-identity "
            f"https://github.com/{REPO}/.github/workflows/build.yml@refs/heads/main \\\n"
            "  --certificate-oidc-issuer https://token.actions.githubusercontent.com FILE") in body
    assert f"gh attestation verify FILE --repo {REPO}" in body

    uploads = [h for m, p, h in fake.requests if m == "POST" and p.startswith("/uploads/")]
    assert len(uploads) == 14
    assert all(h["content-type"] == "application/octet-stream" and h["authorization"] == f"Bearer {TOKEN}"
               and "transfer-encoding" not in h for h in uploads)
    publish = [i for i, (m, p, _) in enumerate(fake.requests) if m == "PATCH"]
    last_upload = max(i for i, (m, p, _) in enumerate(fake.requests) if p.startswith("/uploads/"))
    assert len(publish) == 1 and publish[0] > last_upload  # published once, after every upload


def test_release_without_signatures_leaves_cosign_out_of_the_notes(fake, tmp_path):
    publisher(fake).release("podman", "6.0.2", make_dist(tmp_path, signed=False))
    body = fake.release(REPO, TAG)["body"]
    assert "cosign" not in body and "sigstore" not in body and "gh attestation verify" in body
    assert "checksums.txt is an asset of this release" in body


def test_an_older_version_does_not_take_the_latest_badge(fake, tmp_path):
    fake.add_release(REPO, "podman-v6.1.0")
    fake.add_release(REPO, "buildah-v9.0.0")  # another tool's versions do not count
    publisher(fake).release("podman", "6.0.2", make_dist(tmp_path))
    assert fake.release(REPO, TAG)["_make_latest"] == "false"


# --- resuming -------------------------------------------------------------------------------

def test_a_broken_upload_is_cleaned_up_and_retried_in_the_same_run(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.break_upload("podman-full-linux-arm64.tar.zst")
    publisher(fake).release("podman", "6.0.2", dist)
    release = fake.release(REPO, TAG)
    assert not release["draft"] and fake.asset_data(release) == local_files(dist)
    assert all(a["state"] == "uploaded" for a in fake.assets[release["id"]])
    assert fake.calls("DELETE", "/releases/assets/") == 1  # the "starter" left by the broken upload


def test_an_interrupted_release_resumes_on_the_next_run(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.break_upload("podman-full-linux-arm64.tar.zst", times=UPLOAD_ATTEMPTS)
    with pytest.raises(GitHubError, match=f"uploading podman-full-linux-arm64.tar.zst failed {UPLOAD_ATTEMPTS} times"):
        publisher(fake).release("podman", "6.0.2", dist)
    release = fake.release(REPO, TAG)
    assert release["draft"]  # never published with an asset missing
    uploaded_first = set(fake.asset_data(release))
    assert "podman-full-linux-amd64.tar.zst" in uploaded_first
    assert any(a["state"] == "starter" for a in fake.assets[release["id"]])

    before = len(fake.upload_names)
    outcome = publisher(fake).release("podman", "6.0.2", dist)
    assert outcome.published and not fake.release(REPO, TAG)["draft"]
    assert fake.asset_data(release) == local_files(dist)
    assert all(a["state"] == "uploaded" for a in fake.assets[release["id"]])
    assert fake.calls("POST", f"/repos/{REPO}/releases$") == 1  # the draft was reused, not made twice
    # identical assets were kept: the second run uploaded exactly the ones that were missing
    assert sorted(fake.upload_names[before:]) == sorted(set(local_files(dist)) - uploaded_first)


def test_an_upload_whose_answer_was_lost_is_recognised(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.lose_answer("checksums.txt")
    publisher(fake).release("podman", "6.0.2", dist)
    release = fake.release(REPO, TAG)
    assert fake.asset_data(release) == local_files(dist)
    assert sum(1 for m, p, _ in fake.requests if p.startswith("/uploads/")) == len(local_files(dist))


def test_a_duplicate_name_422_is_resolved_by_comparing(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.preempt_upload("checksums.txt", (dist / "checksums.txt").read_bytes())  # a concurrent run, same file
    publisher(fake).release("podman", "6.0.2", dist)
    assert fake.asset_data(fake.release(REPO, TAG)) == local_files(dist)


def test_a_duplicate_name_with_other_content_is_an_error(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.preempt_upload("checksums.txt", b"something else entirely\n")
    with pytest.raises(StaticbuildError, match="checksums.txt on the draft release differs from .*stays a draft"):
        publisher(fake).release("podman", "6.0.2", dist)
    assert fake.release(REPO, TAG)["draft"]


def test_a_differing_asset_on_the_draft_is_an_error_and_it_stays_a_draft(fake, tmp_path):
    dist = make_dist(tmp_path)
    same_size = bytes(len((dist / "podman-full-linux-amd64.tar.zst").read_bytes()))
    release = fake.add_release(REPO, TAG, draft=True, assets={"podman-full-linux-amd64.tar.zst": same_size})
    with pytest.raises(StaticbuildError, match=r"the draft release podman-v6.0.2 holds assets that are not these: "
                                               r"podman-full-linux-amd64.tar.zst differs from the local file\. "
                                               r"It stays a draft"):
        publisher(fake).release("podman", "6.0.2", dist)
    assert release["draft"] and fake.calls("PATCH", "") == 0 and fake.calls("POST", "^/uploads/") == 0


def test_an_asset_on_the_draft_that_is_not_in_the_directory_is_an_error(fake, tmp_path):
    fake.add_release(REPO, TAG, draft=True, assets={"podman-old-name.tar.zst": b"old"})
    with pytest.raises(StaticbuildError, match="podman-old-name.tar.zst is on the release but not in the directory"):
        publisher(fake).release("podman", "6.0.2", make_dist(tmp_path))
    assert fake.release(REPO, TAG)["draft"]


def test_without_a_digest_field_existing_assets_are_downloaded_and_compared(tmp_path):
    dist = make_dist(tmp_path)
    with FakeGitHub(token=TOKEN, digests=False) as fake:  # as older GitHub Enterprise servers answer
        kept = "podman-full-linux-amd64.tar.zst"
        fake.add_release(REPO, TAG, draft=True, assets={kept: (dist / kept).read_bytes()})
        publisher(fake).release("podman", "6.0.2", dist)
        assert fake.asset_data(fake.release(REPO, TAG)) == local_files(dist)
        assert fake.calls("GET", "^/storage/") >= 1  # the download went to storage, without the token
        uploaded = {h.get("authorization") for m, p, h in fake.requests if p.startswith("/storage/")}
        assert uploaded == {None}


def test_a_5xx_while_creating_the_draft_does_not_make_two(fake, tmp_path):
    fake.fail("POST", f"^/repos/{REPO}/releases$", status=502)
    publisher(fake).release("podman", "6.0.2", make_dist(tmp_path))
    assert len([r for r in fake.releases[REPO] if r["tag_name"] == TAG]) == 1


def test_two_drafts_for_one_tag_are_not_guessed_between(fake, tmp_path):
    fake.add_release(REPO, TAG, draft=True)
    fake.add_release(REPO, TAG, draft=True)
    with pytest.raises(StaticbuildError, match="2 draft releases for podman-v6.0.2"):
        publisher(fake).release("podman", "6.0.2", make_dist(tmp_path))


# --- published releases are never changed ---------------------------------------------------

def test_publishing_again_with_identical_assets_is_a_no_op(fake, tmp_path, monkeypatch):
    dist = make_dist(tmp_path)
    use_fake(monkeypatch, fake)
    assert run_cli("release", "podman", "--version", "6.0.2", str(dist)).returncode == 0
    before = len(fake.requests)
    proc = run_cli("release", "podman", "--version", "6.0.2", str(dist))
    assert proc.returncode == 0, proc.stderr
    assert "already published with these exact assets; nothing to do" in proc.stdout
    writes = [(m, p) for m, p, _ in fake.requests[before:] if m != "GET"]
    assert writes == []


def test_publishing_again_with_other_assets_is_an_error(fake, tmp_path, monkeypatch):
    use_fake(monkeypatch, fake)
    assert run_cli("release", "podman", "--version", "6.0.2", str(make_dist(tmp_path, seed=1))).returncode == 0
    before = len(fake.requests)
    proc = run_cli("release", "podman", "--version", "6.0.2", str(make_dist(tmp_path, seed=2)))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"error: {TAG} is published already and differs from ")
    assert "podman-full-linux-amd64.tar.zst differs from the local file" in proc.stderr
    assert proc.stderr.strip().endswith("A published release is never changed here")
    assert [m for m, _, _ in fake.requests[before:] if m != "GET"] == []


# --- what is checked before anything is sent ------------------------------------------------

def test_missing_token_and_repository_are_one_line_errors(fake, tmp_path, monkeypatch):
    dist = make_dist(tmp_path)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    proc = run_cli("release", "podman", "--version", "6.0.2", str(dist))
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: no GitHub repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
    proc = run_cli("release", "podman", "--version", "6.0.2", "--repo", REPO, str(dist))
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token that may "
                                   "write releases")
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    proc = run_cli("release", "podman", "--version", "6.0.2", "--repo", REPO, str(dist))
    assert proc.returncode == 0, proc.stderr
    assert fake.requests and all(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h in fake.requests)


def test_writes_without_a_token_are_refused_by_the_server(fake, tmp_path):
    anonymous = Publisher(GitHub(Target(fake.url, REPO, None), sleep=lambda _s: None), REPO)
    with pytest.raises(GitHubError, match=f"POST /repos/{REPO}/releases: 401 Unauthorized: Requires authentication"):
        anonymous.release("podman", "6.0.2", make_dist(tmp_path))
    assert REPO not in fake.releases


def test_no_sbom_is_an_error(fake, tmp_path):
    dist = make_dist(tmp_path)
    for path in dist.glob("*.cdx.json"):
        path.unlink()
    write_checksums(dist)
    with pytest.raises(StaticbuildError, match=r"no SBOM \(\*.cdx.json\) in .*the release notes list the bundled"):
        publisher(fake).release("podman", "6.0.2", dist)
    assert fake.requests == []


def test_sboms_of_another_version_are_an_error(fake, tmp_path):
    with pytest.raises(StaticbuildError, match=r"the SBOMs name podman version\(s\) 6.0.2, not 6.0.3"):
        publisher(fake).release("podman", "6.0.3", make_dist(tmp_path))
    assert fake.requests == []


def test_checksums_must_match_the_bundles(fake, tmp_path):
    dist = make_dist(tmp_path)
    (dist / "podman-full-linux-arm64.tar.zst").write_bytes(b"rebuilt")
    with pytest.raises(StaticbuildError, match="podman-full-linux-arm64.tar.zst: SHA-256 differs from checksums.txt"):
        publisher(fake).release("podman", "6.0.2", dist)
    (dist / "checksums.txt").write_text("")
    with pytest.raises(StaticbuildError, match="not listed in checksums.txt"):
        publisher(fake).release("podman", "6.0.2", dist)
    assert fake.requests == []


# --- signatures: re-signing gives new bytes ------------------------------------------------

def resign(dist: Path, marker: str) -> None:
    """What a second run's signing step does: every signature file gets new bytes."""
    for sig in dist.glob("*.sigstore.json"):
        sig.write_text(json.dumps({**json.loads(sig.read_text()), "run": marker}))


def test_a_rerun_on_a_draft_replaces_the_signatures_it_made_again(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.break_upload("podman-minimal-linux-amd64.tar.zst", times=UPLOAD_ATTEMPTS)  # the first run dies here
    with pytest.raises(GitHubError):
        publisher(fake).release("podman", "6.0.2", dist)
    [draft] = fake.releases[REPO]
    assert draft["draft"] and any(n.endswith(".sigstore.json") for n in fake.asset_data(draft))
    resign(dist, "second")  # the re-run signs again: keyless signatures never repeat
    publisher(fake).release("podman", "6.0.2", dist)
    release = fake.release(REPO, TAG)
    assert not release["draft"] and fake.asset_data(release) == local_files(dist)


def test_a_rerun_on_a_draft_still_refuses_a_bundle_that_differs(fake, tmp_path):
    dist = make_dist(tmp_path)
    fake.break_upload("podman-minimal-linux-amd64.tar.zst", times=UPLOAD_ATTEMPTS)
    with pytest.raises(GitHubError):
        publisher(fake).release("podman", "6.0.2", dist)
    other = make_dist(tmp_path, seed=2)
    with pytest.raises(StaticbuildError, match="podman-full-linux-amd64.tar.zst differs from the local file"):
        publisher(fake).release("podman", "6.0.2", other)
    assert fake.releases[REPO][0]["draft"]


@pytest.fixture
def signed_dist(tmp_path, cosign_keys) -> Path:
    """One bundle, its SBOM and checksums.txt, really signed with the test key."""
    dist = make_dist(tmp_path, signed=False)
    for extra in [p for p in dist.iterdir() if "podman-full" not in p.name and p.name != "checksums.txt"]:
        extra.unlink()
    write_checksums(dist)
    sign(dist, cosign_keys[0])
    return dist


def sign(dist: Path, key: Path) -> None:
    proc = run_cli("sign", str(dist), "--key", str(key), env=COSIGN_ENV)
    assert proc.returncode == 0, proc.stderr


def test_a_published_release_keeps_its_signatures_when_they_verify(fake, signed_dist, cosign_keys, monkeypatch):
    use_fake(monkeypatch, fake)
    release = ["release", "podman", "--version", "6.0.2", "--key", str(cosign_keys[1]), str(signed_dist)]
    assert run_cli(*release).returncode == 0
    published = fake.asset_data(fake.release(REPO, TAG))
    sign(signed_dist, cosign_keys[0])  # a forced re-run signs again: other bytes, same key
    assert local_files(signed_dist) != published
    before = len(fake.requests)
    proc = run_cli(*release)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do" in proc.stdout
    assert [m for m, _, _ in fake.requests[before:] if m != "GET"] == []
    assert fake.asset_data(fake.release(REPO, TAG)) == published


def test_a_published_signature_that_does_not_verify_is_an_error(fake, signed_dist, cosign_keys, tmp_path,
                                                                monkeypatch):
    use_fake(monkeypatch, fake)
    assert run_cli("release", "podman", "--version", "6.0.2", "--key", str(cosign_keys[1]),
                   str(signed_dist)).returncode == 0
    other = tmp_path / "other-key"
    other.mkdir()
    subprocess.run(["cosign", "generate-key-pair"], cwd=other, env=os.environ | COSIGN_ENV, check=True,
                   capture_output=True)
    sign(signed_dist, other / "cosign.key")  # the local signatures verify with the other key only
    proc = run_cli("release", "podman", "--version", "6.0.2", "--key", str(other / "cosign.pub"), str(signed_dist))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "the published signature" in proc.stderr and "does not verify" in proc.stderr


# --- the one "latest" badge of the repository -----------------------------------------------

def test_only_podman_takes_the_latest_badge(fake, tmp_path):
    fake.add_release(REPO, "podman-v6.0.1")
    publisher(fake).release("podman", "6.0.2", make_dist(tmp_path))
    assert fake.release(REPO, TAG)["_make_latest"] == "true"
    skopeo = make_dist(tmp_path, seed=3)
    for sbom_file in skopeo.glob("*.cdx.json"):
        sbom_file.write_text(sbom_file.read_text().replace('"podman"', '"skopeo"').replace("6.0.2", "1.19.0"))
    write_checksums(skopeo)
    publisher(fake).release("skopeo", "1.19.0", skopeo)
    assert fake.release(REPO, "skopeo-v1.19.0")["_make_latest"] == "false", "skopeo never takes it from podman"


# --- rebuilds: the same version with updated components ----------------------------------------

def test_release_records_its_inputs_and_a_rebuild_lists_what_changed(fake, tmp_path):
    first = make_dist(tmp_path)
    publisher(fake).release("podman", "6.0.2", first, inputs="1" * 64)
    assert "<!-- staticbuild-inputs: " + "1" * 64 + " -->" in fake.release(REPO, TAG)["body"]
    rebuilt = make_dist(tmp_path, seed=5)
    for sbom_file in rebuilt.glob("*full*.cdx.json"):
        sbom_file.write_text(sbom_file.read_text().replace('"1.21"', '"1.22"'))
    write_checksums(rebuilt)
    publisher(fake).release("podman", "6.0.2", rebuilt, revision=1, inputs="2" * 64)
    release = fake.release(REPO, f"{TAG}-r1")
    assert release["name"] == "Podman 6.0.2 (rebuild 1)" and release["_make_latest"] == "true"
    assert "### Changes since podman-v6.0.2\n\n| component | before | now |\n|---|---|---|\n| crun | 1.21 | 1.22 |" \
        in release["body"]
    assert fake.release(REPO, TAG)["body"].count("staticbuild-inputs") == 1, "the first release is untouched"


def test_a_rebuild_without_an_earlier_release_is_an_error(fake, tmp_path):
    with pytest.raises(StaticbuildError, match="podman-v6.0.2-r1 is a rebuild, but no earlier release"):
        publisher(fake).release("podman", "6.0.2", make_dist(tmp_path), revision=1)


def test_release_tags_order_versions_then_rebuilds():
    from staticbuild.upstream import release_key, release_tag, split_revision
    assert split_revision("6.0.2-r12") == ("6.0.2", 12) and split_revision("6.0.2") == ("6.0.2", 0)
    assert release_tag("podman", "6.0.2", 1) == "podman-v6.0.2-r1" and release_tag("podman", "6.0.2") == TAG
    assert sorted(["6.0.10", "6.0.2-r1", "6.0.2", "6.0.9-r2"], key=release_key) == \
        ["6.0.2", "6.0.2-r1", "6.0.9-r2", "6.0.10"]
