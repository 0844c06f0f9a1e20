"""A local stand-in for the parts of GitHub's REST API that `check` and `release` use, on a real socket.

It behaves as GitHub does where the client depends on it: Link-header pagination with
per_page, drafts visible only with a token, 404 for an unpublished tag, 422 already_exists
for a duplicate asset name or a published tag, uploads on a separate path taken from
`upload_url`, asset downloads redirected to storage, rate-limit and 5xx answers on demand,
and uploads that break halfway and leave a "starter" asset behind, as real ones can.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Fault:
    method: str
    pattern: str  # regular expression searched in the request path
    kind: str  # "status", "ratelimit" or "drop"
    times: int
    status: int = 502
    headers: dict[str, str] = field(default_factory=dict)


class FakeGitHub:
    def __init__(self, token: str | None = "test-token", digests: bool = True):
        self.token, self.digests = token, digests
        self.releases: dict[str, list[dict]] = {}  # repo -> releases, oldest first
        self.assets: dict[int, list[dict]] = {}  # release id -> assets (with their bytes under "_data")
        self.faults: list[Fault] = []
        self.broken_uploads: dict[str, int] = {}  # asset name -> uploads still to break
        self.lost_answers: set[str] = set()  # asset names whose next upload is stored, then the answer lost
        self.preempted: dict[str, bytes] = {}  # asset name -> what "another run" uploads just before this one
        self.cut_downloads: dict[str, int] = {}  # asset name -> downloads still to cut off halfway
        self.stalled_downloads: dict[str, float] = {}  # asset name -> seconds to hang halfway through a download
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path (no query), headers
        self.upload_names: list[str] = []  # the asset name of every upload attempt
        self.lock = threading.RLock()
        self.ids = iter(range(1000, 10**9))
        self.server: http.server.ThreadingHTTPServer | None = None

    # --- set-up -----------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.fake = self  # type: ignore[attr-defined]
        self.server.handle_error = lambda *a: None  # broken connections are on purpose here
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        assert self.server
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_release(self, repo: str, tag: str, *, draft: bool = False, prerelease: bool = False,
                    assets: dict[str, bytes] | None = None, name: str | None = None, body: str = "") -> dict:
        with self.lock:
            release = {"id": next(self.ids), "tag_name": tag, "name": name or tag, "body": body, "draft": draft,
                       "prerelease": prerelease, "target_commitish": "main", "_repo": repo,
                       "published_at": None if draft else "2026-11-01T00:00:00Z"}
            self.releases.setdefault(repo, []).append(release)
            self.assets[release["id"]] = []
            for asset_name, data in (assets or {}).items():
                self.add_asset(release["id"], asset_name, data)
            return release

    def add_asset(self, release_id: int, name: str, data: bytes, state: str = "uploaded") -> dict:
        with self.lock:
            asset = {"id": next(self.ids), "name": name, "state": state, "size": len(data) if state == "uploaded" else 0,
                     "content_type": "application/octet-stream", "_data": data, "_release": release_id}
            self.assets[release_id].append(asset)
            return asset

    def fail(self, method: str, pattern: str, status: int = 502, times: int = 1) -> None:
        self.faults.append(Fault(method, pattern, "status", times, status))

    def drop(self, method: str, pattern: str, times: int = 1) -> None:
        """Close the connection without an answer."""
        self.faults.append(Fault(method, pattern, "drop", times))

    def rate_limit(self, method: str, pattern: str, *, reset_in: int = 3600, times: int = 1,
                   retry_after: int | None = None, status: int = 403) -> None:
        headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-used": "60",
                   "x-ratelimit-reset": str(int(time.time()) + reset_in)}
        if retry_after is not None:
            headers = {"retry-after": str(retry_after)}
        self.faults.append(Fault(method, pattern, "ratelimit", times, status, headers))

    def break_upload(self, name: str, times: int = 1) -> None:
        """The upload's connection drops halfway, leaving a "starter" asset, as on GitHub."""
        self.broken_uploads[name] = times

    def lose_answer(self, name: str) -> None:
        """The next upload of `name` is stored, but the connection drops before the answer."""
        self.lost_answers.add(name)

    def preempt_upload(self, name: str, data: bytes) -> None:
        """Another run uploads `data` as `name` just before the next upload of it arrives (which gets a 422)."""
        self.preempted[name] = data

    def cut_download(self, name: str, times: int = 1) -> None:
        """Downloads of `name` from storage announce the full length, send half, and hang up."""
        self.cut_downloads[name] = times

    def stall_download(self, name: str, seconds: float) -> None:
        """Downloads of `name` send half, then wait `seconds` before the rest (a slow or hung connection)."""
        self.stalled_downloads[name] = seconds

    # --- views for assertions -------------------------------------------------------------

    def release(self, repo: str, tag: str) -> dict:
        return next(r for r in self.releases[repo] if r["tag_name"] == tag)

    def asset_data(self, release: dict) -> dict[str, bytes]:
        return {a["name"]: a["_data"] for a in self.assets[release["id"]] if a["state"] == "uploaded"}

    def calls(self, method: str, pattern: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and re.search(pattern, p))

    # --- JSON as GitHub shapes it -----------------------------------------------------------

    def asset_json(self, asset: dict, repo: str) -> dict:
        uploaded = asset["state"] == "uploaded"
        return {"id": asset["id"], "name": asset["name"], "label": None, "state": asset["state"],
                "size": asset["size"], "content_type": asset["content_type"],
                "url": f"{self.url}/repos/{repo}/releases/assets/{asset['id']}",
                "browser_download_url": f"{self.url}/{repo}/releases/download/x/{asset['name']}",
                "digest": f"sha256:{hashlib.sha256(asset['_data']).hexdigest()}" if self.digests and uploaded
                else None}

    def release_json(self, release: dict) -> dict:
        repo = release["_repo"]
        out = {k: v for k, v in release.items() if not k.startswith("_")}
        out |= {"url": f"{self.url}/repos/{repo}/releases/{release['id']}",
                "html_url": f"{self.url}/{repo}/releases/tag/{release['tag_name']}",
                "upload_url": f"{self.url}/uploads/repos/{repo}/releases/{release['id']}/assets{{?name,label}}",
                "assets": [self.asset_json(a, repo) for a in self.assets[release["id"]]]}
        return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    @property
    def fake(self) -> FakeGitHub:
        return self.server.fake  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def do_DELETE(self) -> None:
        self.route("DELETE")

    # --- plumbing ---------------------------------------------------------------------------

    def send(self, status: int, body=None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, message: str, errors: list[dict] | None = None) -> None:
        body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        if errors:
            body["errors"] = errors
        self.send(status, body)

    def hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def authorized(self) -> bool | None:
        """True for the right token, False for none, None (after a 401) for a wrong one."""
        given = self.headers.get("Authorization")
        if given is None or self.fake.token is None:
            return False
        if given in (f"Bearer {self.fake.token}", f"token {self.fake.token}"):
            return True
        self.error(401, "Bad credentials")
        return None

    def route(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        fake = self.fake
        with fake.lock:
            fake.requests.append((method, path, {k.lower(): v for k, v in self.headers.items()}))
            fault = next((f for f in fake.faults if f.times > 0 and f.method == method
                          and re.search(f.pattern, path)), None)
            if fault:
                fault.times -= 1
        is_upload = path.startswith("/uploads/")
        if fault:
            if fault.kind == "drop":
                return self.hang_up()
            self.body()  # read what was sent, so the connection stays usable
            if fault.kind == "ratelimit":
                return self.send(fault.status, {"message": "API rate limit exceeded for 127.0.0.1.",
                                                "documentation_url": "https://docs.github.com/rest"}, fault.headers)
            return self.error(fault.status, "Server Error" if fault.status >= 500 else "Fault")
        if path.startswith("/storage/"):  # where asset downloads are redirected: no token needed
            return self.storage(path)
        auth = self.authorized()
        if auth is None:
            return None
        if is_upload:
            return self.upload(path, query, auth)
        payload = self.body()
        if method != "GET" and not auth:
            return self.error(401, "Requires authentication")
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/releases(/.*)?", path)
        if not match:
            return self.error(404, "Not Found")
        repo, rest = match.group(1), match.group(2) or ""
        with fake.lock:
            return self.releases_api(method, repo, rest, query, payload, auth)

    # --- endpoints --------------------------------------------------------------------------

    def releases_api(self, method: str, repo: str, rest: str, query: dict, payload: bytes, auth: bool) -> None:
        fake = self.fake
        visible = [r for r in reversed(fake.releases.get(repo, [])) if auth or not r["draft"]]
        if method == "GET" and rest == "":
            return self.page([fake.release_json(r) for r in visible], query)
        if method == "POST" and rest == "":
            return self.create(repo, json.loads(payload or b"{}"))
        if (m := re.fullmatch(r"/tags/(.+)", rest)) and method == "GET":
            found = [r for r in visible if r["tag_name"] == m.group(1) and not r["draft"]]
            return self.send(200, fake.release_json(found[0])) if found else self.error(404, "Not Found")
        if (m := re.fullmatch(r"/assets/(\d+)", rest)):
            return self.asset_api(method, repo, int(m.group(1)))
        if (m := re.fullmatch(r"/(\d+)(/assets)?", rest)):
            release = next((r for r in visible if r["id"] == int(m.group(1))), None)
            if release is None:
                return self.error(404, "Not Found")
            if m.group(2) and method == "GET":
                return self.page([fake.asset_json(a, repo) for a in fake.assets[release["id"]]], query)
            if method == "GET":
                return self.send(200, fake.release_json(release))
            if method == "PATCH":
                return self.update(release, json.loads(payload or b"{}"))
        return self.error(404, "Not Found")

    def page(self, items: list, query: dict) -> None:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
            if 1 <= number <= last and (rel not in ("prev", "first") or page > 1) and (rel != "next" or page < last):
                url = f"http://{self.headers['Host']}{urlsplit(self.path).path}?" + urlencode(
                    {**query, "per_page": per_page, "page": number})
                links.append(f'<{url}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links and last > 1 else {}
        self.send(200, items[(page - 1) * per_page: page * per_page], headers)

    def create(self, repo: str, fields: dict) -> None:
        fake = self.fake
        tag = fields.get("tag_name")
        if not tag:
            return self.error(422, "Validation Failed", [{"resource": "Release", "code": "missing_field",
                                                           "field": "tag_name"}])
        if any(r["tag_name"] == tag and not r["draft"] for r in fake.releases.get(repo, [])):
            return self.error(422, "Validation Failed", [{"resource": "Release", "code": "already_exists",
                                                           "field": "tag_name"}])
        release = fake.add_release(repo, tag, draft=bool(fields.get("draft")), name=fields.get("name"))
        release |= {"body": fields.get("body", ""), "target_commitish": fields.get("target_commitish", "main"),
                    "_make_latest": fields.get("make_latest")}
        self.send(201, fake.release_json(release))

    def update(self, release: dict, fields: dict) -> None:
        fake = self.fake
        if fields.get("draft") is False and release["draft"]:
            if any(r["tag_name"] == release["tag_name"] and not r["draft"] for r in fake.releases[release["_repo"]]):
                return self.error(422, "Validation Failed", [{"resource": "Release", "code": "already_exists",
                                                               "field": "tag_name"}])
            release["published_at"] = "2026-11-22T00:00:00Z"
        for key in ("tag_name", "name", "body", "draft", "prerelease", "target_commitish"):
            if key in fields:
                release[key] = fields[key]
        if "make_latest" in fields:
            release["_make_latest"] = fields["make_latest"]
        self.send(200, fake.release_json(release))

    def asset_api(self, method: str, repo: str, asset_id: int) -> None:
        fake = self.fake
        asset = next((a for assets in fake.assets.values() for a in assets if a["id"] == asset_id), None)
        if asset is None:
            return self.error(404, "Not Found")
        if method == "DELETE":
            fake.assets[asset["_release"]].remove(asset)
            return self.send(204)
        if method == "GET" and self.headers.get("Accept") == "application/octet-stream":
            return self.send(302, None, {"Location": f"{fake.url}/storage/{asset_id}"})
        if method == "GET":
            return self.send(200, fake.asset_json(asset, repo))
        return self.error(404, "Not Found")

    def storage(self, path: str) -> None:
        if self.headers.get("Authorization"):
            return self.error(400, "storage refuses an Authorization header it did not issue")
        asset_id = int(path.rsplit("/", 1)[-1])
        with self.fake.lock:
            asset = next((a for assets in self.fake.assets.values() for a in assets if a["id"] == asset_id), None)
        if asset is None:
            return self.error(404, "Not Found")
        data = asset["_data"]
        with self.fake.lock:
            cut = self.fake.cut_downloads.get(asset["name"], 0) > 0
            if cut:
                self.fake.cut_downloads[asset["name"]] -= 1
            stall = self.fake.stalled_downloads.get(asset["name"], 0)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut or stall:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if cut:
                return self.hang_up()
            time.sleep(stall)
            data = data[len(data) // 2:]
        self.wfile.write(data)

    def upload(self, path: str, query: dict, auth: bool) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or -1)
        match = re.fullmatch(r"/uploads/repos/([^/]+/[^/]+)/releases/(\d+)/assets", path)
        name = query.get("name")
        if not auth:
            self.body()
            return self.error(401, "Requires authentication")
        if not match or length < 0 or not name or self.headers.get("Content-Type") != "application/octet-stream":
            self.body()
            return self.error(400, "Bad Content-Length, Content-Type or name")
        release_id = int(match.group(2))
        with fake.lock:
            fake.upload_names.append(name)
            if release_id not in fake.assets:
                self.body()
                return self.error(404, "Not Found")
            if name in fake.preempted:
                fake.add_asset(release_id, name, fake.preempted.pop(name))
            if any(a["name"] == name for a in fake.assets[release_id]):
                self.body()
                return self.error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "already_exists",
                                                               "field": "name"}])
            broken = fake.broken_uploads.get(name, 0) > 0
            if broken:
                fake.broken_uploads[name] -= 1
                fake.add_asset(release_id, name, b"", state="starter")
        if broken:
            self.rfile.read(length // 2)
            return self.hang_up()
        data = self.rfile.read(length)
        with fake.lock:
            asset = fake.add_asset(release_id, name, data)
            if name in fake.lost_answers:
                fake.lost_answers.discard(name)
                return self.hang_up()
            self.send(201, fake.asset_json(asset, match.group(1)))
