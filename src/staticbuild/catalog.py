"""The recipe catalog: every module in staticbuild.recipes defines one `recipe`."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cached_property

from . import recipes as recipes_pkg
from .errors import StaticbuildError
from .recipe import Recipe


class Catalog:
    def __init__(self, recipes: list[Recipe]):
        self.recipes = {r.name: r for r in recipes}

    @classmethod
    def load(cls) -> Catalog:
        modules = [importlib.import_module(f"{recipes_pkg.__name__}.{m.name}")
                   for m in pkgutil.iter_modules(recipes_pkg.__path__)]
        return cls([m.recipe for m in modules])

    def get(self, name: str) -> Recipe:
        try:
            return self.recipes[name]
        except KeyError:
            known = ", ".join(sorted(self.recipes))
            raise StaticbuildError(f"unknown component '{name}' (known: {known})") from None

    @cached_property
    def by_binary(self) -> dict[str, Recipe]:
        """Installed binary file name -> the recipe that makes it (verify uses this to find the smoke test)."""
        return {b.rsplit("/", 1)[-1]: r for r in self.recipes.values() for b in r.all_binaries()}

    def __iter__(self):
        return iter(sorted(self.recipes.values(), key=lambda r: r.name))
