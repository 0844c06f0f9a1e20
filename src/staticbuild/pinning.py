"""Turn a recipe's upstream templates into lock entries whose digests were checked here."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceError, StaticbuildError, ToolMissingError
from .fetch import NotAvailable, download, sha256_of
from .lock import Lock, Pin, PinnedSource
from .mirrors import DebianArchive, fetch_crate, fetch_gomod
from .recipe import Recipe, Upstream


@dataclass(frozen=True)
class Resolution:
    upstream: Upstream
    source: PinnedSource | None
    note: str
    epoch: int = 0


def template_vars(version: str) -> dict[str, str]:
    return {"version": version, "version_compact": version.replace("_", "")}


def _hash_download(fetch: Callable[[Path], None]) -> str:
    with tempfile.TemporaryDirectory(prefix="staticbuild-pin-") as tmp:
        path = Path(tmp) / "file"
        fetch(path)
        return sha256_of(path)


def resolve(upstream: Upstream, version: str, debian: DebianArchive) -> Resolution:
    names = template_vars(version)
    try:
        if upstream.debian:
            package, template = upstream.debian
            filename = template.format(**names)
            digests = {f.sha256 for f in debian.find(package, filename)}
            if not digests:
                return Resolution(upstream, None, f"{filename} is not in apt's deb-src indexes")
            if len(digests) > 1:
                raise StaticbuildError(f"{filename} has different digests in different suites: {sorted(digests)}")
            return Resolution(upstream, PinnedSource(f"debian:{package}/{filename}", digests.pop(), upstream.subdir),
                              "digest from apt's signed Sources index")
        if upstream.gomod:
            holder: list = []
            digest = _hash_download(lambda p: holder.append(fetch_gomod(upstream.gomod, f"v{version}", p)))
            module = holder[0]
            # The zip's single top folder is the module path's first element; the rest leads to the tree.
            first, _, rest = upstream.gomod.partition("/")
            subdir = f"{rest}@v{version}" if rest else ""
            note = "checksum database and zip digest" if module.in_sumdb else "zip digest only (not in the checksum database)"
            source = PinnedSource(f"gomod:{upstream.gomod}@v{version}", digest, subdir, digest_only=not module.in_sumdb)
            return Resolution(upstream, source, note, module.epoch)
        if upstream.crate:
            crate, crate_version = upstream.crate[0], upstream.crate[1].format(**names)
            digest = _hash_download(lambda p: fetch_crate(crate, crate_version, p))
            return Resolution(upstream, PinnedSource(f"crate:{crate}@{crate_version}", digest, upstream.subdir),
                              "checksum verified by cargo")
        assert upstream.url
        url = upstream.url.format(**names)
        digest = _hash_download(lambda p: download(url, p))
        return Resolution(upstream, PinnedSource(url, digest, upstream.subdir), "downloaded and hashed now")
    except (NotAvailable, SourceError) as exc:
        return Resolution(upstream, None, str(exc))
    except ToolMissingError as exc:  # no go or cargo here: that location is skipped, the others still count
        return Resolution(upstream, None, f"skipped: {exc}")


def pin(recipe: Recipe, version: str, lock: Lock, debian: DebianArchive | None = None,
        save: bool = True) -> list[Resolution]:
    """Resolve every upstream location of `recipe` at `version` and store the result in the lock
    (and its file, unless `save` is off: several pins then go to the file at once).

    A location that cannot be checked now keeps the digest the lock already had for the
    same version (it was checked when it was written); one never checked is left out.
    """
    if not recipe.upstream:
        raise StaticbuildError(f"{recipe.name} has no source of its own (it is assembled from its dependencies)")
    debian = debian or DebianArchive()
    previous = lock.pins.get(recipe.name)
    kept = {s.url: s for s in previous.sources} if previous and previous.version == version else {}
    resolutions = [resolve(u, version, debian) for u in recipe.upstream]
    sources = []
    for r, upstream in zip(resolutions, recipe.upstream):
        if r.source:
            sources.append(r.source)
        elif upstream.url and upstream.url.format(**template_vars(version)) in kept:
            sources.append(kept[upstream.url.format(**template_vars(version))])
    if not sources:
        raise StaticbuildError(f"{recipe.name} {version}: no location could be checked: "
                               + "; ".join(r.note for r in resolutions))
    epoch = next((r.epoch for r in resolutions if r.epoch), previous.epoch if kept else 0)
    lock.pins[recipe.name] = Pin(version, tuple(sources), epoch)
    if save:
        lock.save()
    return resolutions
