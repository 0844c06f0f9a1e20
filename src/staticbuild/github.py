"""A small GitHub REST client: token, explicit timeouts, retries with backoff, rate limits, pagination.

Only what `check` and `release` need. Every failure ends as a `GitHubError` that names the
request, so the CLI can print it as one line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from .errors import GitHubError, StaticbuildError

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # per network operation: a stalled upload fails, a long one does not
MAX_PAGES = 100  # 10,000 items at per_page=100: far beyond any repository here, and a loop can never run away


class RateLimited(GitHubError):
    """The API refused for now (primary or secondary rate limit) and the wait is longer than allowed."""


@dataclass(frozen=True)
class Target:
    """Which GitHub to talk to, as GitHub Actions describes it; command-line options win over the environment."""

    api_url: str
    repo: str | None
    token: str | None = field(default=None, repr=False)  # never in a log line or traceback

    @classmethod
    def from_env(cls, api_url: str | None = None, repo: str | None = None,
                 environ: Mapping[str, str] = os.environ) -> Target:
        return cls(api_url=(api_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
                   repo=repo or environ.get("GITHUB_REPOSITORY") or None,
                   token=environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN") or None)

    def need_repo(self) -> str:
        if not self.repo or self.repo.count("/") != 1 or not all(self.repo.split("/")):
            shown = f" (got '{self.repo}')" if self.repo else ""
            raise StaticbuildError(f"no GitHub repository{shown}: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
        return self.repo

    def need_token(self) -> str:
        if not self.token:
            raise StaticbuildError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token that may write releases")
        return self.token


class TokenAuth(httpx.Auth):
    """The token goes only to the API's own origin (and github.com's upload host), never to a URL that a
    response pointed elsewhere: a `Link: next` page, an `upload_url`, a redirect to storage."""

    def __init__(self, token: str, api_url: str):
        api = httpx.URL(api_url)
        self.token = token
        self.origins = {(api.scheme, api.host, api.port)}
        if api.host == "api.github.com":
            self.origins.add(("https", "uploads.github.com", None))

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if (request.url.scheme, request.url.host, request.url.port) in self.origins:
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def _describe(resp: httpx.Response) -> str:
    """`404 Not Found: <GitHub's message>` (plus the codes of validation errors, e.g. already_exists)."""
    text = f"{resp.status_code} {resp.reason_phrase}".strip()
    try:
        body = resp.json()
    except ValueError:
        return text
    if isinstance(body, dict):
        if body.get("message"):
            text += f": {body['message']}"
        codes = [e.get("code") for e in body.get("errors") or [] if isinstance(e, dict) and e.get("code")]
        if codes:
            text += f" ({', '.join(codes)})"
    return text


class GitHub:
    """One connection pool to one API. `sleep` and `clock` are parameters so tests need not wait."""

    def __init__(self, target: Target, *, max_wait: float = 300.0, retries: int = 4, backoff: float = 1.0,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None):
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "staticbuild"}
        auth = TokenAuth(target.token, target.api_url) if target.token else None
        self.http = httpx.Client(base_url=target.api_url + "/", headers=headers, auth=auth, timeout=TIMEOUT)
        self.target, self.max_wait, self.retries, self.backoff = target, max_wait, retries, backoff
        self.sleep, self.clock = sleep or time.sleep, clock or time.time  # looked up now: tests patch them

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_exc) -> None:
        self.http.close()

    def request(self, method: str, url: str, *, retry: bool = True,
                content: Callable[[], Iterable[bytes]] | None = None, **kwargs: Any) -> httpx.Response:
        """Send one request; raise GitHubError unless the answer is 2xx.

        5xx answers and network errors are retried with exponential backoff when `retry` is
        set (callers turn it off where a repeat could do something twice). Rate-limit answers
        are waited out when the wait is at most `max_wait`, otherwise reported. `content`
        makes a fresh body for each attempt (a streamed file is read again from the start).
        """
        url = url.lstrip("/") if not url.startswith(("http://", "https://")) else url
        what = f"{method} {url if '://' in url else '/' + url}"
        attempt = waits = 0
        while True:
            try:
                resp = self.http.request(method, url, content=content() if content else None, **kwargs)
            except httpx.TransportError as exc:
                if not retry or attempt >= self.retries:
                    raise GitHubError(f"GitHub API {what}: {type(exc).__name__}: {str(exc) or 'connection failed'}",
                                      status=None) from None
                self.pause(attempt)
                attempt += 1
                continue
            if resp.is_success or resp.is_redirect:  # redirects are never followed with the token: see download()
                return resp
            wait = self._rate_limit_wait(resp)
            if wait is not None:
                self._wait_out(what, resp, wait, waits)
                waits += 1
                continue
            if resp.status_code >= 500 and retry and attempt < self.retries:
                self.pause(attempt)
                attempt += 1
                continue
            tries = f" after {attempt + 1} attempts" if attempt else ""
            raise GitHubError(f"GitHub API {what}: {_describe(resp)}{tries}", status=resp.status_code,
                              body=_json_or_none(resp))

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.request(method, url, **kwargs).json()

    def paginate(self, url: str, params: Mapping[str, Any] | None = None, per_page: int = 100) -> Iterator[Any]:
        """Every item of a list endpoint, following the Link header's rel="next" (which keeps the query)."""
        next_url: str | None = url
        query: dict[str, Any] | None = {**(params or {}), "per_page": per_page}
        for _ in range(MAX_PAGES):
            resp = self.request("GET", next_url, params=query)
            yield from resp.json()
            next_url, query = resp.links.get("next", {}).get("url"), None
            if not next_url:
                return
        raise GitHubError(f"GitHub API GET {url}: more than {MAX_PAGES} pages", status=None)

    def download(self, url: str) -> bytes:
        """A release asset's bytes. The API redirects to storage, whose pre-signed URL must get no token
        (storage refuses a second credential), whatever host it is on."""
        resp = self.request("GET", url, headers={"Accept": "application/octet-stream"})
        if not resp.is_redirect:
            return resp.content
        try:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=True, headers={"User-Agent": "staticbuild"}) as plain:
                stored = plain.get(resp.headers["location"])
        except httpx.TransportError as exc:
            raise GitHubError(f"downloading {url}: {type(exc).__name__}: {exc}", status=None) from None
        if not stored.is_success:
            raise GitHubError(f"downloading {url}: storage answered {_describe(stored)}", status=stored.status_code)
        return stored.content

    def pause(self, attempt: int) -> None:
        """Exponential backoff before the next attempt (0, 1, 2, ...)."""
        self.sleep(min(self.backoff * 2 ** attempt, 60.0))

    def _rate_limit_wait(self, resp: httpx.Response) -> float | None:
        """Seconds to wait if `resp` is a rate-limit answer, None if it is some other refusal."""
        if resp.status_code not in (403, 429):
            return None
        headers = resp.headers
        if headers.get("retry-after", "").isdigit():
            return float(headers["retry-after"])
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
            return max(0.0, int(headers["x-ratelimit-reset"]) - self.clock()) + 1  # the reset second itself
        message = str((_json_or_none(resp) or {}).get("message", "")).lower()
        if resp.status_code == 429 or "rate limit" in message:
            return 60.0  # GitHub's advice for a secondary limit that names no time
        return None  # a plain 403: no permission, which waiting does not change

    def _wait_out(self, what: str, resp: httpx.Response, wait: float, waits: int) -> None:
        hint = "" if self.target.token else "; a token (GITHUB_TOKEN) has a much higher limit"
        if waits >= 3:
            raise RateLimited(f"GitHub API {what}: still rate limited after {waits} waits ({_describe(resp)}){hint}",
                              status=resp.status_code)
        if wait > self.max_wait:
            at = datetime.fromtimestamp(self.clock() + wait, timezone.utc).strftime("%H:%M:%S UTC")
            raise RateLimited(f"GitHub API {what}: rate limited ({_describe(resp)}); it resets in {wait:.0f} s "
                              f"at {at}, beyond the {self.max_wait:.0f} s this run may wait (--max-wait){hint}",
                              status=resp.status_code)
        self.sleep(wait)


def _json_or_none(resp: httpx.Response) -> dict | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
