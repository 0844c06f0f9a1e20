"""The local GitHub: the test suite's FakeGitHub (tests/github_server.py), on a real socket.

It serves the releases API that `staticbuild check` and `release` use, holding upstream's
releases (containers/skopeo etc.) and this repository's. act's job containers share the
host's network (act's default network mode is `host`), so they reach it at 127.0.0.1 through
GITHUB_API_URL. One addition for the rehearsal: a held upload (`hold_upload`), so that "a run
cut off while an asset is on the wire" happens at a known point and is seen to happen.
"""

from __future__ import annotations

import http.server
import importlib.util
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
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
# A held upload is read at this pace: slow enough that no asset of the rehearsal arrives whole
# in the minutes a cut-off may take, fast enough that the client's 30 s write timeout never
# fires (a timeout would make `staticbuild release` retry the upload, and the run would go on).
HOLD_CHUNK = 16 * 1024
HOLD_PACE = 0.5  # seconds between chunks: 32 KiB/s
# The held connection's receive buffer, kept small so that little more than what was read is
# in flight; what the uploader's kernel still sends after it was killed is drained (`drain`).
HOLD_RCVBUF = 64 * 1024


def _load_server_module():
    path = REPO / "tests" / "github_server.py"
    spec = importlib.util.spec_from_file_location("github_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("github_server", module)
    spec.loader.exec_module(module)
    return module


_server = _load_server_module()
UPLOAD_PATH = re.compile(r"/uploads/repos/([^/]+/[^/]+)/releases/(\d+)/assets")


@dataclass
class Hold:
    """One upload to hold on the wire. The server shows a "starter" asset for it at once (as GitHub
    does while an upload is in progress, and keeps when it is cut off), and reads its body slowly
    until the rehearsal says `drain` (after killing the uploader: read what is still in flight at
    full speed, to its end) or `stop`. `outcome` tells how it ended:
    "cut" (the connection ended short of Content-Length: a partial upload, the "starter" stays),
    "complete" (the whole body arrived: stored as uploaded, the cut came too late),
    "stopped" or "error"."""
    repo: str
    name: str
    reached: threading.Event = field(default_factory=threading.Event)  # its first bytes have arrived
    drain: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    length: int = 0
    received: int = 0
    outcome: str = ""


class HoldingHandler(_server.Handler):
    """FakeGitHub's handler, plus the held upload (see Hold)."""

    def upload(self, path: str, query: dict, auth: bool) -> None:
        match = UPLOAD_PATH.fullmatch(path)
        key = (match[1], query.get("name")) if match and auth else None
        with self.fake.lock:
            hold = self.fake.holds.pop(key, None)
            if hold is None or int(match[2]) not in self.fake.assets:
                return super().upload(path, query, auth)
            self.fake.upload_names.append(hold.name)
            starter = self.fake.add_asset(int(match[2]), hold.name, b"", state="starter")
        try:
            self.hold(hold, starter)
        finally:
            hold.done.set()

    def hold(self, hold: Hold, starter: dict) -> None:
        hold.length = int(self.headers.get("Content-Length") or 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, HOLD_RCVBUF)
        self.connection.settimeout(60)
        data = bytearray()
        try:
            while len(data) < hold.length and not hold.stop.is_set():
                want = hold.length - len(data)
                chunk = self.rfile.read1(want if hold.drain.is_set() else min(HOLD_CHUNK, want))
                if not chunk:
                    break
                data += chunk
                hold.received = len(data)
                hold.reached.set()
                if not hold.drain.is_set():
                    time.sleep(HOLD_PACE)
        except OSError as exc:  # a reset counts as the end of the connection; a timeout does not
            if not isinstance(exc, ConnectionError):
                hold.outcome = f"error: {exc!r}"
        if len(data) < hold.length:  # the "starter" stays, as GitHub keeps it
            hold.outcome = hold.outcome or ("stopped" if hold.stop.is_set() else "cut")
            return self.hang_up()
        hold.outcome = "complete"
        with self.fake.lock:
            starter |= {"state": "uploaded", "size": len(data), "_data": bytes(data)}
            self.send(201, self.fake.asset_json(starter, hold.repo))


class LocalGitHub(_server.FakeGitHub):
    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.holds: dict[tuple[str, str], Hold] = {}

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

    def hold_upload(self, repo: str, name: str) -> Hold:
        """Hold the next upload of asset `name` to a release of `repo` on the wire (see Hold)."""
        hold = self.holds[(repo, name)] = Hold(repo, name)
        return hold

    def tags(self, repo: str) -> dict[str, dict]:
        return {r["tag_name"]: r for r in self.releases.get(repo, [])}

    def uploaded(self, release: dict) -> dict[str, str]:
        """asset name -> state, for every asset of a release."""
        return {a["name"]: a["state"] for a in self.assets[release["id"]]}
