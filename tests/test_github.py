"""The GitHub client and `staticbuild check`, against a local GitHub stand-in (no network, no builds)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import LOCK, run_cli
from github_server import FakeGitHub
from staticbuild import upstream
from staticbuild.cli import cli
from staticbuild.errors import GitHubError, StaticbuildError
from staticbuild.github import GitHub, RateLimited, Target
from staticbuild.lock import Lock, Pin

REPO = "me/staticbuild"
TOKEN = "test-token"


@pytest.fixture(autouse=True)
def no_real_github(monkeypatch):
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_SHA", "GITHUB_REF"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeGitHub(token=TOKEN) as server:
        yield server


def seed(fake: FakeGitHub) -> None:
    """Upstream as it might look: old releases past one page, a late patch release of an old branch,
    a pre-release, a draft and an unflagged release candidate; and this repository's own releases."""
    for minor in range(120):
        fake.add_release("containers/podman", f"v4.{minor}.0")
    for tag in ("v6.0.2", "v6.0.3"):
        fake.add_release("containers/podman", tag)
    fake.add_release("containers/podman", "v6.1.0-rc1", prerelease=True)
    fake.add_release("containers/podman", "v6.2.0", draft=True)
    fake.add_release("containers/podman", "v6.3.0-rc1")  # not flagged, still not stable
    fake.add_release("containers/podman", "v5.4.9")  # newest by date, not by version
    for tag in ("v1.44.0", "v1.44.1"):
        fake.add_release("containers/buildah", tag)
    fake.add_release("containers/buildah", "v1.45.0-rc1", prerelease=True)
    for tag in ("v1.19.0", "v1.20.0"):
        fake.add_release("containers/skopeo", tag)
    for repo, tags in {"containers/crun": ("1.21", "1.25"), "containers/conmon": ("v2.1.13",),
                       "containers/netavark": ("v2.1.0", "v2.2.0"), "containers/aardvark-dns": ("v2.1.0",),
                       "containers/fuse-overlayfs": ("v1.14", "v1.15"), "openSUSE/catatonit": ("v0.2.1",)}.items():
        for tag in tags:
            fake.add_release(repo, tag)
    fake.add_release(REPO, "podman-v6.0.2", assets={"podman-full-linux-amd64.tar.zst": b"x"})
    fake.add_release(REPO, "buildah-v1.44.1")
    fake.add_release(REPO, "podman-v6.0.3", draft=True)  # a failed earlier attempt: not released


class NoDebian:
    """A machine without deb-src indexes: the C libraries are not looked at (a plain Ubuntu runner)."""

    def orig_versions(self, wanted):
        raise StaticbuildError("no deb-src index is configured for apt")


def lock_copy(tmp_path: Path, **versions: str) -> Path:
    """The repository's lock with some versions changed, in tmp (the real one is never written)."""
    lock = Lock.load(LOCK)
    pins = dict(lock.pins) | {name: replace(lock.pins[name], version=v) for name, v in versions.items()}
    path = tmp_path / "staticbuild.lock"
    Lock(path, pins).save()
    return path


def client(fake: FakeGitHub, token: str | None = TOKEN, **kwargs) -> tuple[GitHub, list[float]]:
    slept: list[float] = []
    gh = GitHub(Target(fake.url, REPO, token), sleep=slept.append, clock=None, **kwargs)
    return gh, slept


def use_fake(monkeypatch, fake: FakeGitHub, token: str | None = TOKEN) -> None:
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    if token:
        monkeypatch.setenv("GITHUB_TOKEN", token)


# --- the client -----------------------------------------------------------------------------

def test_pagination_follows_link_headers_with_per_page(fake):
    for n in range(7):
        fake.add_release("o/r", f"v1.{n}")
    gh, _ = client(fake)
    tags = [r["tag_name"] for r in gh.paginate("/repos/o/r/releases", per_page=3)]
    assert tags == [f"v1.{n}" for n in reversed(range(7))]
    pages = [h for m, p, h in fake.requests if p == "/repos/o/r/releases"]
    assert len(pages) == 3  # 3 + 3 + 1
    assert all(h["authorization"] == f"Bearer {TOKEN}" for h in pages)
    assert all(h["x-github-api-version"] == "2022-11-28" for h in pages)


def test_5xx_and_dropped_connections_are_retried_with_growing_backoff(fake):
    fake.add_release("o/r", "v1.0")
    fake.fail("GET", "/releases$", status=502, times=2)
    fake.drop("GET", "/releases$")
    gh, slept = client(fake, backoff=0.5)
    assert [r["tag_name"] for r in gh.paginate("/repos/o/r/releases")] == ["v1.0"]
    assert slept == [0.5, 1.0, 2.0]


def test_persistent_5xx_ends_in_one_clear_error(fake):
    fake.fail("GET", "/releases$", status=503, times=10)
    gh, slept = client(fake, retries=2)
    with pytest.raises(GitHubError, match=r"GET /repos/o/r/releases: 503 Service Unavailable: Server Error "
                                          r"after 3 attempts") as info:
        list(gh.paginate("/repos/o/r/releases"))
    assert info.value.status == 503 and len(slept) == 2


def test_rate_limit_is_waited_out_when_the_reset_is_near(fake):
    fake.add_release("o/r", "v1.0")
    fake.rate_limit("GET", "/releases$", reset_in=40)
    gh, slept = client(fake, max_wait=60)
    assert len(list(gh.paginate("/repos/o/r/releases"))) == 1
    assert len(slept) == 1 and 39 <= slept[0] <= 42  # until x-ratelimit-reset, plus that second


def test_retry_after_is_honoured_on_429(fake):
    fake.add_release("o/r", "v1.0")
    fake.rate_limit("GET", "/releases$", retry_after=7, status=429)
    gh, slept = client(fake)
    assert len(list(gh.paginate("/repos/o/r/releases"))) == 1 and slept == [7.0]


def test_a_long_rate_limit_is_reported_not_waited(fake):
    fake.rate_limit("GET", "/releases$", reset_in=3000)
    gh, slept = client(fake, token=None, max_wait=10)
    with pytest.raises(RateLimited, match=r"rate limited \(403 Forbidden: API rate limit exceeded.*\); it resets in "
                                          r"\d+ s at \d\d:\d\d:\d\d UTC, beyond the 10 s this run may wait "
                                          r"\(--max-wait\); a token \(GITHUB_TOKEN\) has a much higher limit"):
        list(gh.paginate("/repos/o/r/releases"))
    assert slept == []


def test_a_plain_403_is_not_mistaken_for_a_rate_limit(fake):
    fake.fail("GET", "/releases$", status=403)
    gh, slept = client(fake)
    with pytest.raises(GitHubError, match="403 Forbidden: Fault$"):
        list(gh.paginate("/repos/o/r/releases"))
    assert slept == []


def test_a_wrong_token_is_refused(fake):
    gh, _ = client(fake, token="wrong")
    with pytest.raises(GitHubError, match="401 Unauthorized: Bad credentials"):
        list(gh.paginate("/repos/o/r/releases"))


def test_settings_come_from_the_environment_and_options_win():
    env = {"GITHUB_API_URL": "https://ghe.example/api/v3/", "GITHUB_REPOSITORY": "a/b", "GH_TOKEN": "t1"}
    assert Target.from_env(environ=env) == Target("https://ghe.example/api/v3", "a/b", "t1")
    assert Target.from_env("http://x", "c/d", environ=env | {"GITHUB_TOKEN": "t0"}) == Target("http://x", "c/d", "t0")
    assert Target.from_env(environ={}).api_url == "https://api.github.com"
    with pytest.raises(StaticbuildError, match="no GitHub repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"):
        Target.from_env(environ={}).need_repo()
    with pytest.raises(StaticbuildError, match="got 'justaname'"):
        Target.from_env(repo="justaname", environ={}).need_repo()


# --- check ----------------------------------------------------------------------------------

def test_check_finds_exactly_the_missing_versions(fake, tmp_path):
    seed(fake)
    lock = Lock.load(lock_copy(tmp_path, podman="6.0.3"))
    gh, slept = client(fake)
    report = upstream.check(gh, REPO, lock, upstream.TOOLS)
    by_tool = {t.tool: t for t in report.tools}
    assert {t: (s.version, s.released) for t, s in by_tool.items()} == {
        "podman": ("6.0.3", False), "buildah": ("1.44.1", True), "skopeo": ("1.20.0", False)}
    assert report.matrix() == {"include": [{"tool": "podman", "version": "6.0.3"}]}
    assert by_tool["skopeo"].next_step().startswith("update the lock (1.19.0 → 1.20.0)")
    assert fake.calls("GET", "^/repos/containers/podman/releases$") == 2  # 126 releases: two pages of 100
    proposals = {c.name: (c.locked, c.upstream) for c in report.components if c.newer}
    assert proposals == {"crun": ("1.21", "1.25"), "netavark": ("2.1.0", "2.2.0"), "fuse-overlayfs": ("1.14", "1.15")}
    assert slept == []


def test_check_survives_502s(fake, tmp_path):
    seed(fake)
    fake.fail("GET", "^/repos/containers/podman/releases$", times=2)
    fake.fail("GET", f"^/repos/{REPO}/releases$")
    gh, slept = client(fake)
    report = upstream.check(gh, REPO, Lock.load(lock_copy(tmp_path, podman="6.0.3")), ("podman",))
    assert report.matrix() == {"include": [{"tool": "podman", "version": "6.0.3"}]} and len(slept) == 3


def test_json_matrix_for_a_workflow(fake, tmp_path, monkeypatch):
    seed(fake)
    use_fake(monkeypatch, fake)
    proc = run_cli("check", "--json", lock=lock_copy(tmp_path, podman="6.0.3"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"include":[{"tool":"podman","version":"6.0.3"}]}\n'  # one line, for $GITHUB_OUTPUT
    assert "podman-full runtime helpers" in proc.stderr and "1.21 → 1.25" in proc.stderr


def test_json_matrix_is_empty_when_everything_is_released(fake, tmp_path, monkeypatch):
    seed(fake)
    fake.add_release(REPO, "podman-v6.0.3")
    use_fake(monkeypatch, fake)
    proc = run_cli("check", "podman", "buildah", "--json", lock=lock_copy(tmp_path, podman="6.0.3"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"include": []}


def test_table_shows_where_each_tool_stands(fake, tmp_path, monkeypatch):
    seed(fake)
    use_fake(monkeypatch, fake)
    proc = run_cli("check", lock=lock_copy(tmp_path, podman="6.0.3"))
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.count("│") > 3}
    assert "build and release" in rows["podman"] and "6.0.3" in rows["podman"]
    assert "up to date" in rows["buildah"]
    assert "update the lock (1.19.0 → 1.20.0)" in rows["skopeo"]
    assert "1.14 → 1.15" in rows["fuse-overlayfs"] and "up to date" in rows["catatonit"]


def test_force_and_an_asked_version_for_a_manual_run(fake, tmp_path, monkeypatch):
    seed(fake)
    use_fake(monkeypatch, fake)
    lock = lock_copy(tmp_path)  # pins podman 6.0.2, released already
    proc = run_cli("check", "podman", "--version", "6.0.2", "--json", lock=lock)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"include": []}
    proc = run_cli("check", "podman", "--version", "6.0.2", "--force", "--json", lock=lock)
    assert json.loads(proc.stdout) == {"include": [{"tool": "podman", "version": "6.0.2"}]}
    proc = run_cli("check", "all", "--version", "", "--json", lock=lock)  # what a scheduled run passes
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"include": []}


def test_an_asked_version_the_lock_does_not_pin_is_an_error(fake, tmp_path, monkeypatch):
    seed(fake)
    use_fake(monkeypatch, fake)
    proc = run_cli("check", "podman", "--version", "6.0.3", "--json", lock=lock_copy(tmp_path))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == ("error: staticbuild.lock pins podman 6.0.2, not 6.0.3: run `staticbuild pin podman "
                                   "6.0.3` (or check --update-lock) and commit the lock")


def test_update_lock_pins_each_proposal_through_the_pin_function(fake, tmp_path):
    seed(fake)
    lock = Lock.load(lock_copy(tmp_path))
    gh, _ = client(fake)
    report = upstream.check(gh, REPO, lock, upstream.TOOLS)
    pinned = []

    def fake_pin(work: Lock, name: str, version: str) -> None:
        pinned.append((name, version))
        work.pins[name] = Pin(version, work.pins[name].sources)

    changes, failures = upstream.update_lock(report, lock, fake_pin)
    assert failures == []
    assert pinned == [("podman", "6.0.3"), ("skopeo", "1.20.0"), ("crun", "1.25"), ("netavark", "2.2.0"),
                      ("fuse-overlayfs", "1.15")]
    assert changes[0] == ("podman", "6.0.2", "6.0.3")
    assert report.relocked(lock).matrix() == {"include": [{"tool": "podman", "version": "6.0.3"},
                                                          {"tool": "skopeo", "version": "1.20.0"}]}
    assert Lock.load(lock.path).pins["podman"].version == "6.0.3", "saved once, at the end"


def test_a_pin_that_cannot_be_verified_is_left_out_and_named(fake, tmp_path):
    seed(fake)
    lock = Lock.load(lock_copy(tmp_path))
    report = upstream.check(client(fake)[0], REPO, lock, upstream.TOOLS)

    def fails_at_crun(work: Lock, name: str, version: str) -> None:
        work.pins[name] = Pin(version, work.pins[name].sources)  # half-done: must not stay
        if name == "crun":
            raise StaticbuildError("crun 1.25: no location could be checked")
    changes, failures = upstream.update_lock(report, lock, fails_at_crun)
    assert failures == ["crun 1.25 not pinned: crun 1.25: no location could be checked"]
    saved = Lock.load(lock.path)
    assert saved.pins["crun"].version == "1.21" and saved.pins["podman"].version == "6.0.3"
    assert ("crun", "1.21", "1.25") not in changes


def test_an_interrupted_pin_leaves_the_lock_file_as_it_was(fake, tmp_path):
    seed(fake)
    lock = Lock.load(lock_copy(tmp_path))
    before = lock.path.read_bytes()
    report = upstream.check(client(fake)[0], REPO, lock, upstream.TOOLS)

    def interrupted_at_crun(work: Lock, name: str, version: str) -> None:
        if name == "crun":
            raise KeyboardInterrupt
        work.pins[name] = Pin(version, work.pins[name].sources)
    with pytest.raises(KeyboardInterrupt):
        upstream.update_lock(report, lock, interrupted_at_crun)
    assert lock.path.read_bytes() == before and lock.pins["podman"].version == "6.0.2"


def test_update_lock_from_the_command_line_writes_only_the_given_lock(fake, tmp_path, monkeypatch):
    seed(fake)
    use_fake(monkeypatch, fake)
    real_before = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    path = lock_copy(tmp_path)

    def fake_pin(recipe, version, lock, save=True):  # the real one downloads and hashes the release
        assert not save, "check --update-lock saves once, at the end"
        lock.pins[recipe.name] = Pin(version, lock.pins[recipe.name].sources)
        return []

    monkeypatch.setattr("staticbuild.cli.pin", fake_pin)
    monkeypatch.setattr("staticbuild.cli.SourceCache", lambda _root: type("Fetched", (), {"get": lambda *a: None})())
    monkeypatch.setattr("staticbuild.cli.DebianArchive", NoDebian)
    result = CliRunner().invoke(cli, ["--lock", str(path), "check", "skopeo", "--update-lock", "--json"])
    assert result.exit_code == 0, result.output
    assert Lock.load(path).pins["skopeo"].version == "1.20.0"
    assert result.stdout.splitlines()[-1] == '{"include":[{"tool":"skopeo","version":"1.20.0"}]}'
    assert hashlib.sha256(LOCK.read_bytes()).hexdigest() == real_before


def test_check_needs_a_repository(tmp_path, monkeypatch, fake):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    proc = run_cli("check")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: no GitHub repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"


def test_check_reports_a_long_rate_limit_in_one_line(fake, monkeypatch):
    seed(fake)
    use_fake(monkeypatch, fake)
    fake.rate_limit("GET", "/releases$", reset_in=600)
    proc = run_cli("check", "--max-wait", "5")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"error: GitHub API GET /repos/{REPO}/releases: rate limited (403 Forbidden")
    assert "beyond the 5 s this run may wait (--max-wait)" in proc.stderr


def test_unknown_tool_is_named():
    with pytest.raises(StaticbuildError, match=r"unknown tool 'podmn' \(known: podman, buildah, skopeo, all\)"):
        upstream.parse_tools(["podmn"])
    assert upstream.parse_tools(["all"]) == upstream.TOOLS and upstream.parse_tools([]) == upstream.TOOLS


def test_versions_order_numerically():
    assert upstream.version_key("1.10") > upstream.version_key("1.9")
    assert max(["2.1.13", "2.1.9", "2.0.99"], key=upstream.version_key) == "2.1.13"
    assert upstream.stable_version({"tag_name": "v6.0.3", "draft": False, "prerelease": False}) == "6.0.3"
    assert upstream.stable_version({"tag_name": "v6.1.0-rc1", "draft": False, "prerelease": False}) is None


# --- the token stays with the API ------------------------------------------------------------

class Recorder:
    """A plain HTTP server that answers every GET with an empty JSON list and records the headers."""

    def __init__(self):
        import http.server
        import threading
        seen = self.headers = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                seen.append(dict(self.headers))
                body = b"[]"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere():
    recorder = Recorder()
    yield recorder
    recorder.close()


def test_the_token_is_not_sent_where_a_link_header_points(fake, elsewhere, monkeypatch):
    for i in range(3):
        fake.add_release(REPO, f"podman-v6.0.{i}")
    with GitHub(Target(fake.url, REPO, TOKEN)) as gh:
        real = gh.http.request

        def next_page_elsewhere(method, url, **kwargs):
            resp = real(method, url, **kwargs)
            if "releases" in str(url) and "page=2" not in str(url):
                resp.headers["link"] = f'<{elsewhere.url}/repos/{REPO}/releases?page=2>; rel="next"'
            return resp
        monkeypatch.setattr(gh.http, "request", next_page_elsewhere)
        list(gh.paginate(f"/repos/{REPO}/releases", per_page=1))
    assert elsewhere.headers, "the next page was fetched"
    assert all("Authorization" not in h for h in elsewhere.headers)
    assert fake.requests and all(h.get("authorization") == f"Bearer {TOKEN}" for _m, _p, h in fake.requests)


def test_the_token_is_not_sent_to_an_upload_url_on_another_host(elsewhere):
    with GitHub(Target("http://127.0.0.1:1", REPO, TOKEN), retries=0) as gh:
        gh.request("POST", f"{elsewhere.url}/upload?name=x", retry=False, content=lambda: [b"data"])
    assert elsewhere.headers and "Authorization" not in elsewhere.headers[0]


def test_the_token_goes_to_the_api_and_githubs_upload_host_only():
    from staticbuild.github import TokenAuth
    import httpx
    auth = TokenAuth(TOKEN, "https://api.github.com")
    def sent(url: str) -> bool:
        return "Authorization" in next(auth.auth_flow(httpx.Request("GET", url))).headers
    assert sent("https://api.github.com/repos/a/b") and sent("https://uploads.github.com/repos/a/b/assets")
    assert not sent("https://objects.githubusercontent.com/x") and not sent("http://api.github.com/x")
    assert not sent("https://api.github.com.evil.example/x")


def test_the_token_is_never_in_a_repr():
    target = Target.from_env(environ={"GITHUB_TOKEN": "ghp_secret123", "GITHUB_REPOSITORY": REPO})
    assert target.token == "ghp_secret123" and "ghp_secret123" not in repr(target)


# --- what the unattended bump refuses ----------------------------------------------------

def test_versions_the_recipes_cannot_build_or_that_break_a_requirement_are_refused(fake, tmp_path, monkeypatch):
    seed(fake)
    fake.add_release("containers/crun", "1.28")  # json-c: no recipe
    fake.add_release("containers/fuse-overlayfs", "v2.0.0")  # a Rust rewrite
    fake.add_release("containers/netavark", "v3.0.0")  # podman 6 needs netavark 2.x
    fake.add_release("containers/podman", "v7.0.0")  # requirements not recorded
    use_fake(monkeypatch, fake)
    path = lock_copy(tmp_path)
    pinned = []

    def fake_pin(recipe, version, lock, save=True):
        pinned.append((recipe.name, version))
        lock.pins[recipe.name] = Pin(version, lock.pins[recipe.name].sources)
        return []
    monkeypatch.setattr("staticbuild.cli.pin", fake_pin)
    monkeypatch.setattr("staticbuild.cli.SourceCache", lambda _root: type("Fetched", (), {"get": lambda *a: None})())
    monkeypatch.setattr("staticbuild.cli.DebianArchive", NoDebian)
    result = CliRunner().invoke(cli, ["--lock", str(path), "check", "--update-lock"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert sorted(pinned) == [("skopeo", "1.20.0")], "nothing refused is pinned"
    text = " ".join(result.output.split())
    assert "refused: crun 1.28: from 1.28 on crun parses JSON with json-c" in text
    assert "refused: fuse-overlayfs 2.0.0: 2.x is a rewrite in Rust" in text
    assert "refused: podman 7.0.0: its requirements are not recorded" in text
    assert "refused: podman 6.0.2 needs netavark >= 2, < 3, not 3.0.0" in text
    lock = Lock.load(path)
    assert (lock.pins["podman"].version, lock.pins["netavark"].version, lock.pins["crun"].version) == \
        ("6.0.2", "2.1.0", "1.21")


def test_a_lock_change_under_a_released_version_proposes_a_rebuild(fake, tmp_path, monkeypatch):
    from staticbuild.catalog import Catalog
    catalog = Catalog.load()
    (tmp_path / "then").mkdir()
    released_with = Lock.load(lock_copy(tmp_path / "then"))
    fake.add_release("containers/podman", "v6.0.2")
    for name in upstream.RUNTIME:  # the helpers upstream are what the lock pins: no proposals for them
        fake.add_release(upstream.UPSTREAM_REPOS[name], f"v{released_with.pins[name].version}")
    fake.add_release(REPO, "podman-v6.0.2",
                     body=f"notes\n<!-- staticbuild-inputs: {upstream.release_inputs(catalog, released_with, 'podman')} -->")
    use_fake(monkeypatch, fake)
    same = run_cli("check", "podman", "--json", lock=released_with.path)
    assert same.returncode == 0 and same.stdout.strip() == '{"include":[]}', same.stderr
    crun_fixed = lock_copy(tmp_path, crun="1.22")  # a security fix in a helper, podman itself unchanged
    proc = run_cli("check", "podman", "--json", lock=crun_fixed)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '{"include":[{"tool":"podman","version":"6.0.2","revision":"1"}]}'
    assert "rebuild as podman-v6.0.2-r1 (components changed)" in " ".join(proc.stderr.split())
    fake.add_release(REPO, "podman-v6.0.2-r1", body=f"<!-- staticbuild-inputs: "
                     f"{upstream.release_inputs(catalog, Lock.load(crun_fixed), 'podman')} -->")
    assert run_cli("check", "podman", "--json", lock=crun_fixed).stdout.strip() == '{"include":[]}'


# --- passt and the C libraries: their newest versions from Debian's Sources indexes -------------

class SomeDebian:
    def __init__(self, found):
        self.found, self.asked = found, None

    def orig_versions(self, wanted):
        self.asked = wanted
        return {package: self.found.get(package, {}) for package in wanted}


def test_debian_versions_are_read_from_the_orig_tarball_names():
    from staticbuild.catalog import Catalog
    debian = SomeDebian({"passt": {"20261002.cba3570": "sid", "20250503.587980c": "trixie"},
                         "glib2.0": {"2.86.0": "trixie", "2.90.1": "sid", "2.84.4": "bookworm"}})
    found = {c.name: c for c in upstream.debian_components(Catalog.load(), Lock.load(LOCK), debian)}
    assert found["passt"].upstream == "2026_10_02.cba3570" and found["passt"].newer
    assert found["glib"].upstream == "2.90.1" and found["glib"].locked == "2.84.4"
    assert debian.asked["passt"].fullmatch("passt_0.0~git20261002.cba3570.orig.tar.xz").group(1) == "20261002.cba3570"
    assert "crun" not in found, "GitHub's releases speak for crun"


def test_this_machines_debian_indexes_know_musl():
    from staticbuild.catalog import Catalog
    from staticbuild.compat import natural_key
    from staticbuild.mirrors import DebianArchive
    found = {c.name: c for c in upstream.debian_components(Catalog.load(), Lock.load(LOCK), DebianArchive())}
    assert natural_key(found["musl"].upstream) >= natural_key("1.2.5")


def test_without_deb_src_indexes_the_libraries_are_a_note_not_an_error(fake, monkeypatch, tmp_path):
    seed(fake)
    use_fake(monkeypatch, fake)
    monkeypatch.setattr("staticbuild.cli.DebianArchive", NoDebian)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = CliRunner().invoke(cli, ["--lock", str(lock_copy(tmp_path)), "check", "podman"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "passt and the C libraries were not checked: no deb-src index" in result.output
    assert "- passt and the C libraries were not checked" in summary.read_text()


def test_outputs_for_the_workflow_say_whether_a_lock_update_is_due(fake, tmp_path, monkeypatch):
    seed(fake)  # upstream podman 6.0.3 and skopeo 1.20.0 are ahead of the lock
    use_fake(monkeypatch, fake)
    monkeypatch.setattr("staticbuild.cli.DebianArchive", NoDebian)
    outputs = tmp_path / "github_output"
    result = CliRunner().invoke(cli, ["--lock", str(lock_copy(tmp_path)), "check", "skopeo", "--outputs",
                                      str(outputs)])
    assert result.exit_code == 0, result.output
    assert outputs.read_text().splitlines() == ['matrix={"include":[]}', "count=0", "bump=true", "changed=false",
                                                "pinned=", "failed=0"]
    up_to_date = lock_copy(tmp_path, skopeo="1.20.0")
    outputs.unlink()
    assert CliRunner().invoke(cli, ["--lock", str(up_to_date), "check", "skopeo", "--outputs", str(outputs)]
                              ).exit_code == 0
    assert outputs.read_text().splitlines() == ['matrix={"include":[{"tool":"skopeo","version":"1.20.0"}]}',
                                               "count=1", "bump=false", "changed=false", "pinned=", "failed=0"]


def test_the_bump_jobs_outputs_name_what_was_pinned_and_count_what_was_not(fake, tmp_path, monkeypatch):
    """The workflow commits `pinned=` and builds `matrix=`; `failed=` turns the run red after the builds."""
    seed(fake)  # upstream podman 6.0.3 and skopeo 1.20.0 are ahead of the lock
    use_fake(monkeypatch, fake)
    path = lock_copy(tmp_path)

    def pin_but_podman(recipe, version, lock, save=True):
        if recipe.name == "podman":
            raise StaticbuildError("podman 6.0.3: the module zip is not in the checksum database")
        lock.pins[recipe.name] = Pin(version, lock.pins[recipe.name].sources)
        return []

    monkeypatch.setattr("staticbuild.cli.pin", pin_but_podman)
    monkeypatch.setattr("staticbuild.cli.SourceCache", lambda _root: type("Fetched", (), {"get": lambda *a: None})())
    monkeypatch.setattr("staticbuild.cli.DebianArchive", NoDebian)
    summary, outputs = tmp_path / "summary.md", tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = CliRunner().invoke(cli, ["--lock", str(path), "check", "podman", "skopeo", "--update-lock",
                                      "--outputs", str(outputs)], terminal_width=300)
    assert result.exit_code == 0, result.output
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    pinned = values["pinned"].split(", ")
    assert values["changed"] == "true" and values["failed"] == "1"
    assert "skopeo 1.20.0" in pinned and not any(p.startswith("podman ") for p in pinned), pinned
    assert values["matrix"] == '{"include":[{"tool":"skopeo","version":"1.20.0"}]}'
    assert Lock.load(path).pins["podman"].version == "6.0.2", "what could not be verified stays as it was"
    assert "podman 6.0.3 not pinned: podman 6.0.3: the module zip is not in the checksum database" in \
        summary.read_text()


def test_the_gnulib_snapshot_whose_argp_crun_cannot_find_is_refused():
    """Found by the rehearsal's scheduled bump: gnulib 20250303's argp_parse is rpl_argp_parse and crun's
    configure failed, so a bump must leave argp where it is (the pinned snapshot still passes)."""
    from staticbuild.catalog import Catalog
    from staticbuild.compat import beyond_limit
    argp = Catalog.load().get("argp")
    assert "rpl_argp_parse" in beyond_limit(argp, "20250303")
    assert beyond_limit(argp, Lock.load(LOCK).pins["argp"].version) is None
