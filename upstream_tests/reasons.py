"""Why an *environment* failure fails on this machine: each one is named, from what it printed.

Rules are tried in order on the failure's output (both flavors' output is searched) and then
on its name; the first match names the reason. A failure no rule names shows up in the report
as "not named yet", which is a to-do, never an excuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    suite: str  # a suite name, or "" for any
    pattern: str  # regex searched in the output (and the test name)
    reason: str


KERNEL = ("this machine's kernel (a VM kernel without loadable modules) has no dummy, ipvlan, 802.1Q VLAN "
          "or VRF network drivers: `ip link add ... type dummy` answers \"Unknown device type\"")
RULES: tuple[Rule, ...] = (
    Rule("", r"Unknown device type", KERNEL),
    Rule("netavark", r"Netlink error: Not supported \(os error 95\)",
         "VLAN filtering on a bridge is not supported by this kernel (no 802.1Q support): EOPNOTSUPP"),
    Rule("netavark", r"firewall-cmd|firewalld",
         "firewalld and its D-Bus daemon are not installed (a system daemon that would change a shared "
         "machine's firewall; GitHub's Ubuntu runners do not have it either)"),
    Rule("", r"jq: error: syntax error, unexpected '\['",
         "the test uses jq 1.7 syntax (`.a.[0]`); Debian 12 has jq 1.6, and trixie's would upgrade libc"),
    Rule("netavark", r"/run/sysctl\.d/",
         "netavark writes /run/sysctl.d only where systemd runs (its sysctl.d drop-ins are for systemd-sysctl)"),
    Rule("netavark", r"config/firewall/networks/",
         "the firewall-reload state file is written for the netavark-firewalld-reload service, which "
         "needs systemd"),
    Rule("netavark", r"\[aardvark-dns\] <defunct>",
         "aardvark-dns exits at once under the test's default-drop nftables policy in a namespace "
         "without systemd-run (netavark starts it with systemd-run when systemd is PID 1)"),
    Rule("netavark", r"IO error: Permission denied \(os error 13\)",
         "the test points --aardvark-binary at a folder and expects \"Failed to find executable\"; "
         "as root without systemd netavark tries to execute it and gets EACCES"),
    Rule("", r"pinging container registry quay\.io: .*(i/o timeout|no such host|network is unreachable)",
         "the test reads one of upstream's real images on quay.io (libpod/alpine_labels, libpod/fedora:31, "
         "libpod/notmyarch, fedora/fedora, ...) whose labels, environment or platforms it checks; the local "
         "mirror carries only the images made here, and this machine has no route to quay.io"),
    Rule("crun", r"Device or resource busy: '/sys/fs/cgroup/freezer/frozen/'",
         "on a cgroup v1 host test_simple_delete freezes the container in a freezer cgroup of its own, and "
         "its clean-up (rmdir of that cgroup while the frozen task is still inside) fails with EBUSY, with "
         "both builds. The static build stops one step earlier: the test accepts only glibc's wording of "
         "EBUSY (\"Device or resource busy\"; musl's is \"Resource busy\"), see crun's known entry"),
    Rule("crun", r"open `/proc/1/ns/net`: Permission denied",
         "the test joins PID 1's network namespace; in this sandbox PID 1 is the VM's agent, whose "
         "namespaces root cannot open"),
)


def reason_for(suite: str, name: str, *outputs: str) -> str:
    text = "\n".join(outputs)
    for rule in RULES:
        if rule.suite and rule.suite != suite.split("-")[0]:
            continue
        if re.search(rule.pattern, text, re.M) or re.search(rule.pattern, name):
            return rule.reason
    return ""
