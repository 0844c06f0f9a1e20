"""What the rehearsal's local GitHub adds to the test suite's FakeGitHub (rehearsal/github.py), fast
(no act, no podman): it holds an upload on the wire, so that the cut-off scenario kills the run at
a known point (a real upload by a separate process that is killed, as act's release job is); and
it serves the repositories themselves, for actions/checkout (git fetch by SHA, the REST API's
tarball) and for the bump job's push."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.request
from urllib.parse import urlsplit

from conftest import REPO

sys.path.insert(0, str(REPO))  # the rehearsal/ package sits beside tests/, like bench/
from rehearsal.github import TOKEN, LocalGitHub  # noqa: E402

SIZE = 8 * 1024 * 1024  # about the size of the rehearsal's held asset (skopeo's arm64 bundle)
UPLOADER = textwrap.dedent("""
    import sys, httpx
    url, token, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    body = (bytes(range(256)) * (size // 256 + 1))[:size]
    r = httpx.post(url, params={"name": "big.tar.zst"}, content=body, timeout=httpx.Timeout(30.0, connect=10.0),
                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    print(r.status_code)
""")


def start_upload(github: LocalGitHub, release: dict, size: int = SIZE) -> subprocess.Popen:
    url = f"{github.url}/uploads/repos/o/r/releases/{release['id']}/assets"
    return subprocess.Popen([sys.executable, "-c", UPLOADER, url, TOKEN, str(size)], stdout=subprocess.PIPE, text=True)


def test_a_held_upload_is_read_slowly_and_a_hang_up_leaves_a_starter_asset():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/r", "big.tar.zst")
        proc = start_upload(github, release)
        try:
            assert hold.reached.wait(timeout=30)
            assert github.uploaded(release) == {"big.tar.zst": "starter"}  # visible while on the wire
            time.sleep(2)
            assert hold.received < 200 * 1024 and not hold.done.is_set()  # trickling: 32 KiB/s
        finally:
            proc.kill()  # the uploader dies; what its kernel had sent may still arrive ...
            proc.wait()
        hold.hang_up()  # ... so the rehearsal has the server hang up once the uploader is gone
        assert hold.done.wait(timeout=30)
        assert hold.outcome == "cut" and 0 < hold.received < hold.length == SIZE
        assert github.uploaded(release) == {"big.tar.zst": "starter"}  # what GitHub keeps of a cut upload


def test_an_uploader_that_hangs_up_halfway_leaves_a_starter_asset():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/r", "big.tar.zst")
        url = f"{github.url}/uploads/repos/o/r/releases/{release['id']}/assets?name=big.tar.zst"
        with socket.create_connection(urlsplit(url).netloc.split(":")) as s:  # a client that stops sending
            s.sendall(f"POST {urlsplit(url).path}?name=big.tar.zst HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      f"{TOKEN}\r\nContent-Type: application/octet-stream\r\nContent-Length: {SIZE}\r\n\r\n"
                      .encode() + b"x" * 1000)
            assert hold.reached.wait(timeout=30)
        assert hold.done.wait(timeout=30) and hold.outcome == "cut" and hold.received == 1000
        assert github.uploaded(release) == {"big.tar.zst": "starter"}


def test_an_upload_that_is_not_cut_completes_and_is_reported_so():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/r", "big.tar.zst")
        out, _ = start_upload(github, release, size=48 * 1024).communicate(timeout=60)
        assert out.strip() == "201" and hold.outcome == "complete"
        assert len(github.asset_data(release)["big.tar.zst"]) == 48 * 1024


def test_other_uploads_are_not_held():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/other", "big.tar.zst")  # another repository's
        out, _ = start_upload(github, release).communicate(timeout=60)
        assert out.strip() == "201" and not hold.reached.is_set()


def git(*args, cwd=None) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_repositories_are_served_for_checkout_and_push(tmp_path):
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", work)
    (work / "staticbuild.lock").write_text("old\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "first", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work)
    git("remote", "add", "origin", "/nowhere", cwd=work)
    with LocalGitHub(git_root=tmp_path / "git") as github:
        served = github.host_repository("o/r", work)
        # the clone's origin names the server as the job containers know it (github.localhost) ...
        assert git("remote", "get-url", "origin", cwd=work) == served == f"{github.server_url}/o/r"
        url = f"{github.url}/o/r"  # ... which this machine need not resolve: the same server by address
        # the way actions/checkout fetches one commit: by its SHA, shallow
        fetched = tmp_path / "fetched"
        git("init", "-q", fetched)
        git("fetch", "-q", "--depth=1", url, f"+{first}:refs/remotes/origin/main", cwd=fetched)
        assert git("rev-parse", "refs/remotes/origin/main", cwd=fetched) == first
        # the bump job: commit the lock, `git push origin HEAD:refs/heads/main`
        (work / "staticbuild.lock").write_text("new\n")
        git("commit", "-qam", "lock: pin", cwd=work)
        git("push", "-q", url, "HEAD:refs/heads/main", cwd=work)
        bump = git("rev-parse", "HEAD", cwd=work)
        assert github.git_head("o/r") == bump != first and github.git_show("o/r", bump, "staticbuild.lock") == "new\n"
        assert ("POST", "/o/r.git/git-receive-pack") in github.git_requests
        # where a job has no git: the REST API's tarball, one top-level folder
        request = urllib.request.Request(f"{github.url}/repos/o/r/tarball/{bump}",
                                         headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request) as answer, tarfile.open(fileobj=io.BytesIO(answer.read())) as tar:
            top = f"o-r-{bump[:7]}"
            assert tar.extractfile(f"{top}/staticbuild.lock").read() == b"new\n"
            assert {m.name.split("/")[0] for m in tar.getmembers()} == {top}
