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
    Rule("netavark", r"Netlink error: Operation not supported \(os error 95\)",
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
         "fedora/fedora, ...) whose labels, environment or platforms it checks; the local "
         "mirror carries only the images made here, and this machine has no route to quay.io"),
    # podman: what the runs are given here (docs/UPSTREAM-TESTS.md, "The machine")
    Rule("podman", r"does not have a cgroup|not compatible with NoCgroups|without using Cgroups",
         "podman runs here with cgroups = \"disabled\" (podman 6 refuses this machine's hybrid v1 layout, "
         "and the cgroup2 mount it is given has no controllers): pause, commit of a running container, "
         "top and runtimes without NoCgroups support refuse"),
    Rule("podman", r"controller `pids` is not available under /sys/fs/cgroup",
         "the test sets a CONTAINERS_CONF_OVERRIDE of its own, which replaces the one that gives these runs "
         "cgroups = \"disabled\"; podman then asks crun for a pids cgroup on a cgroup2 mount without "
         "controllers (this machine's hybrid layout)"),
    Rule("podman", r"unable to find network with name or ID",
         "the test unsets CONTAINERS_CONF_OVERRIDE, the file that gives these runs their network config "
         "folder in the work area (and cgroups = \"disabled\"); the networks it creates are then not found "
         "again"),
    Rule("podman", r"setrlimit `RLIMIT_NOFILE`: Operation not permitted|wrong ulimit -n default value",
         "the test expects a RLIMIT_NOFILE hard limit of 1048576; this sandbox's is 20000 and root here "
         "lacks CAP_SYS_RESOURCE to raise it"),
    Rule("podman", r"Include journald in compilation path|:: podman run --log-driver( journald)?$",
         "conmon is built without journald support, in both builds (no systemd here, and the static "
         "bundle has no libsystemd): --log-driver journald fails"),
    Rule("podman", r"grep: /etc/containers/storage\.conf: No such file",
         "the test copies /etc/containers/storage.conf; these runs get their storage configuration "
         "through CONTAINERS_STORAGE_CONF so that nothing is written to /etc, and there is none there"),
    Rule("podman", r"--health-on-failure=stop|Container never entered 'stopping' state|"
                   r":: podman container rm doesn't affect stopping containers$",
         "the test waits for a failing healthcheck to stop the container; podman schedules healthchecks "
         "with systemd timers, and systemd is not PID 1 here"),
    Rule("", r"lookup [\w.-]+ on [\d.]+:53|raw\.githubusercontent\.com|wget: bad address|"
             r"nslookup google\.com|:: podman network create$",
         "the test fetches from the internet (a file on GitHub, an image from a public registry, a web "
         "page); this machine has no route there"),
    Rule("podman", r":: build with copy-from referencing the base image$",
         "the test expects more than 50 regular files in quay.io/libpod/alpine; the stand-in made here is "
         "one busybox binary whose applets are symlinks"),
    # buildah: the same machine, seen by buildah's tests
    Rule("buildah", r"controller `\w+` is not available under /sys/fs/cgroup|"
                    r"opening file `memory\.max` for writing",
         "the test sets a CPU or memory limit and reads it back from the container's cgroup; the cgroup2 "
         "mount these runs get (this machine's hybrid layout) has no controllers to enable"),
    Rule("buildah", r"reading manifest \S+ in 127\.0\.0\.1:\d+/|"
                    r"buildah-image-cache/\S+/manifest\.json: no such file or directory",
         "the test uses an image the local mirror does not have (ubuntu, quay.io/libpod/alpine_nginx, "
         "registry:volume_omitted, ...): only the images made here are there, and no public registry is "
         "reachable"),
    Rule("buildah", r"capset: Operation not permitted",
         "--cap-add=ALL asks for every capability the kernel knows; this sandbox's bounding set lacks some "
         "(CAP_SYS_RESOURCE among them), so the runtime's capset fails with EPERM"),
    Rule("buildah", r"tests/tools/Makefile\": no such file",
         "the test adds tests/tools/Makefile, which buildah's Go module zip (the pinned source) does not "
         "carry: tests/tools is a Go module of its own"),
    Rule("crun", r"Device or resource busy: '/sys/fs/cgroup/freezer/frozen/'",
         "on a cgroup v1 host test_simple_delete freezes the container in a freezer cgroup of its own, and "
         "its clean-up (rmdir of that cgroup while the frozen task is still inside) fails with EBUSY, with "
         "both builds (until musl's errors were worded as glibc's, the static build stopped one step earlier, "
         "on crun's \"Resource busy\")"),
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
