"""End to end: the released bundles, installed the way the README says, run real containers.

No registry: the image is a static busybox root file system imported with the bundle's own
podman. Machine quirks are handled here, never in the bundle's defaults (see
../shared/ENVIRONMENT.md and the README's Install section):
* a hybrid cgroup layout: podman sees a cgroup2 /sys/fs/cgroup in a private mount
  namespace, but that hierarchy has no controllers here (all are bound to v1), so
  containers run with `cgroups = "disabled"` from a test-only CONTAINERS_CONF_OVERRIDE;
* /dev/fuse and /dev/net/tun are 0600 here (distributions make them 0666): the rootless part
  binds 0666 nodes over them inside its private namespace;
* every scenario runs as one script in one namespace, since network namespaces podman
  mounts under /run/netns live in the mount namespace that created them.
"""

from __future__ import annotations

import re
import resource
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from fuse_helpers import DEVICE_FIX
from oci_helpers import BUSYBOX, write_layout
from podman_helpers import chown_tree, in_cgroup2_namespace, unprivileged_user, user_env

pytestmark = [pytest.mark.build, pytest.mark.full, pytest.mark.e2e]
IMAGE = "localhost/busybox:e2e"
CONTAINER_PACKAGES = ("podman", "buildah", "skopeo", "crun", "runc", "conmon", "netavark", "aardvark-dns",
                      "fuse-overlayfs", "catatonit", "passt", "containers-common", "golang-github-containers-common")


@pytest.fixture(scope="module")
def dist(e2e_dist) -> Path:
    return e2e_dist


@pytest.fixture(scope="module")
def rootfs(e2e_rootfs) -> Path:
    return e2e_rootfs


def readme_install_commands() -> list[str]:
    """The tar commands of the README's Install section, exactly as users read them."""
    section = (REPO / "README.md").read_text().split("## Install a bundle", 1)[1].split("\n## ", 1)[0]
    lines = [line for block in re.findall(r"```sh\n(.*?)```", section, re.S) for line in block.splitlines()]
    return [line.split("  #")[0].strip() for line in lines if " tar -C " in f" {line}"]


def install_like_the_readme(bundle: Path, usr_local: Path, home: Path) -> None:
    usr_local.mkdir(parents=True, exist_ok=True)  # both exist on a real machine
    home.mkdir(parents=True, exist_ok=True)
    for command in readme_install_commands():
        command = command.replace("podman-full-linux-amd64.tar.zst", str(bundle))
        command = command.replace("/usr/local", str(usr_local)).replace("~/.local", str(home / ".local"))
        subprocess.run(["sh", "-ec", command], check=True)


def override(tmp: Path, rootful: bool = True) -> Path:
    """cgroups off (this machine's cgroup2 tree has no controllers), ulimits within this process's hard
    limits (it cannot raise them: no CAP_SYS_RESOURCE), network configs kept out of /etc."""
    nofile, nproc = (resource.getrlimit(r)[1] for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC))
    path = tmp / "test-override.conf"
    path.write_text(f'[containers]\ncgroups = "disabled"\ndefault_ulimits = ["nofile={nofile}:{nofile}", '
                    f'"nproc={nproc}:{nproc}"]\n' + (f'\n[network]\nnetwork_config_dir = "{tmp}/networks"\n' if rootful else ""))
    path.chmod(0o644)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(script: str, **kwargs) -> subprocess.CompletedProcess:
    proc = in_cgroup2_namespace(["sh", "-ec", script], timeout=600, **kwargs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_the_host_has_no_container_packages():
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *CONTAINER_PACKAGES],
                               capture_output=True, text=True).stdout
    assert "install ok installed" not in installed, installed
    assert not Path("/etc/containers").exists() and not Path("/usr/share/containers").exists()
    assert [t for t in CONTAINER_PACKAGES if shutil.which(t)] == []


def test_readme_install_commands_cover_both_prefixes():
    commands = readme_install_commands()
    assert any("-C /usr/local --strip-components=1" in c for c in commands)
    assert any("-C ~/.local --strip-components=1" in c for c in commands)


def test_rootful_podman_runs_containers_networks_and_builds(dist, rootfs, tmp_path):
    prefix, home = tmp_path / "usr" / "local", tmp_path / "home"
    install_like_the_readme(dist / "podman-full-linux-amd64.tar.zst", prefix, home)
    storage = f"--root {tmp_path}/storage --runroot {tmp_path}/run"
    port = free_port()
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Containerfile").write_text(f"FROM {IMAGE}\nRUN echo built-by-podman > /built\n")
    script = f"""
p() {{ {prefix}/bin/podman {storage} "$@"; }}
net=e2e$$
trap 'p rm -af -t 0 >/dev/null 2>&1; p network rm -f $net >/dev/null 2>&1' EXIT
p import {rootfs} {IMAGE} >/dev/null
p run --rm {IMAGE} echo hello-from-a-container
echo "init: $(p run --rm --init {IMAGE} cat /proc/1/cmdline | tr '\\0' ' ')"
p network create $net >/dev/null
p run -d --name alpha --network $net -p 127.0.0.1:{port}:8080 {IMAGE} httpd -f -p 8080 -h /www >/dev/null
sleep 1
echo "by name: $(p run --rm --network $net {IMAGE} wget -qO- http://alpha:8080/)"
echo "from the host: $(curl -s http://127.0.0.1:{port}/)"
p build -q -t localhost/built:e2e {tmp_path}/ctx >/dev/null
echo "build: $(p run --rm localhost/built:e2e cat /built)"
echo "driver: $(p info --format '{{{{.Store.GraphDriverName}}}} {{{{.Host.OCIRuntime.Path}}}} {{{{.Host.Conmon.Path}}}}')"
echo "dns: $(p network inspect $net --format '{{{{.DNSEnabled}}}}')"
"""
    out = run_script(script, env={"HOME": str(home), "CONTAINERS_CONF_OVERRIDE": str(override(tmp_path))}).stdout
    assert "hello-from-a-container" in out
    assert "init: /run/podman-init -- cat /proc/1/cmdline" in out  # the bundled catatonit is PID 1
    assert "by name: hello-from-httpd" in out  # aardvark-dns resolved "alpha" on the bridge
    assert "from the host: hello-from-httpd" in out  # published port on loopback
    assert "build: built-by-podman" in out
    assert f"driver: overlay {prefix}/lib/podman/crun {prefix}/lib/podman/conmon" in out
    assert "dns: true" in out


def test_rootless_podman_with_pasta_and_fuse_overlayfs(dist, rootfs, tmp_path):
    with unprivileged_user() as (user, home):
        install_like_the_readme(dist / "podman-full-linux-amd64.tar.zst", tmp_path / "unused", home)
        shutil.copy(rootfs, home / "rootfs.tar")
        config = home / ".config" / "containers"
        config.mkdir(parents=True)
        # Native rootless overlay works on this kernel: ask for fuse-overlayfs explicitly.
        (config / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\n[storage.options.overlay]\nmount_program = "{home}/.local/bin/fuse-overlayfs"\n')
        shutil.copy(override(tmp_path, rootful=False), home / "override.conf")
        chown_tree(home, user)
        inner = f"""
p={home}/.local/bin/podman
$p import {home}/rootfs.tar {IMAGE} >/dev/null
echo "rootless: $($p run --rm {IMAGE} sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' \\n' ' ')"
echo "network: $($p run --rm --network pasta {IMAGE} ip -4 addr show eth0 | grep -c inet)"
echo "info: $($p info --format '{{{{.Host.Security.Rootless}}}} {{{{.Host.Pasta.Executable}}}} {{{{.Host.OCIRuntime.Path}}}}')"
echo "storage: $($p info --format '{{{{json .Store.GraphOptions}}}}')"
"""
        setpriv = f"setpriv --reuid {user} --regid {user} --init-groups env -i HOME={home} USER={user} " \
                  f"XDG_RUNTIME_DIR={home}/.run PATH=/usr/bin:/bin CONTAINERS_CONF_OVERRIDE={home}/override.conf"
        (home / "rootless.sh").write_text(inner)
        script = f"DEVDIR={tmp_path}/dev\nmkdir -p $DEVDIR\n{DEVICE_FIX}\n{setpriv} sh -e {home}/rootless.sh"
        out = run_script(script).stdout
    assert re.search(r"rootless: 0 0 \d+ 1 ", out), out  # root in the container, the user's uid outside
    assert "network: 1" in out  # pasta gave the container an IPv4 address
    assert f"info: true {home}/.local/lib/podman/pasta {home}/.local/lib/podman/crun" in out
    assert f"{home}/.local/bin/fuse-overlayfs" in out


def test_skopeo_and_buildah_bundles(dist, rootfs, tmp_path):
    skopeo = tmp_path / "skopeo"
    buildah = tmp_path / "buildah"
    for name, prefix in (("skopeo", skopeo), ("buildah", buildah)):
        prefix.mkdir()
        subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", dist / f"{name}-linux-amd64.tar.zst"],
                       check=True)
    layout = tmp_path / "layout"
    digests = write_layout(layout)
    store = f"--root {tmp_path}/storage --runroot {tmp_path}/run --storage-driver vfs"
    script = f"""
{skopeo}/bin/skopeo copy -q oci:{layout}:latest dir:{tmp_path}/copy
echo "copied: $(sha256sum {tmp_path}/copy/manifest.json | cut -d' ' -f1)"
b() {{ {buildah}/bin/buildah {store} "$@"; }}
c=$(b from scratch)
b copy "$c" {BUSYBOX} /bin/busybox >/dev/null
b config --cmd '/bin/busybox echo made-by-buildah' "$c"
b commit -q "$c" localhost/made:e2e >/dev/null
{skopeo}/bin/skopeo copy -q containers-storage:[vfs@{tmp_path}/storage+{tmp_path}/run]localhost/made:e2e dir:{tmp_path}/made
echo "committed: $(ls {tmp_path}/made | grep -c .)"
"""
    out = run_script(script, env={"HOME": str(tmp_path)}).stdout
    assert f"copied: {digests['manifest'].removeprefix('sha256:')}" in out
    assert int(out.split("committed: ")[1].split()[0]) >= 3  # manifest, config, layer


def test_rootless_skopeo_copies_into_the_users_container_storage(dist, tmp_path):
    """A user's containers-storage lives in a user namespace: skopeo must re-execute itself in it
    (containers/storage's C constructor, hence cgo). Found hanging by podman's rootless system tests."""
    with unprivileged_user() as (user, home):
        prefix = home / ".local"
        prefix.mkdir()
        subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", dist / "skopeo-linux-amd64.tar.zst"],
                       check=True)
        write_layout(home / "layout")
        config = home / ".config" / "containers"
        config.mkdir(parents=True)
        (config / "storage.conf").write_text('[storage]\ndriver = "vfs"\n')
        chown_tree(home, user)
        inner = f"""
s={prefix}/bin/skopeo
timeout 120 $s copy -q oci:{home}/layout:latest containers-storage:localhost/copied:e2e
echo "stored: $(timeout 120 $s inspect --format '{{{{.Digest}}}}' containers-storage:localhost/copied:e2e)"
"""
        (home / "skopeo.sh").write_text(inner)
        setpriv = f"setpriv --reuid {user} --regid {user} --init-groups env -i HOME={home} USER={user} " \
                  f"XDG_RUNTIME_DIR={home}/.run PATH=/usr/bin:/bin"
        out = run_script(f"{setpriv} sh -e {home}/skopeo.sh").stdout
    assert re.search(r"stored: sha256:[0-9a-f]{64}", out), out


def test_rootless_buildah_finds_the_bundles_helpers_and_config(dist, tmp_path):
    """buildah re-executes a sealed copy of itself in the user's namespace (its /proc/self/exe reads
    "/"): the copy must still find the bundle's netavark and etc/containers, passed down by the parent."""
    with unprivileged_user() as (user, home):
        prefix = home / ".local"
        prefix.mkdir()
        subprocess.run(["tar", "-C", prefix, "--strip-components=1", "-xf", dist / "buildah-linux-amd64.tar.zst"],
                       check=True)
        shutil.copy(BUSYBOX, home / "busybox")
        chown_tree(home, user)
        (home / "buildah.sh").write_text(f"""
b={prefix}/bin/buildah
c=$(timeout 120 $b from scratch)
timeout 120 $b copy "$c" {home}/busybox /bin/busybox
timeout 120 $b config --cmd '/bin/busybox echo made' "$c"
echo "committed: $(timeout 120 $b commit -q "$c" localhost/made:e2e)"
echo "images: $(timeout 120 $b images --format '{{{{.Name}}}}:{{{{.Tag}}}}')"
""")
        setpriv = f"setpriv --reuid {user} --regid {user} --init-groups env -i HOME={home} USER={user} " \
                  f"XDG_RUNTIME_DIR={home}/.run PATH=/usr/bin:/bin"
        out = run_script(f"{setpriv} sh -e {home}/buildah.sh").stdout
    assert re.search(r"committed: [0-9a-f]{64}", out), out
    assert "images: localhost/made:e2e" in out, out


def test_arm64_bundle_under_qemu(dist, tmp_path):
    prefix, skopeo = tmp_path / "podman", tmp_path / "skopeo"
    for name, dest in (("podman-full", prefix), ("skopeo", skopeo)):
        dest.mkdir()
        subprocess.run(["tar", "-C", dest, "--strip-components=1", "-xf", dist / f"{name}-linux-arm64.tar.zst"],
                       check=True)
    if Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").read_text().split()[0] != "enabled":
        pytest.fail("qemu-aarch64 is not registered in binfmt_misc: `make setup` registers it")
    layout = tmp_path / "layout"
    digests = write_layout(layout, arch="arm64")
    store = f"--root {tmp_path}/storage --runroot {tmp_path}/run --storage-driver vfs"
    # crun re-executes itself from a memfd, which qemu-user cannot follow; on a read-only
    # file system it skips that (as `staticbuild verify` does for foreign binaries).
    script = f"""
mount --bind {prefix} {prefix} && mount -o remount,bind,ro {prefix}
{prefix}/bin/podman --version
{prefix}/bin/podman {store} info --format 'arch={{{{.Host.Arch}}}} runtime={{{{.Host.OCIRuntime.Path}}}} conmon={{{{.Host.Conmon.Path}}}}'
{skopeo}/bin/skopeo inspect --format 'digest={{{{.Digest}}}} arch={{{{.Architecture}}}}' oci:{layout}:latest
"""
    out = run_script(script, env={"HOME": str(tmp_path)}).stdout
    assert "podman version 6.0.2" in out
    assert f"arch=arm64 runtime={prefix}/lib/podman/crun conmon={prefix}/lib/podman/conmon" in out
    assert f"digest={digests['manifest']} arch=arm64" in out
