"""netavark and aardvark-dns: static musl Rust builds, used for real (the full suite: netavark is heavy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import dns.resolver
import pytest

from conftest import build_and_install, run_cli
from staticbuild.arch import Arch
from staticbuild.verify import run_binary

pytestmark = [pytest.mark.build, pytest.mark.full]
COMPONENTS = ("netavark", "aardvark-dns")
NETWORK = {  # netavark's own test file shape (test/testfiles/simplebridge.json), on a subnet of our own
    "container_id": "6ce776ea58b5", "container_name": "sbtest",
    "networks": {"sbnet": {"interface_name": "eth0", "static_ips": ["10.234.0.2"]}},
    "network_info": {"sbnet": {"dns_enabled": False, "driver": "bridge", "id": "5" * 64, "internal": False,
                               "ipv6_enabled": False, "name": "sbnet", "network_interface": "sbbr0",
                               "subnets": [{"gateway": "10.234.0.1", "subnet": "10.234.0.0/24"}]}},
}


@pytest.fixture(scope="module")
def network(settings, catalog, lock, tmp_path_factory):
    return build_and_install(settings, catalog, lock, COMPONENTS, tmp_path_factory.mktemp("network-out"))


def test_verify_passes_for_all_four_binaries(network):
    _, _, out = network
    proc = run_cli("verify", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    assert sorted((Path(r["path"]).name, r["arch"]) for r in reports) == sorted(
        (c, a.name) for c in COMPONENTS for a in Arch)
    assert all(r["linkage"] == "static" and r["allocator"] == "mimalloc (active)" for r in reports)


def test_aardvark_dns_answers_a_query_and_stops_cleanly(network, tmp_path):
    _, _, out = network
    config = tmp_path / "config"
    config.mkdir()
    (config / "sbnet").write_text("127.0.0.1\nabc123 10.234.0.5  web,web-alias\n")
    port = 15353
    started = subprocess.run([out / "amd64" / "bin" / "aardvark-dns", "--config", config, "-p", str(port), "run"],
                             capture_output=True, text=True, timeout=30)
    assert started.returncode == 0, started.stderr  # it daemonizes once it listens
    pid = int((config / "aardvark.pid").read_text())
    try:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 5
        assert [a.to_text() for a in resolver.resolve("web", "A")] == ["10.234.0.5"]
        assert [a.to_text() for a in resolver.resolve("web-alias", "A")] == ["10.234.0.5"]
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("nobody-by-this-name", "A")
    finally:
        os.kill(pid, 15)
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("aardvark-dns did not stop on SIGTERM")


def test_aardvark_dns_closes_inherited_descriptors_with_the_compat_close_range(network, tmp_path):
    """`aardvark-dns version` runs main()'s close_range(3, ~0) first; a stray fd must not survive."""
    _, _, out = network
    read_end, write_end = os.pipe()
    proc = subprocess.run([out / "amd64" / "bin" / "aardvark-dns", "version"], pass_fds=(write_end,),
                          capture_output=True, text=True, timeout=30)
    os.close(write_end)
    assert proc.returncode == 0 and "2.1.0" in proc.stdout
    assert os.read(read_end, 1) == b"", "the child held no copy of the pipe's write end"
    os.close(read_end)


@pytest.mark.parametrize("component", COMPONENTS)
def test_arm64_versions_run_under_qemu(network, component):
    _, _, out = network
    proc = run_binary(out / "arm64" / "bin" / component, Arch.arm64, ("--version",), {})
    assert proc.returncode == 0 and "2.1.0" in proc.stdout


def test_netavark_sets_up_and_tears_down_a_bridge(network, tmp_path):
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        pytest.skip("needs root, nft (nftables) and ip (iproute2)")
    _, _, out = network
    netavark = out / "amd64" / "bin" / "netavark"
    (tmp_path / "net.json").write_text(json.dumps(NETWORK))
    (tmp_path / "config").mkdir()
    # A private network namespace plays the host, as in netavark's own tests: nothing here
    # touches the machine's real interfaces or firewall.
    script = f"""
        mount -t tmpfs tmpfs /run
        ip link set lo up
        ip netns add ctr
        {netavark} --config {tmp_path}/config setup /run/netns/ctr < {tmp_path}/net.json > {tmp_path}/setup.json
        echo "container=$(ip netns exec ctr ip -4 -o addr show eth0 | awk '{{print $4}}')"
        echo "bridge=$(ip -4 -o addr show sbbr0 | awk '{{print $4}}')"
        echo "tables=$(nft list tables | tr '\\n' ' ')"
        {netavark} --config {tmp_path}/config teardown /run/netns/ctr < {tmp_path}/net.json
        ip link show sbbr0 >/dev/null 2>&1 && echo bridge-left || echo bridge-gone
    """
    proc = subprocess.run(["unshare", "-n", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert lines["container"] == "10.234.0.2/24" and lines["bridge"] == "10.234.0.1/24"
    assert "inet netavark" in lines["tables"], "netavark drove nftables through the host's nft"
    assert proc.stdout.strip().endswith("bridge-gone")
    setup = json.loads((tmp_path / "setup.json").read_text())
    assert setup["sbnet"]["interfaces"]["eth0"]["subnets"][0]["ipnet"] == "10.234.0.2/24"
