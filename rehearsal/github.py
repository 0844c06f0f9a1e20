"""The local GitHub: the test suite's FakeGitHub (tests/github_server.py), on a real socket.

It serves the releases API that `staticbuild check` and `release` use, holding upstream's
releases (containers/skopeo etc.) and this repository's. act's job containers share the
host's network (act's default network mode is `host`), so they reach it at 127.0.0.1 through
GITHUB_API_URL. One addition for the rehearsal: an upload can be held open until the
rehearsal has cut the run off, so "a run cut off during upload" happens at a known point.
"""

from __future__ import annotations

import http.server
import importlib.util
import sys
import threading
from pathlib import Path

from .common import REPO

TOKEN = "rehearsal-token"  # act's GITHUB_TOKEN secret, which the server accepts
# Upstream as the rehearsal shows it: each tool's newest stable release is what staticbuild.lock pins.
UPSTREAM = {
    "containers/podman": ["v6.0.1", "v6.0.2", "v6.1.0-rc1"],
    "containers/buildah": ["v1.44.0", "v1.44.1"],
    "containers/skopeo": ["v1.18.0", "v1.19.0", "v1.20.0-rc1"],
    "containers/crun": ["1.21"], "containers/conmon": ["v2.1.13"], "containers/netavark": ["v2.1.0"],
    "containers/aardvark-dns": ["v2.1.0"], "containers/fuse-overlayfs": ["v1.14"], "openSUSE/catatonit": ["v0.2.1"],
}


def _load_server_module():
    path = REPO / "tests" / "github_server.py"
    spec = importlib.util.spec_from_file_location("github_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("github_server", module)
    spec.loader.exec_module(module)
    return module


_server = _load_server_module()


class HoldingHandler(_server.Handler):
    """FakeGitHub's handler, plus: the upload of an asset named in `fake.holds` waits (body unread)
    until the rehearsal lets it go, then the connection drops, as for a runner that was killed."""

    def upload(self, path: str, query: dict, auth: bool) -> None:
        hold = self.fake.holds.pop(query.get("name"), None)
        if hold is None:
            return super().upload(path, query, auth)
        reached, release = hold
        with self.fake.lock:
            release_id = int(path.rsplit("/", 2)[-2])
            self.fake.upload_names.append(query["name"])
            if release_id in self.fake.assets:  # what GitHub leaves of an upload cut off halfway
                self.fake.add_asset(release_id, query["name"], b"", state="starter")
        reached.set()
        release.wait(timeout=600)
        self.hang_up()


class LocalGitHub(_server.FakeGitHub):
    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.holds: dict[str, tuple[threading.Event, threading.Event]] = {}

    def __enter__(self) -> LocalGitHub:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HoldingHandler)
        self.server.daemon_threads = True
        self.server.fake = self  # type: ignore[attr-defined]
        self.server.handle_error = lambda *a: None
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def seed_upstream(self) -> None:
        for repo, tags in UPSTREAM.items():
            for tag in tags:
                self.add_release(repo, tag, prerelease="-rc" in tag)

    def hold_upload(self, name: str) -> tuple[threading.Event, threading.Event]:
        """(reached, release): `reached` is set when the upload of `name` arrives; it waits for `release`."""
        events = (threading.Event(), threading.Event())
        self.holds[name] = events
        return events

    def tags(self, repo: str) -> dict[str, dict]:
        return {r["tag_name"]: r for r in self.releases.get(repo, [])}

    def uploaded(self, release: dict) -> dict[str, str]:
        """asset name -> state, for every asset of a release."""
        return {a["name"]: a["state"] for a in self.assets[release["id"]]}
