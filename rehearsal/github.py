"""The local GitHub: the test suite's FakeGitHub (tests/github_server.py), on a real socket.

It serves the releases API that `staticbuild check` and `release` use, holding upstream's
releases (containers/skopeo etc.) and this repository's. act's job containers share the
host's network (act's default network mode is `host`), so they reach it at 127.0.0.1 through
GITHUB_API_URL. Two additions for the rehearsal:
* a held upload (`hold_upload`), so that "a run cut off while an asset is on the wire" happens
  at a known point and is seen to happen;
* the repositories themselves (`host_repository`): bare git repositories served over git's smart
  HTTP (`git http-backend`) at GITHUB_SERVER_URL/OWNER/NAME, fetch and push, and the REST API's
  tarball download. actions/checkout fetches from there whenever act does not replace it with
  its copy of the working directory (it does not when a `ref:` is given: build.yml checks out
  the bump commit), by git where the job has git, by the tarball where it has none (the
  debian:bookworm container); the bump job pushes its lock commit there.
"""

from __future__ import annotations

import http.server
import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .common import REPO

TOKEN = "rehearsal-token"
SERVER_NAME = "github.localhost"  # see LocalGitHub.server_url  # act's GITHUB_TOKEN secret, which the server accepts
# Upstream as the rehearsal shows it: each tool's newest stable release is what staticbuild.lock pins.
UPSTREAM = {
    "containers/podman": ["v6.0.1", "v6.0.2", "v6.1.0-rc1"],
    "containers/buildah": ["v1.44.1", "v1.45.0"],
    "containers/skopeo": ["v1.18.0", "v1.19.0", "v1.20.0-rc1"],
    "containers/crun": ["1.21"], "containers/conmon": ["v2.1.13"], "containers/netavark": ["v2.1.0"],
    "containers/aardvark-dns": ["v2.1.0"], "containers/fuse-overlayfs": ["v1.14"], "openSUSE/catatonit": ["v0.2.1"],
}
# A held upload is read at this pace: slow enough that no asset of the rehearsal arrives whole
# in the seconds a cut-off takes, fast enough that the client's 30 s write timeout never fires
# (a timeout would make `staticbuild release` retry the upload, and the run would go on).
HOLD_CHUNK = 16 * 1024
HOLD_PACE = 0.5  # seconds between chunks: 32 KiB/s


def _load_server_module():
    path = REPO / "tests" / "github_server.py"
    spec = importlib.util.spec_from_file_location("github_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("github_server", module)
    spec.loader.exec_module(module)
    return module


_server = _load_server_module()
UPLOAD_PATH = re.compile(r"/uploads/repos/([^/]+/[^/]+)/releases/(\d+)/assets")
GIT_PATH = re.compile(r"/([^/]+)/([^/]+?)(?:\.git)?/(info/refs|git-upload-pack|git-receive-pack)")
TARBALL_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/tarball/(.+)")


@dataclass
class Hold:
    """One upload to hold on the wire. The server shows a "starter" asset for it at once (as GitHub
    does while an upload is in progress, and keeps when it is cut off), and reads its body slowly
    until the uploader hangs up or the rehearsal calls `hang_up` (what GitHub does, in the end, with
    an upload whose sender is gone). `outcome` says how it ended:
    "cut" (short of Content-Length: a partial upload, the "starter" stays), "complete" (the whole
    body arrived: stored as uploaded, the cut came too late) or "error: ...".

    Why the rehearsal hangs up rather than wait for the connection to end by itself: between
    a job container and this server sits pasta (sandbox.py), which accepts a connection inside
    the namespace and relays it to the host's loopback. What the uploader has written is then in
    pasta's socket buffers and pipes, several megabytes, and pasta delivers it after the uploader
    is killed: a whole asset can arrive from a dead process. So the rehearsal kills the uploading
    process, sees it gone, and only then has the server hang up (scenarios.cut_off)."""
    repo: str
    name: str
    reached: threading.Event = field(default_factory=threading.Event)  # its first bytes have arrived
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    length: int = 0
    received: int = 0
    outcome: str = ""
    connection: socket.socket | None = None

    def hang_up(self) -> None:
        """Stop reading and close the connection (a blocked read returns at once)."""
        self.stop.set()
        if self.connection is not None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HoldingHandler(_server.Handler):
    """FakeGitHub's handler, plus the held upload (see Hold) and the repositories (git, tarballs)."""

    def route(self, method: str) -> None:
        path = urlsplit(self.path).path
        root = self.fake.git_root
        if root and (m := GIT_PATH.fullmatch(path)) and (root / m[1] / f"{m[2]}.git").is_dir():
            return self.git(method, f"/{m[1]}/{m[2]}.git/{m[3]}")
        if root and method == "GET" and (m := TARBALL_PATH.fullmatch(path)) and (root / m[1] / f"{m[2]}.git").is_dir():
            return self.tarball(root / m[1] / f"{m[2]}.git", f"{m[1]}-{m[2]}", m[3])
        return super().route(method)

    def request_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # git sends big requests so
            data = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(data)
        return self.body()

    def git(self, method: str, path_info: str) -> None:
        """git's smart HTTP protocol by `git http-backend` (CGI): fetch, and push (REMOTE_USER is set,
        which enables receive-pack; the local GitHub does not check who pushes)."""
        body = self.request_body()
        with self.fake.lock:
            self.fake.git_requests.append((method, path_info))
        env = {"PATH": "/usr/bin:/bin", "GIT_PROJECT_ROOT": str(self.fake.git_root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path_info, "REQUEST_METHOD": method, "QUERY_STRING": urlsplit(self.path).query,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_USER": "rehearsal", "REMOTE_ADDR": "127.0.0.1", "GIT_CONFIG_NOSYSTEM": "1",
               "HOME": str(self.fake.git_root)}
        for header, var in (("Git-Protocol", "GIT_PROTOCOL"), ("Content-Encoding", "HTTP_CONTENT_ENCODING")):
            if self.headers.get(header):
                env[var] = self.headers[header]
        proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        if proc.returncode != 0 and status == 200:
            status, payload = 500, proc.stderr
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def tarball(self, bare: Path, prefix: str, ref: str) -> None:
        """GET /repos/OWNER/NAME/tarball/REF as GitHub answers it (after its redirect): a .tar.gz with one
        top-level folder OWNER-NAME-SHORTSHA (actions/checkout's download where a job has no git)."""
        self.body()
        sha = subprocess.run(["git", "-C", bare, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                             capture_output=True, text=True).stdout.strip()
        if not sha:
            return self.error(404, "Not Found")
        data = subprocess.run(["git", "-C", bare, "archive", "--format=tar.gz", f"--prefix={prefix}-{sha[:7]}/", sha],
                              capture_output=True, check=True).stdout
        with self.fake.lock:
            self.fake.git_requests.append(("GET", f"tarball {prefix} {sha}"))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
        hold.connection = self.connection
        data = bytearray()
        try:
            while len(data) < hold.length and not hold.stop.is_set():
                chunk = self.rfile.read1(min(HOLD_CHUNK, hold.length - len(data)))
                if not chunk:
                    break
                data += chunk
                hold.received = len(data)
                hold.reached.set()
                hold.stop.wait(HOLD_PACE)
        except OSError as exc:  # a reset is the end of the connection: a cut like any other
            if not isinstance(exc, ConnectionError):
                hold.outcome = f"error: {exc!r}"
        if len(data) < hold.length:  # the "starter" stays, as GitHub keeps it
            hold.outcome = hold.outcome or "cut"
            return self.hang_up()
        hold.outcome = "complete"
        with self.fake.lock:
            starter |= {"state": "uploaded", "size": len(data), "_data": bytes(data)}
            self.send(201, self.fake.asset_json(starter, hold.repo))


class LocalGitHub(_server.FakeGitHub):
    def __init__(self, git_root: Path | None = None) -> None:
        super().__init__(token=TOKEN)
        self.holds: dict[tuple[str, str], Hold] = {}
        self.git_root = git_root  # OWNER/NAME.git bare repositories (host_repository)
        self.git_requests: list[tuple[str, str]] = []  # method, git path or "tarball ..."

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

    @property
    def server_url(self) -> str:
        """GITHUB_SERVER_URL: this server by the name the job containers know it by (service.py's hosts
        file); a `.localhost` name, so that the actions' toolkit does not take it for GitHub Enterprise."""
        return f"http://{SERVER_NAME}:{self.server.server_address[1]}"

    def host_repository(self, repo: str, clone: Path, branch: str = "main") -> str:
        """Serve `clone`'s `branch` as repository `repo` (a bare copy), and point the clone's `origin` at it,
        as a clone of GitHub's would (act copies the clone, remote and all, into the jobs). Returns its URL."""
        assert self.git_root is not None, "LocalGitHub(git_root=...) serves repositories"
        bare = self.git_root / f"{repo}.git"
        shutil.rmtree(bare, ignore_errors=True)
        bare.parent.mkdir(parents=True, exist_ok=True)
        for argv in (["git", "init", "--quiet", "--bare", "-b", branch, bare],
                     ["git", "-C", bare, "config", "uploadpack.allowAnySHA1InWant", "true"],  # fetch by SHA
                     ["git", "-C", bare, "config", "http.receivepack", "true"],
                     ["git", "-C", clone, "push", "--quiet", bare, f"HEAD:refs/heads/{branch}"]):
            subprocess.run(argv, check=True, capture_output=True)
        url = f"{self.server_url}/{repo}"  # what actions/checkout would set; resolved in the containers
        subprocess.run(["git", "-C", clone, "remote", "set-url", "origin", url], check=True)
        return url

    def git_head(self, repo: str, branch: str = "main") -> str:
        """The commit `branch` of a served repository points at now (after a push)."""
        assert self.git_root is not None
        return subprocess.run(["git", "-C", self.git_root / f"{repo}.git", "rev-parse", f"refs/heads/{branch}"],
                              capture_output=True, text=True, check=True).stdout.strip()

    def git_diff_names(self, repo: str, old: str, new: str) -> list[str]:
        assert self.git_root is not None
        return subprocess.run(["git", "-C", self.git_root / f"{repo}.git", "diff", "--name-only", old, new],
                              capture_output=True, text=True, check=True).stdout.split()

    def git_show(self, repo: str, commit: str, path: str) -> str:
        assert self.git_root is not None
        return subprocess.run(["git", "-C", self.git_root / f"{repo}.git", "show", f"{commit}:{path}"],
                              capture_output=True, text=True, check=True).stdout

    def tags(self, repo: str) -> dict[str, dict]:
        return {r["tag_name"]: r for r in self.releases.get(repo, [])}

    def uploaded(self, release: dict) -> dict[str, str]:
        """asset name -> state, for every asset of a release."""
        return {a["name"]: a["state"] for a in self.assets[release["id"]]}
