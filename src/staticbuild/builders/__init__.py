"""How to build: shared logic that recipes configure with a few options."""

from .autotools import Autotools
from .cargo import Cargo
from .go import DepPatch, Go
from .make import Make
from .meson import Meson
from .musl import MuslLibc, MuslSysroot
from .script import Script

__all__ = ["Autotools", "Cargo", "DepPatch", "Go", "Make", "Meson", "MuslLibc", "MuslSysroot", "Script"]
