"""podman's systemd units and quadlet's generator links, laid out as systemd reads them under a prefix.

Under /usr/local and / systemd reads units from PREFIX/lib/systemd/{system,user} and runs
generators from PREFIX/lib/systemd/{system,user}-generators. The units are upstream's
contrib/systemd files from the pinned module zip, written as upstream's `make install.systemd`
writes them, except for the podman path: a bundle cannot know its prefix when it is packaged,
so `@@PODMAN@@` becomes the bare name `podman`, which systemd resolves through its fixed
search path (/usr/local/bin, /usr/bin, /bin and the sbin folders): exactly the prefixes whose
lib/systemd it reads, so a unit runs the podman unpacked beside it.
"""

from __future__ import annotations

from .archive import REGULAR, Entry, symlink

CONTRIB = "contrib/systemd"
PODMAN_PLACEHOLDER = "@@PODMAN@@"
PODMAN_IN_UNITS = "podman"
# What upstream's install.systemd installs for both the system and the user manager.
UNITS = ("podman.socket", "podman.service", "podman-restart.service", "podman-auto-update.service",
         "podman-auto-update.timer", "podman-clean-transient.service", "podman-kube@.service")
USER_ONLY = ("podman-user-wait-network-online.service",)  # quadlet's user units wait on it
# Generator name -> quadlet; quadlet runs in user mode when its name contains "user".
GENERATORS = {"system-generators/podman-system-generator": "../../podman/quadlet",
              "user-generators/podman-user-generator": "../../podman/quadlet"}


def render(template: str) -> str:
    return template.replace(PODMAN_PLACEHOLDER, PODMAN_IN_UNITS)


def user_variant(name: str, text: str) -> str:
    """As upstream's Makefile: the user manager cannot see boot-complete.target, so drop the ordering."""
    if name != "podman-clean-transient.service":
        return text
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(("Requires=", "After=")))


def unit_files(contrib: dict[str, bytes]) -> dict[str, str]:
    """Path under lib/systemd -> unit text, from the files of contrib/systemd (system/, user/)."""
    def template(folder: str, name: str) -> str:
        for candidate in (f"{folder}/{name}.in", f"{folder}/{name}"):
            if candidate in contrib:
                return contrib[candidate].decode()
        raise KeyError(f"podman's {CONTRIB}/{folder} has no {name}")
    units = {}
    for name in UNITS:
        text = render(template("system", name))
        units[f"system/{name}"] = text
        units[f"user/{name}"] = user_variant(name, text)
    for name in USER_ONLY:
        units[f"user/{name}"] = render(template("user", name))
    return units


def entries(top: str, contrib: dict[str, bytes]) -> list[Entry]:
    """The unit files and the two generator links, for a bundle whose quadlet is lib/podman/quadlet."""
    files = [Entry(f"{top}/lib/systemd/{path}", text.encode(), REGULAR) for path, text in unit_files(contrib).items()]
    links = [symlink(f"{top}/lib/systemd/{name}", target) for name, target in GENERATORS.items()]
    return files + links
