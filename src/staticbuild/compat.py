"""Which versions go together: what a recipe can build, and what a release line requires of others.

The unattended bump pins only what passes here, and `package` refuses a bundle that breaks a
requirement, so a lock update can never quietly ship podman with helpers it does not support.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .catalog import Catalog
from .recipe import Recipe


def natural_key(version: str) -> tuple:
    """Order for any version string: numbers numerically, words after ("1.10" > "1.9", dates as dates)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|[a-z]+", version.lower()))


def major(version: str) -> str:
    return re.split(r"[._-]", version, maxsplit=1)[0]


def in_range(version: str, at_least: str, below: str) -> bool:
    return natural_key(at_least) <= natural_key(version) < natural_key(below)


def beyond_limit(recipe: Recipe, version: str) -> str | None:
    """Why the recipe cannot build `version`, or None when it can."""
    if recipe.limit and natural_key(version) >= natural_key(recipe.limit.below):
        return f"{recipe.name} {version}: {recipe.limit.reason}"
    return None


@dataclass(frozen=True)
class Unmet:
    owner: str  # the component whose requirement is broken
    other: str | None  # the component it requires something of (None: the owner's line is not recorded)
    message: str


def unmet_needs(catalog: Catalog, versions: Mapping[str, str]) -> list[Unmet]:
    """Every requirement that these component versions break."""
    problems = []
    for name, version in sorted(versions.items()):
        recipe = catalog.recipes.get(name)
        if recipe is None or not recipe.needs:
            continue
        line = next((n for n in recipe.needs if n.line == major(version)), None)
        if line is None:
            known = ", ".join(f"{name} {n.line}.x" for n in recipe.needs)
            problems.append(Unmet(name, None, f"{name} {version}: its requirements are not recorded (known: {known}); "
                                  f"read its release notes and add them to recipes/{name.replace('-', '_')}.py"))
            continue
        for other, at_least, below in line.components:
            have = versions.get(other)
            if have is not None and not in_range(have, at_least, below):
                problems.append(Unmet(name, other, f"{name} {version} needs {other} >= {at_least}, < {below}, "
                                                   f"not {have}"))
    return problems


def refusals(catalog: Catalog, pinned: Mapping[str, str], proposals: Mapping[str, str]) -> dict[str, str]:
    """Which proposed versions must not be pinned, and why: beyond a recipe's limit, or breaking (or lacking)
    a requirement. The rest can go into the lock together."""
    refused = {n: why for n, v in proposals.items() if n in catalog.recipes and (why := beyond_limit(catalog.get(n), v))}
    while True:
        versions = dict(pinned) | {n: v for n, v in proposals.items() if n not in refused}
        new = {}
        for problem in unmet_needs(catalog, versions):
            culprit = problem.other if problem.other in proposals and problem.other not in refused else problem.owner
            if culprit in proposals and culprit not in refused:
                new.setdefault(culprit, problem.message)
        if not new:
            return refused
        refused |= new
