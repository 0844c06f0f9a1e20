"""The rehearsal's local GitHub holds an upload on the wire, so that the cut-off scenario kills the
run at a known point (rehearsal/github.py, Hold). Fast: a real upload by a separate process that
is killed, as act's release job is; no act, no podman."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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


def start_upload(github: LocalGitHub, release: dict) -> subprocess.Popen:
    url = f"{github.url}/uploads/repos/o/r/releases/{release['id']}/assets"
    return subprocess.Popen([sys.executable, "-c", UPLOADER, url, TOKEN, str(SIZE)], stdout=subprocess.PIPE, text=True)


def test_a_killed_uploader_leaves_a_starter_asset_and_the_hold_sees_the_cut():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/r", "big.tar.zst")
        proc = start_upload(github, release)
        try:
            assert hold.reached.wait(timeout=30)
            assert github.uploaded(release) == {"big.tar.zst": "starter"}  # visible while on the wire
        finally:
            proc.kill()
            proc.wait()
        hold.drain.set()
        assert hold.done.wait(timeout=30)
        assert hold.outcome == "cut" and 0 < hold.received < hold.length == SIZE
        assert github.uploaded(release) == {"big.tar.zst": "starter"}  # what GitHub keeps of a cut upload


def test_an_upload_that_is_not_cut_completes_and_is_reported_so():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/r", "big.tar.zst")
        proc = start_upload(github, release)
        assert hold.reached.wait(timeout=30)
        hold.drain.set()  # the "kill" missed: the whole body arrives
        out, _ = proc.communicate(timeout=60)
        assert out.strip() == "201" and hold.outcome == "complete"
        assert github.asset_data(release)["big.tar.zst"] == (bytes(range(256)) * (SIZE // 256 + 1))[:SIZE]


def test_other_uploads_are_not_held():
    with LocalGitHub() as github:
        release = github.add_release("o/r", "t", draft=True)
        hold = github.hold_upload("o/other", "big.tar.zst")  # another repository's
        out, _ = start_upload(github, release).communicate(timeout=60)
        assert out.strip() == "201" and not hold.reached.is_set()
