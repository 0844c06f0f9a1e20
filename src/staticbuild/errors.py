"""Errors that end a command with a clear one-line message and a non-zero exit."""


class StaticbuildError(Exception):
    """Base class: the CLI prints `error: <message>` and exits 1."""


class SourceError(StaticbuildError):
    """A source could not be fetched, or failed its digest check."""


class UnsafeArchiveError(StaticbuildError):
    """An archive holds a member that would land outside the extraction directory."""


class BuildError(StaticbuildError):
    """A build step failed; carries where to look."""

    def __init__(self, target: str, step: str, log: str, tail: str):
        super().__init__(target, step)
        self.target, self.step, self.log, self.tail = target, step, log, tail

    def __str__(self) -> str:
        return f"{self.target}: step '{self.step}' failed (full log: {self.log})"


class ToolMissingError(StaticbuildError):
    """A host tool the build needs is not installed."""


class GitHubError(StaticbuildError):
    """A GitHub API request failed; `status` is the HTTP status (None for a network error)."""

    def __init__(self, message: str, status: int | None = None, body: dict | None = None):
        super().__init__(message)
        self.status, self.body = status, body or {}

    @property
    def codes(self) -> set[str]:
        """The validation error codes of a 422 answer, e.g. {'already_exists'}."""
        return {e.get("code") for e in self.body.get("errors") or [] if isinstance(e, dict)} - {None}
