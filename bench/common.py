"""What every benchmark shares: where results go, how a command is timed, how runs are summarised."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


@dataclass(frozen=True)
class BenchSettings:
    downloads_from: Path | None  # a staticbuild cache whose downloads are reused (never written to)
    work: Path  # scratch space: the seed, fresh caches, bundles, variant builds
    runs: int  # repetitions of every cheap measurement (cold builds run once)
    results: Path  # the dated JSON file this run writes into

    @property
    def seed(self) -> Path:
        """Every download the benchmarks need (prefetch.py); fresh caches start as links to it."""
        return self.work / "seed"


def today_results() -> Path:
    return RESULTS / f"{datetime.date.today().isoformat()}.json"


def latest_results(results: Path = RESULTS) -> tuple[dict, dict[str, str]]:
    """Each section from the newest results file that has it (sections are rerun alone on other days),
    and the file each section came from. `machine` is the newest file's; `durations` merge per section."""
    files = sorted(results.glob("*.json"))
    if not files:
        raise SystemExit("no benchmark results yet: run `make bench`")
    merged: dict = {}
    origin: dict[str, str] = {}
    for file in files:
        for section, data in load(file).items():
            if section == "durations":
                merged.setdefault(section, {}).update(data)
                continue
            merged[section] = data
            origin[section] = file.name
    return merged, origin


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save(path: Path, section: str, data: object) -> None:
    """Merge one section into the results file (written whole, atomically), so sections rerun alone."""
    results = load(path) | {"machine": machine(), section: data}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def machine() -> dict:
    def first_line(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    mem = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {
        "cpus": os.cpu_count(),
        "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), "?"),
        "memory_gib": round(int(mem) / 2**20, 1),
        "kernel": platform.release(),
        "gcc": first_line("gcc", "--version"),
        "go": first_line("go", "version"),
        "rustc": first_line("/usr/bin/rustc", "--version"),
        "commit": first_line("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
    }


def summary(samples: Sequence[float]) -> dict:
    """Median and spread (min..max) of repeated runs, with the raw samples kept."""
    return {"median": round(statistics.median(samples), 3), "min": round(min(samples), 3),
            "max": round(max(samples), 3), "runs": len(samples), "samples": [round(s, 3) for s in samples]}


def timed(argv: Sequence[str | Path], log: Path | None = None, stdin=None, stdout=None, **kwargs) -> float:
    """Run a command to completion (failing loudly) and return its wall time in seconds.

    Output goes to `log` (or nowhere) unless `stdout` is given.
    """
    started = time.monotonic()
    with (log.open("a") if log else open(os.devnull, "w")) as out:
        proc = subprocess.run([str(a) for a in argv], stdin=stdin, stdout=stdout or out, stderr=out, **kwargs)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({proc.returncode}): {' '.join(map(str, argv))}"
                         + (f"; see {log}" if log else ""))
    return time.monotonic() - started


def staticbuild(cache: Path, *args: str | Path) -> list[str]:
    return [sys.executable, "-m", "staticbuild", "--cache", str(cache), *map(str, args)]


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


DOWNLOADS = ("sources", "shared/go-mod")  # what a staticbuild cache has downloaded, as opposed to built


def link_downloads(src_cache: Path, dst_cache: Path) -> None:
    """Hard-link src's downloads into dst, keeping what dst has (files are never modified in place)."""
    for part in DOWNLOADS:
        src = src_cache / part
        for folder, dirs, files in os.walk(src):
            target = dst_cache / part / Path(folder).relative_to(src)
            target.mkdir(parents=True, exist_ok=True)
            for name in files:
                if not (target / name).exists():
                    os.link(Path(folder) / name, target / name)


def fresh_cache(seed: Path, cache: Path) -> Path:
    """An empty build cache that already has the downloads, so a cold build measures building."""
    remove_tree(cache)
    cache.mkdir(parents=True)
    link_downloads(seed, cache)
    return cache


def remove_tree(path: Path) -> None:
    """rm -rf that also handles Go's read-only module cache (only folders are made writable: files are
    hard links shared with the seed cache)."""
    if path.exists():
        subprocess.run(["find", path, "-type", "d", "!", "-perm", "-u+w", "-exec", "chmod", "u+w", "{}", "+"],
                       check=True)
        shutil.rmtree(path)
