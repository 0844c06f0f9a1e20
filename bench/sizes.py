"""Sizes: every shipped binary (stripped), every bundle as .tar.zst (shipped) against the same tar as
.tar.gz and .tar.xz, with compression and decompression times of the command-line tools users have."""

from __future__ import annotations

from pathlib import Path

import zstandard

from staticbuild import bundle
from staticbuild.arch import Arch
from staticbuild.archive import open_tar

from .build import bundle_cache, package_args
from .common import BenchSettings, say, staticbuild, summary, timed

# Each format at the setting one would ship with; zstd -19 is what `staticbuild package` writes.
FORMATS = {
    "zst": (["zstd", "-q", "-19", "-T0", "-c"], ["zstd", "-q", "-d", "-c"]),
    "gz": (["gzip", "-9", "-n", "-c"], ["gzip", "-d", "-c"]),
    "xz": (["xz", "-9", "-T0", "-c"], ["xz", "-d", "-c"]),
}


def run(s: BenchSettings) -> dict:
    """Packages every bundle afresh from the build benchmark's caches, so the sizes are the current code's."""
    dist = s.work / "dist"
    bundles = {}
    for arch in Arch:
        for spec in bundle.BUNDLES:
            cache = bundle_cache(s, spec, arch)
            if not cache.is_dir():
                raise SystemExit(f"{cache} is missing: run `python -m bench build` first")
            timed(staticbuild(cache, *package_args(spec, arch, dist, "--no-build")))
            bundles[spec.name, arch.name] = dist / spec.filename(arch.name)
    return {"binaries": binary_sizes(bundles), "bundles": {f"{n}/{a}": compression(s, p) for (n, a), p in bundles.items()}}


def binary_sizes(bundles: dict[tuple[str, str], Path]) -> dict:
    """{arch: {binary: bytes}} over every bundle (a binary shipped in several bundles is the same file)."""
    sizes: dict[str, dict[str, int]] = {}
    for (_, arch), path in bundles.items():
        with open_tar(path) as tar:
            for member in tar.getmembers():
                if member.isfile() and "/etc/" not in member.name:
                    sizes.setdefault(arch, {})[Path(member.name).name] = member.size
    return sizes


def compression(s: BenchSettings, shipped: Path) -> dict:
    say(f"compression {shipped.name}")
    plain = s.work / "plain.tar"
    with shipped.open("rb") as src, plain.open("wb") as dst:
        zstandard.ZstdDecompressor().copy_stream(src, dst)
    result = {"tar": plain.stat().st_size, "shipped": shipped.stat().st_size}
    for fmt, (compress, decompress) in FORMATS.items():
        packed = s.work / f"plain.tar.{fmt}"
        with plain.open("rb") as fin, packed.open("wb") as fout:
            seconds = timed(compress, stdin=fin, stdout=fout)
        result[fmt] = {"bytes": packed.stat().st_size, "compress": round(seconds, 2),
                       "decompress": summary([timed([*decompress, packed]) for _ in range(s.runs)])}
        packed.unlink()
    plain.unlink()
    return result
