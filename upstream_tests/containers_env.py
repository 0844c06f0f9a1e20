"""The world podman's, buildah's and skopeo's suites run in: the same for both runs except for
the binaries (and, for the dynamic run, the /etc/containers a distribution package provides).

* state: graphroot, networks, volumes under the work folder (one per suite and flavor); the
  run root on the namespace's fresh /run; nothing in /var/lib/containers or /etc/containers.
* a test-only CONTAINERS_CONF_OVERRIDE: cgroups disabled (this machine's cgroup2 tree holds no
  controllers: they are all bound to v1) and default ulimits within this process's hard limits
  (no CAP_SYS_RESOURCE here), as tests/test_e2e.py does; network configs kept in the state folder.
* registries.conf: the bundle's plus mirrors of quay.io and docker.io on the local mirror
  (registry.py), which runs inside the suite's network namespace; in /etc/containers for both
  runs (see etc_layer) and in CONTAINERS_REGISTRIES_CONF.
* rootless: a throw-away user with subordinate ids, HOME in the work folder, XDG_RUNTIME_DIR the
  /run/user/UID a login gives (in the namespace's fresh /run; see isolation.py for why it is short).
"""

from __future__ import annotations

import os
import pwd
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from staticbuild.bundle import CONFIG_DIR

from . import dynamic, registry
from .common import Settings, UpstreamTestError, clean_env, need, say
from .isolation import Isolation, runtime_dir

MIRROR_PORT = 60333  # where buildah's suite expects its CI registry cache (tests/registries-cached.conf)
ROOTLESS_USER = "sbupstream"
SUBID_RANGE = "400000-465535"


@dataclass
class Env:
    isolation: Isolation
    env: dict[str, str]
    state: Path
    user: str | None = None


def override(state: Path, rootful: bool) -> Path:
    nofile, nproc = (resource.getrlimit(r)[1] for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC))
    path = state / "test-override.conf"
    text = (f'[containers]\ncgroups = "disabled"\n'
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n')
    if rootful:
        text += f'\n[network]\nnetwork_config_dir = "{state}/networks"\n'
    path.write_text(text)
    path.chmod(0o644)
    return path


def storage_conf(state: Path) -> Path:
    """The bundle's storage.conf with the graphroot in the state folder (rootful runs)."""
    bundled = (CONFIG_DIR / "storage.conf").read_text()
    extra = f'graphroot = "{state}/storage"\nrunroot = "/run/containers/storage"\n'
    text = bundled.replace("[storage]\n", "[storage]\n" + extra, 1)
    if extra not in text:
        raise UpstreamTestError("the bundle's storage.conf has no [storage] table")
    path = state / "storage.conf"
    path.write_text(text)
    path.chmod(0o644)
    return path


def etc_layer(settings: Settings, flavor: str, registries: Path) -> Path:
    """What the namespace sees in /etc/containers.

    Both runs: registries.conf with the mirrors (skopeo 1.19's image library does not read
    CONTAINERS_REGISTRIES_CONF; with it in /etc the static skopeo takes it over its bundled one,
    as it would a machine's). The dynamic run also gets the rest of the bundle's config files, as a
    distribution's containers-common puts them there (the static bundle reads its own).
    """
    layer = settings.work / "etc-layers" / settings.arch / flavor
    target = layer / "containers"
    if layer.exists():
        shutil.rmtree(layer)
    target.mkdir(parents=True)
    if flavor == "dynamic":
        for name in ("containers.conf", "policy.json", "storage.conf"):
            shutil.copy2(CONFIG_DIR / name, target / name)
    shutil.copy2(registries, target / "registries.conf")
    for p in (layer, target, *target.iterdir()):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return layer


_mirror_conf: dict[Path, Path] = {}


def mirror_storage(settings: Settings) -> Path:
    """The mirror's registry storage, filled once (a registry started for it, then stopped)."""
    root = settings.work / "mirror"
    if root in _mirror_conf:
        return _mirror_conf[root]
    reg, _ = registry.mirror(settings)
    reg.stop()
    conf = root / "registries.conf"
    conf.write_text(registry.registries_conf(f"127.0.0.1:{MIRROR_PORT}"))
    conf.chmod(0o644)
    serve = root / "serve.yml"
    serve.write_text((root / "config.yml").read_text().replace(reg.address, f"127.0.0.1:{MIRROR_PORT}"))
    _mirror_conf[root] = conf
    return conf


def make(settings: Settings, suite: str, flavor: str, static_bins: list[Path], dynamic_set: tuple[str, ...],
         rootless: bool = False, cgroup: str = "v2") -> Env:
    need("unshare", "curl", "openssl", "htpasswd", "jq", "socat")
    state = settings.dir(suite, settings.arch, flavor)
    registries = mirror_storage(settings)
    reg_exe = registry.binary(settings)
    overlays: list[tuple[str, tuple[Path, ...]]] = []
    path = [str(p) for p in static_bins]
    if flavor == "dynamic":
        overlays.append(("/usr/local", (dynamic.ensure(settings, *dynamic_set),)))
    overlays.append(("/etc", (etc_layer(settings, flavor, registries),)))
    env = clean_env(CONTAINERS_REGISTRIES_CONF=str(registries),
                    PATH=":".join([*path, "/usr/local/bin", "/usr/local/sbin", str(shims(settings)), "/usr/sbin",
                                   "/usr/bin", "/sbin", "/bin"]))
    user, runtime_dir_of = None, None
    if rootless:
        user, home = rootless_user(settings, suite, flavor)
        tmp = home / "tmp"
        entry = pwd.getpwnam(user)
        runtime_dir_of = (entry.pw_uid, entry.pw_gid)
        env |= {"HOME": str(home), "USER": user, "LOGNAME": user, "XDG_RUNTIME_DIR": runtime_dir(entry.pw_uid),
                "CONTAINERS_CONF_OVERRIDE": str(override(state, rootful=False))}
    else:
        tmp = state / "tmp"
        env |= {"CONTAINERS_CONF_OVERRIDE": str(override(state, rootful=True)),
                "CONTAINERS_STORAGE_CONF": str(storage_conf(state))}
    # bats takes BATS_TMPDIR from TMPDIR: the suites' scratch folders (and podman's image cache) stay here
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    env |= {"TMPDIR": str(tmp), "BATS_TMPDIR": str(tmp)}
    static_root = settings.work / "static"
    emulated = tuple(sorted({static_root / b.relative_to(static_root).parts[0] / b.relative_to(static_root).parts[1]
                             for b in static_bins if b.is_relative_to(static_root)})
                     ) if settings.arch != dynamic.host_arch() else ()
    isolation = Isolation(cgroup=cgroup, overlays=tuple(overlays), fresh_run=True, runtime_dir_of=runtime_dir_of,
                          devices_0666=rootless,
                          read_only=emulated,
                          network=True,
                          services=(f"{reg_exe} serve {settings.work / 'mirror' / 'serve.yml'} "
                                    f">>{settings.work / 'mirror' / 'serve.log'} 2>&1",),
                          ready=(f"curl -sf http://127.0.0.1:{MIRROR_PORT}/v2/ >/dev/null",))
    return Env(isolation, env, state, user)


OPENSSL_SHIM = """#!/bin/sh
# upstream_tests: podman's suite (gen-tls) passes `openssl req -quiet`, an OpenSSL 3.2 option;
# Debian 12 has OpenSSL 3.0. The same certificates are made without it.
for a; do shift; [ "$a" = -quiet ] || set -- "$@" "$a"; done
exec /usr/bin/openssl "$@"
"""


def shims(settings: Settings) -> Path:
    """Small stand-ins for host tools that are older here than upstream's CI expects (listed in the docs)."""
    folder = settings.dir("testdeps", "shims")
    (folder / "openssl").write_text(OPENSSL_SHIM)
    (folder / "openssl").chmod(0o755)
    return folder


def rootless_user(settings: Settings, suite: str, flavor: str) -> tuple[str, Path]:
    """The suite's unprivileged user (created once, with subordinate ids) and a fresh HOME for this run."""
    need("useradd", "newuidmap", "newgidmap", "setpriv")
    try:
        pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh",
                        ROOTLESS_USER], check=True)
        subprocess.run(["usermod", "--add-subuids", SUBID_RANGE, "--add-subgids", SUBID_RANGE, ROOTLESS_USER],
                       check=True)
        say(f"created the user {ROOTLESS_USER} (subordinate ids {SUBID_RANGE}); `python -m upstream_tests "
            "cleanup` removes it")
    entry = pwd.getpwnam(ROOTLESS_USER)
    home = settings.work / suite / settings.arch / flavor / "home"
    if home.exists():
        kill_user_processes()
        subprocess.run(["setpriv", "--reuid", ROOTLESS_USER, "--regid", ROOTLESS_USER, "--clear-groups",
                        "chmod", "-R", "u+rwX", str(home)], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    # the passwd entry names this HOME, as a real user's does: podman's --userns=keep-id takes the
    # container user's home from it (a 030-run test mounts $HOME and expects it there)
    if entry.pw_dir != str(home):
        kill_user_processes()
        subprocess.run(["usermod", "--home", str(home), ROOTLESS_USER], check=True, capture_output=True)
    # every folder above HOME must be enterable by the user
    for parent in home.parents:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    return ROOTLESS_USER, home


def kill_user_processes() -> None:
    """Rootless podman leaves a pause process holding its user namespace: end the user's processes."""
    for _ in range(50):
        if subprocess.run(["pkill", "-KILL", "-u", ROOTLESS_USER], capture_output=True).returncode == 1:
            return
        time.sleep(0.1)


def remove_user() -> None:
    try:
        pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        return
    kill_user_processes()
    subprocess.run(["userdel", ROOTLESS_USER], check=True)
