"""End to end, what makes podman-full complete: quadlet and the units, the Docker API service,
netavark's nft lookup, fusermount3 and the completions, from bundles unpacked like a user does.

systemd is not PID 1 on these machines: generated units are checked with `systemd-analyze
verify`, and `podman quadlet install` talks to a bus daemon standing in for the user's systemd.
Prefixes are laid out in private mount namespaces (a tmpfs on /usr/local, a chroot for /),
so nothing is installed on the machine itself.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from podman_helpers import BASE_ENV, CGROUP2, chown_tree, in_cgroup2_namespace, unprivileged_user, usrmerged_root
from fuse_helpers import assert_setuid_story, mount_as_user
from test_e2e import IMAGE, override, run_script

pytestmark = [pytest.mark.build, pytest.mark.full, pytest.mark.e2e]
FULL = "podman-full-linux-amd64.tar.zst"
CONTAINER = "[Unit]\nDescription=web\n\n[Container]\nImage=localhost/busybox:e2e\nExec=httpd -f -p 8080 -h /www\n"


@pytest.fixture(scope="module")
def dist(e2e_dist) -> Path:
    return e2e_dist


@pytest.fixture(scope="module")
def rootfs(e2e_rootfs) -> Path:
    return e2e_rootfs


def exec_start(unit: str) -> str:
    found = re.search(r"^ExecStart=(\S+)", unit, re.M)
    assert found, unit
    return found[1]


# -- quadlet -------------------------------------------------------------------------------
def test_quadlet_under_usr_local_runs_the_bundles_podman(dist, tmp_path):
    """The generator link systemd runs, in a /usr/local holding only the bundle."""
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / "web.container").write_text(CONTAINER)
    out = tmp_path / "generated"
    script = f"""mount -t tmpfs tmpfs /usr/local
tar -C /usr/local --strip-components=1 -xf {dist / FULL}
mkdir -p {out} {tmp_path}/rt
export QUADLET_UNIT_DIRS={tmp_path}/units XDG_RUNTIME_DIR={tmp_path}/rt
/usr/local/lib/systemd/system-generators/podman-system-generator {out} {out} {out}
systemd-analyze verify --man=no {out}/web.service
echo "dryrun: $(/usr/local/lib/podman/quadlet -dryrun 2>/dev/null | grep ^ExecStart=)"
"""
    proc = subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    unit = (out / "web.service").read_text()
    assert exec_start(unit) == "/usr/local/bin/podman"
    assert "dryrun: ExecStart=/usr/local/bin/podman run --name systemd-%N" in proc.stdout
    assert "-d localhost/busybox:e2e httpd -f -p 8080 -h /www" in unit


def test_quadlet_unpacked_into_root_runs_usr_bin_podman(dist, tmp_path):
    """Unpacked into /: the generator resolves through /lib -> usr/lib, and podman is /usr/bin/podman."""
    root = usrmerged_root(tmp_path / "root")
    subprocess.run(["tar", "-C", root, "--strip-components=1", "-xf", dist / FULL], check=True)
    (root / "etc/containers/systemd").mkdir(parents=True)
    (root / "etc/containers/systemd/web.container").write_text(CONTAINER)
    (root / "out").mkdir()
    proc = subprocess.run(["chroot", root, "/lib/systemd/system-generators/podman-system-generator", "/out", "/out",
                           "/out"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    unit = (root / "out/web.service").read_text()
    assert exec_start(unit) == "/usr/bin/podman" and (root / "usr/bin/podman").is_file()
    # systemd-analyze checks executables on the running system: show it the root's /usr/bin
    # through an overlay in a private mount namespace.
    script = f"mount -t overlay overlay -o lowerdir={root}/usr/bin:/usr/bin /usr/bin\n" \
             f"exec systemd-analyze verify --man=no {root}/out/web.service"
    proc = subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_rootless_quadlet_in_home_local(dist, tmp_path):
    """~/.local: `quadlet -user` (systemd reads no user generators there), and podman finds its quadlet."""
    with unprivileged_user() as (user, home):
        (home / ".local").mkdir()
        subprocess.run(["tar", "-C", home / ".local", "--strip-components=1", "-xf", dist / FULL], check=True)
        (home / "web.container").write_text(CONTAINER)
        chown_tree(home, user)
        env = {"HOME": str(home), "USER": user, "XDG_RUNTIME_DIR": str(home / ".run")}
        podman = home / ".local/bin/podman"
        # podman reaches the user's systemd through $XDG_RUNTIME_DIR/systemd/private; a plain bus
        # daemon listening there lets `quadlet install` run (no reload: nothing would answer it).
        script = f"""mkdir -p {home}/.run/systemd
dbus-daemon --session --address=unix:path={home}/.run/systemd/private --nofork --nopidfile &
bus=$!
trap 'kill $bus' EXIT
while [ ! -S {home}/.run/systemd/private ]; do sleep 0.1; done
{podman} quadlet install --reload-systemd=false {home}/web.container
echo "printed: $({podman} quadlet print web.container | grep -c '^Exec=httpd')"
{home}/.local/lib/podman/quadlet -user -dryrun 2>/dev/null > {home}/dryrun.txt
mv {home}/.local/lib/podman/quadlet {home}/quadlet.away
{podman} quadlet install --reload-systemd=false --replace {home}/web.container 2>&1 || true
"""
        proc = in_cgroup2_namespace(["sh", "-ec", script], env=env, user=user, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        installed = home / ".config/containers/systemd/web.container"
        assert installed.read_text() == CONTAINER
        assert "printed: 1" in proc.stdout
        assert "Quadlet may not be installed" in proc.stdout  # without the bundle's quadlet, podman says so
        unit = (home / "dryrun.txt").read_text()
        assert exec_start(unit) == str(podman)
        generated = home / "web.service"
        generated.write_text(unit[unit.index("[Unit]"):] if "---" in unit else unit)
        proc = subprocess.run(["systemd-analyze", "--user", "verify", "--man=no", generated], capture_output=True,
                              text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)})
        assert proc.returncode == 0, proc.stderr


# -- the Docker API ------------------------------------------------------------------------
def wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {seconds}s")
        time.sleep(0.2)


def test_podman_system_service_answers_the_docker_api(dist, rootfs, tmp_path):
    docker = pytest.importorskip("docker")
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", dist / FULL], check=True)
    podman = f"{prefix}/bin/podman --root {tmp_path}/storage --runroot {tmp_path}/run"
    env = {"HOME": str(tmp_path), "CONTAINERS_CONF_OVERRIDE": str(override(tmp_path))}
    run_script(f"{podman} import {rootfs} {IMAGE} >/dev/null", env=env)
    sock = tmp_path / "api.sock"
    command = " ".join(f"{k}={v}" for k, v in (BASE_ENV | env).items())
    service = subprocess.Popen(
        ["unshare", "-m", "sh", "-ec", f"{CGROUP2}\nexec env -i {command} {podman} system service --time=0 unix://{sock}"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "service.log", "w"))
    try:
        wait_for(sock, 30)
        client = docker.DockerClient(base_url=f"unix://{sock}", timeout=120)
        assert client.ping() is True
        version = client.version()
        assert any(c["Name"] == "Podman Engine" and c["Version"] == "6.0.2" for c in version["Components"])
        output = client.containers.run(IMAGE, ["echo", "hello-through-the-docker-api"], remove=True)
        assert output == b"hello-through-the-docker-api\n"
        container = client.containers.create(IMAGE, ["sleep", "30"], name="api-sleeper")
        container.start()
        container.reload()
        assert container.status == "running"
        container.remove(force=True)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)


# -- netavark and nft ----------------------------------------------------------------------
HIDE_NFT = "touch {d}/no-nft && mount --bind {d}/no-nft /usr/sbin/nft"  # not executable: not found


def test_netavark_runs_the_nft_beside_it_when_the_host_has_none(dist, rootfs, tmp_path):
    """netavark runs `nft` from $PATH; podman puts netavark's own folder first. The host's nft is
    hidden; a logging wrapper of it beside netavark must serve a bridge network with DNS."""
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", dist / FULL], check=True)
    shutil.copy("/usr/sbin/nft", tmp_path / "nft.real")
    bundled = prefix / "lib/podman/nft"
    if bundled.exists():  # the bundle ships its own static nft: use it as it is
        pytest.fail("the bundle now ships nft: drop the stand-in below and assert on the bundled one")
    bundled.write_text(f"#!/bin/sh\necho \"$*\" >> {tmp_path}/nft.log\nexec {tmp_path}/nft.real \"$@\"\n")
    bundled.chmod(0o755)
    podman = f"{prefix}/bin/podman --root {tmp_path}/storage --runroot {tmp_path}/run"
    script = f"""{HIDE_NFT.format(d=tmp_path)}
if command -v nft; then echo "the host's nft is still visible"; exit 1; fi
p() {{ {podman} "$@"; }}
trap 'p rm -af -t 0 >/dev/null 2>&1; p network rm -f nftnet >/dev/null 2>&1' EXIT
p import {rootfs} {IMAGE} >/dev/null
p network create nftnet >/dev/null
p run -d --name web --network nftnet {IMAGE} httpd -f -p 8080 -h /www >/dev/null
sleep 1
echo "by name: $(p run --rm --network nftnet {IMAGE} wget -qO- http://web:8080/)"
mv {bundled} {tmp_path}/nft.away
p run --rm --network nftnet {IMAGE} true 2>&1 || echo "without nft: failed"
mv {tmp_path}/nft.away {bundled}  # the clean-up takes the network down through nft too
"""
    out = run_script(script, env={"HOME": str(tmp_path), "CONTAINERS_CONF_OVERRIDE": str(override(tmp_path))}).stdout
    assert "by name: hello-from-httpd" in out
    assert "without nft: failed" in out and 'unable to execute "nft"' in out  # the host's is really hidden
    calls = (tmp_path / "nft.log").read_text()
    assert "-j" in calls  # netavark's JSON interface went through the nft beside it


# -- fusermount3 ---------------------------------------------------------------------------
def test_fusermount3_ships_without_setuid_and_mounts_for_a_user_once_made_setuid(dist, tmp_path):
    """The bundle's fusermount3 as unpacked: not setuid, so an unprivileged mount is refused; the
    README's chown/chmod makes it work (see fuse_helpers)."""
    with unprivileged_user() as (user, home):
        prefix = home / ".local"
        prefix.mkdir()
        subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", dist / FULL], check=True)
        assert (prefix / "bin/fusermount3").stat().st_mode & 0o7777 == 0o755  # as the archive ships it
        out = mount_as_user(prefix / "bin", user, home, tmp_path)
    assert_setuid_story(out)


# -- completions ---------------------------------------------------------------------------
LOAD = """. /usr/share/bash-completion/bash_completion
for tool in podman buildah skopeo; do
  __load_completion $tool || echo "no completion for $tool"
  complete -p $tool
done
"""
# Outside an interactive completion bash refuses `compopt` (the scripts call it): that
# harness-only complaint is why loading and completing run apart.
COMPLETE = """. /usr/share/bash-completion/bash_completion
__load_completion podman && __load_completion skopeo
COMP_WORDS=(podman ru); COMP_CWORD=1; COMP_LINE="podman ru"; COMP_POINT=9
__start_podman podman ru podman 2>/dev/null
echo "podman ru: ${COMPREPLY[*]}"
COMP_WORDS=(skopeo ins); COMP_CWORD=1; COMP_LINE="skopeo ins"; COMP_POINT=10
__start_skopeo skopeo ins skopeo 2>/dev/null
echo "skopeo ins: ${COMPREPLY[*]}"
"""


@pytest.mark.parametrize("where", ["usr-local", "home-local"])
def test_bash_loads_the_completions_from_the_prefix(dist, tmp_path, where):
    """bash-completion's own loader finds them; completing asks the bundle's binaries."""
    if not Path("/usr/share/bash-completion/bash_completion").exists():
        pytest.fail("bash-completion is missing: `make setup` installs it")
    home = tmp_path / "home"
    home.mkdir()
    prefix = "/usr/local" if where == "usr-local" else f"{home}/.local"
    unpack = "\n".join(f"tar -C {prefix} --strip-components=1 -xf {dist / name}" for name in
                       (FULL, "buildah-linux-amd64.tar.zst", "skopeo-linux-amd64.tar.zst"))
    (tmp_path / "load.bash").write_text(LOAD)
    (tmp_path / "complete.bash").write_text(COMPLETE)
    bash = f"env -i HOME={home} PATH={prefix}/bin:/usr/bin:/bin bash --norc --noprofile"
    # podman completes through `podman __complete`, which needs the cgroup2 view (see podman_helpers)
    script = f"""{CGROUP2}
{'mount -t tmpfs tmpfs /usr/local' if where == 'usr-local' else f'mkdir -p {prefix}'}
{unpack}
{bash} {tmp_path}/load.bash 2>{tmp_path}/load.err
echo ---
{bash} {tmp_path}/complete.bash
"""
    proc = subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "load.err").read_text() == ""  # sourced without a single complaint
    loaded, completed = proc.stdout.split("---\n")
    for tool in ("podman", "buildah", "skopeo"):
        assert f"-F __start_{tool} {tool}" in loaded
    assert "no completion" not in loaded
    assert re.search(r"^podman ru: .*\brun\b", completed, re.M), completed
    assert re.search(r"^skopeo ins: inspect\b", completed, re.M), completed
