"""The upstream-test runner's own logic, on recorded outputs: TAP parsing, classification, the
report, the gate's result file, bats filters, crun's skip reasons. Fast; no suite runs here
(`make upstream-tests` runs the real ones)."""

from __future__ import annotations

import gzip
import io
import json
import pwd
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))  # upstream_tests/ is a top-level package beside src/, like bench/

from upstream_tests import bats, classify, images, reasons, report, results, tap  # noqa: E402
from upstream_tests.common import Settings, UpstreamTestError  # noqa: E402
from upstream_tests.results import Case, Run, Unit  # noqa: E402
from upstream_tests.suites.buildah import helpers_told_where  # noqa: E402
from upstream_tests.suites.crun import all_tests, skip_conditions  # noqa: E402

# Recorded with Debian's bats 1.8.2 (`bats --tap`) and podman 6.0.2's helpers (the "[030] " prefix).
BATS_OUTPUT = """1..5
ok 1 [030] podman run - basic tests
ok 2 [030] podman run --memory # skip cgroups are disabled on this machine
not ok 3 [030] podman run --init
# (from function `die' in file test/system/helpers.bash, line 874,
#  in test file test/system/030-run.bats, line 101)
#   `die "exit code is $status; expected 0"' failed
# #/vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv
# #| FAIL: exit code is 126; expected 0
ok 4 [030] podman run --userns=keep-id # skip (not applicable as root)
not ok 5 [030] podman run - systemd
# (in test file test/system/030-run.bats, line 200)
#   `run_podman run --systemd=always' failed
"""
# Recorded from crun 1.21's tests_utils.py: stderr comes before the result line.
CRUN_OUTPUT = """1..3
ok 1 - start
b'cannot destroy subsystem `memory`: Resource busy\\n'
not ok 2 - delete
ok 3 - sd-notify #SKIP
"""


def test_bats_tap_statuses_reasons_and_failure_output():
    parsed = tap.parse(BATS_OUTPUT, prefix_strip=r"^[\[|]\d{3}[\]|] ")
    assert parsed.planned == 5 and not parsed.truncated
    assert [(c.description, c.status) for c in parsed.cases] == [
        ("podman run - basic tests", "pass"), ("podman run --memory", "skip"), ("podman run --init", "fail"),
        ("podman run --userns=keep-id", "skip"), ("podman run - systemd", "fail")]
    assert parsed.cases[1].reason == "cgroups are disabled on this machine"
    assert parsed.cases[3].reason == "not applicable as root"
    assert "FAIL: exit code is 126" in parsed.cases[2].output
    assert "systemd=always" in parsed.cases[4].output and "126" not in parsed.cases[4].output


def test_crun_tap_takes_the_output_before_the_result():
    parsed = tap.parse(CRUN_OUTPUT, diag_before=True)
    assert [c.status for c in parsed.cases] == ["pass", "fail", "skip"]
    assert "Resource busy" in parsed.cases[1].output
    assert parsed.cases[0].output == "" and parsed.cases[2].output == ""


def test_a_runner_that_dies_is_truncated():
    parsed = tap.parse("1..4\nok 1 a\nnot ok 2 b\n")
    assert parsed.truncated and len(parsed.cases) == 2


def make_run(flavor: str, statuses: dict[str, str], wall: float = 10.0, retried: tuple[str, ...] = ()) -> Run:
    cases = [Case(f"f.bats :: {name}", status, reason="no systemd" if status == "skip" else "",
                  output="boom" if status == "fail" else "", retried=name in retried)
             for name, status in statuses.items()]
    return Run("podman", "6.0.2", flavor, "amd64", units={"f.bats": Unit("f.bats", wall, cases)},
               planned=["f.bats"])


def test_classification_environment_ours_unclassified_flaky_and_skips():
    static = make_run("static", {"a": "pass", "b": "fail", "c": "fail", "d": "fail", "e": "skip", "f": "fail",
                                 "g": "pass"}, retried=("g",))
    dynamic = make_run("dynamic", {"a": "fail", "b": "fail", "c": "pass", "e": "skip", "f": "skip", "g": "pass"})
    s = classify.classify(static, dynamic, known={"f.bats :: f": "explained in the docs"})
    verdicts = {v.name.split(" :: ")[1]: v.verdict for v in s.verdicts}
    assert verdicts == {"b": "environment", "c": "ours", "d": "unclassified", "f": "ours"}
    assert (s.tests, s.passed, s.environment, s.ours, s.ours_explained, s.skipped, s.flaky) == (7, 2, 1, 3, 1, 1, 1)
    assert s.dynamic_only == ["f.bats :: a"]
    assert s.skip_reasons == {"no systemd": 1}


def test_without_a_dynamic_run_every_failure_is_unclassified():
    s = classify.classify(make_run("static", {"a": "fail", "b": "pass"}), None)
    assert [v.verdict for v in s.verdicts] == ["unclassified"] and s.ours == 1 and not s.complete


def settings_for(tmp_path: Path) -> Settings:
    return Settings(work=tmp_path / "work", cache=tmp_path / "cache", lock=REPO / "staticbuild.lock", arch="amd64",
                    results=tmp_path / "results")


def test_result_files_round_trip_and_a_damaged_one_is_an_error(tmp_path):
    runs = {"static": make_run("static", {"a": "pass", "b": "fail"}), "dynamic": make_run("dynamic", {"a": "pass"})}
    results.save(tmp_path, "amd64", "podman", runs)
    loaded = results.load(tmp_path, "amd64", "podman")
    assert loaded["static"].cases() == runs["static"].cases() and loaded["static"].complete
    results.path(tmp_path, "amd64", "podman").write_text('{"runs": {"static": {"suite": 1}}}')
    with pytest.raises(UpstreamTestError, match="not a result file"):
        results.load(tmp_path, "amd64", "podman")


def test_report_table_lists_counts_ours_environment_and_skip_reasons_once(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    static = make_run("static", {"a": "pass", "b": "fail", "c": "fail", "s1": "skip", "s2": "skip"}, wall=75)
    dynamic = make_run("dynamic", {"a": "pass", "b": "fail", "c": "pass", "s1": "skip", "s2": "skip"}, wall=61)
    results.save(settings.results, "amd64", "podman", {"static": static, "dynamic": dynamic})
    text = report.render(settings)
    row = next(line for line in text.splitlines() if line.startswith("| podman |"))
    assert row == "| podman | 6.0.2 | 5 | 1 | 1 | **1** | 2 | 1 min 15 s | 1 min 01 s |"
    assert "`f.bats :: c`: fails static only. Not explained yet." in text
    assert "f.bats :: b" in text.split("## Failures of this machine")[1]
    skips = text.split("## Skips, each reason once")[1]
    assert skips.count("no systemd") == 1 and "| no systemd | 2 | podman |" in skips


def test_bats_filter_matches_exactly_the_names_asked_for():
    names = ["f.bats :: podman run --memory=[4m] (a|b)", "f.bats :: plain name"]
    pattern = bats.only_filter(names)
    for name in names:  # bash's =~ is what bats uses
        test = name.split(" :: ")[1]
        assert subprocess.run(["bash", "-c", f'[[ "$1" =~ {pattern} ]]', "_", test]).returncode == 0
    assert subprocess.run(["bash", "-c", f'[[ "$1" =~ {pattern} ]]', "_", "podman run --memory=4 a"]).returncode == 1
    # a name that ends in a blank upstream (030-run.bats: "podman run no /etc/mtab ") is recorded stripped
    pattern = bats.only_filter(["030-run.bats :: podman run no /etc/mtab"])
    assert subprocess.run(["bash", "-c", f'[[ "$1" =~ {pattern} ]]', "_", "podman run no /etc/mtab "]).returncode == 0
    assert subprocess.run(["bash", "-c", f'[[ "$1" =~ {pattern} ]]', "_", "podman run no /etc/mtabs"]).returncode == 1


def test_bats_declared_tests_are_read_without_running(tmp_path):
    f = tmp_path / "x.bats"
    f.write_text('@test "one thing" {\n  true\n}\n\n@test "with \\"quotes\\"" {\n true\n}\n')
    assert bats.declared_tests(f) == ["one thing", 'with \\"quotes\\"']


CRUN_MODULE = '''
def test_a():
    if is_rootless():
        return 77
    return 0

def test_b():
    if 'SYSTEMD' not in get_crun_feature_string():
        return 77
    if os.getuid() != 0:
        return 77
    return 0

def test_c():
    return 0

all_tests = {"a-test": test_a, "b-test": test_b, "c-test": test_c}
'''


def test_crun_skip_reasons_come_from_the_guarding_condition(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text(CRUN_MODULE)
    assert list(all_tests(CRUN_MODULE)) == ["a-test", "b-test", "c-test"]
    reasons = skip_conditions(module)
    assert reasons["a-test"] == "skips when is_rootless()"
    assert reasons["b-test"] == "skips when 'SYSTEMD' not in get_crun_feature_string() or os.getuid() != 0"
    assert "c-test" not in reasons


def test_cli_bad_input_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "upstream_tests", "--work", tmp_path, "run", "--suite", "nosuch"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "unknown suite nosuch" in proc.stderr


def test_gate_result_file_counts_ours_and_not_explained_ones(tmp_path, monkeypatch):
    from upstream_tests import gate, runner

    static = make_run("static", {"a": "pass", "b": "fail", "c": "fail", "s": "skip"})
    dynamic = make_run("dynamic", {"b": "fail", "c": "pass"})

    class FakeSuite:  # the suite machinery is the real one above; only running bats is replaced
        name, component, gate, smoke = "podman", "podman", ("f.bats",), ()
        known = {}

    monkeypatch.setattr(gate, "all_suites", lambda: {"podman": FakeSuite()})
    monkeypatch.setattr(runner, "run_suite", lambda *a, **k: {"static": static})
    monkeypatch.setattr(gate, "compare", lambda settings, suite, st, failing: dynamic)
    monkeypatch.setattr(runner, "retry_candidates", lambda *a, **k: None)
    out = tmp_path / "gate.json"
    result = gate.run(settings_for(tmp_path), "podman", ["podman"], out)
    saved = json.loads(out.read_text())
    assert saved == result and saved["schema"] == 1 and saved["tool"] == "podman" and saved["version"] == "6.0.2"
    assert saved["totals"] == {"tests": 4, "passed": 1, "failed_environment": 1, "failed_ours": 1, "skipped": 1}
    assert saved["suites"][0]["ours_tests"] == ["f.bats :: c"]
    assert saved["suites"][0]["environment_tests"] == ["f.bats :: b"]


# Recorded with Debian's bats 1.8.2: a setup_suite.bash whose setup_suite fails.
SETUP_SUITE_FAILED = """1..2
not ok 1 setup_suite
# (from function `setup_suite' in test file setup_suite.bash, line 2)
#   `echo preparing; false' failed
# preparing
# bats warning: Executed 1 instead of expected 2 tests
"""


def test_a_failing_setup_suite_is_a_note_and_every_test_of_the_file_fails_unrun(tmp_path, monkeypatch):
    from upstream_tests.isolation import Isolation

    f = tmp_path / "x.bats"
    f.write_text('@test "one" {\n true\n}\n@test "two" {\n true\n}\n')
    monkeypatch.setattr(bats, "need", lambda *names: None)
    monkeypatch.setattr(bats, "run_captured", lambda argv, cwd, timeout: (SETUP_SUITE_FAILED, ""))
    unit = bats.run_file(f, "x.bats", cwd=tmp_path, env={}, isolation=Isolation())
    assert [(c.name, c.status) for c in unit.cases] == [("x.bats :: one", "fail"), ("x.bats :: two", "fail")]
    assert "setup_suite failed" in unit.note and "preparing" in unit.note
    assert "setup_suite" not in " ".join(c.name for c in unit.cases)


def test_the_gate_is_recorded_for_the_page_and_what_did_not_run_is_listed(tmp_path, monkeypatch):
    from upstream_tests import gate, runner

    static = make_run("static", {"a": "pass", "b": "fail", "s": "skip"})

    class FakeSuite:
        name, component, gate, smoke = "podman", "podman", ("f.bats",), ()
        known = {}

    monkeypatch.setattr(gate, "all_suites", lambda: {"podman": FakeSuite()})
    monkeypatch.setattr(runner, "run_suite", lambda *a, **k: {"static": static})
    monkeypatch.setattr(gate, "compare", lambda settings, suite, st, failing: make_run("dynamic", {"b": "fail"}))
    monkeypatch.setattr(runner, "retry_candidates", lambda *a, **k: None)
    settings = settings_for(tmp_path)
    gate.run(settings, "podman", ["podman"], tmp_path / "dist" / "gate.json")
    assert results.gate_records(settings.results)[0]["totals"]["failed_environment"] == 1
    results.save(settings.results, "amd64", "crun", {"static": make_run("static", {"a": "pass"})})
    text = report.render(settings)
    gate_part = text.split("## The release gate, as it last ran here")[1].split("\n## ")[0]
    assert "| podman 6.0.2 | amd64 | podman 6.0.2 | f | 3 | 1 | 1 | 0 | 1 | 10 s |" in gate_part
    not_run = text.split("## Not run")[1].split("\n## ")[0]
    assert "* crun (amd64, dynamic): not run" in not_run and "* buildah (amd64): not run" in not_run
    assert "* podman (arm64, smoke subset): not run\n" in not_run
    assert "* podman (amd64): not run; the release gate ran 1 of its units (see the gate section)" in not_run


def test_crun_result_glued_to_a_test_s_unterminated_stderr():
    # crun 1.21's test_mounts.py :: mount-idmapped-mounts-symlink writes "start" without a newline
    parsed = tap.parse("1..2\nstartok 1 - mount-idmapped-mounts-symlink\nboomnot ok 2 - other\n", diag_before=True)
    assert [(c.description, c.status) for c in parsed.cases] == [("mount-idmapped-mounts-symlink", "pass"),
                                                                  ("other", "fail")]
    assert parsed.cases[1].output == "boom" and not parsed.truncated
    assert tap.parse("1..1\nthe words ok 7 - are not a result\n", diag_before=True).cases == []


def test_the_gate_runs_the_whole_file_when_the_filter_misses_a_name(tmp_path):
    from upstream_tests import gate

    static = make_run("static", {"a": "pass", "$x - b": "fail"})
    static.units["f.bats"].cases[1].name = "f.bats :: nft - b"  # as TAP shows it, expanded
    calls = []

    class Suite:
        name = "netavark"

        def prepare(self, settings, flavor):
            return None

        def versions(self, prepared):
            return {}

        def run_unit(self, settings, prepared, unit, only=None):
            calls.append(only)
            cases = [] if only else [Case("f.bats :: a", "pass"), Case("f.bats :: nft - b", "fail")]
            return Unit(unit, 1.0, cases)

    dynamic = gate.compare(settings_for(tmp_path), Suite(), static, ["f.bats :: nft - b"])
    assert calls == [["f.bats :: nft - b"], None]
    assert [(c.name, c.status) for c in dynamic.units["f.bats"].cases] == [("f.bats :: nft - b", "fail")]


def test_environment_reasons_come_from_the_output_then_the_name_and_apply_to_their_suite_only():
    # lines as podman's suite printed them here (29 November, rootful and rootless runs)
    pids = "Error: OCI runtime error: crun: controller `pids` is not available under /sys/fs/cgroup/libpod_parent/x"
    assert "replaces the one" in reasons.reason_for("podman", "030-run.bats :: podman run defaultenv", pids)
    assert "replaces the one" in reasons.reason_for("podman-rootless", "030-run.bats :: x", "", pids)
    no_journald = "Error: conmon: Include journald in compilation path"
    assert "journald" in reasons.reason_for("podman", "x", no_journald)
    assert reasons.reason_for("buildah", "run.bats :: x", no_journald) == ""  # a podman rule, not buildah's
    # buildah's, as its suite printed them here (7 December)
    cpu = "crun creating container for [/bin/sh -c cut ...]: controller `cpu` is not available under /sys/fs/cgroup/b/x"
    assert "CPU or memory limit" in reasons.reason_for("buildah", "from.bats :: from cpu-period test", cpu)
    ubuntu = "Error: initializing source docker://ubuntu:latest: reading manifest latest in 127.0.0.1:60333/libpod/ubuntu"
    assert "mirror does not have" in reasons.reason_for("buildah", "add.bats :: add from image", ubuntu)
    assert "EPERM" in reasons.reason_for("buildah", "run.bats :: x", "creating container for [x]: capset: "
                                                                     "Operation not permitted")
    by_name = reasons.reason_for("podman", "030-run.bats :: podman run --log-driver", "4 test assertions failed")
    assert "journald" in by_name
    # netavark's, both builds alike since musl words errors as glibc (7 December)
    vlan = '{"error":"create bridge: Netlink error: Operation not supported (os error 95)"}'
    assert "802.1Q" in reasons.reason_for("netavark", "630-bridge-vlan.bats :: bridge - vlan create bridge", vlan)
    assert reasons.reason_for("podman", "030-run.bats :: something new", "exit code is 1; expected 0") == ""


def test_static_buildah_runs_give_the_ordinary_test_helpers_the_bundle_s_helpers_and_policy(tmp_path):
    tool = tmp_path / "copy-helper"
    tool.write_text('#!/bin/sh\necho "$CONTAINERS_HELPER_BINARY_DIR" "$@"\n')
    tool.chmod(0o755)
    settings = Settings(work=tmp_path / "work", cache=tmp_path, lock=tmp_path / "lock", arch="amd64", results=tmp_path)
    prefix = tmp_path / "bundle"
    wrapped = helpers_told_where(settings, {"copy": tool, "imgtype": tool}, prefix)
    copy = subprocess.run([wrapped["copy"], "dir:a", "dir:b"], capture_output=True, text=True, check=True).stdout
    assert copy.split() == [f"{prefix}/lib/podman", "--signature-policy", f"{prefix}/etc/containers/policy.json",
                            "dir:a", "dir:b"]
    imgtype = subprocess.run([wrapped["imgtype"], "x"], capture_output=True, text=True, check=True).stdout
    assert imgtype.split() == [f"{prefix}/lib/podman", "x"]


def test_the_registry_image_starts_as_the_real_one_with_its_config_or_an_explicit_entrypoint(tmp_path):
    """buildah's suite runs `/entrypoint.sh CONFIG` in the registry image, podman's the image's own
    entrypoint and command: both must reach `registry serve CONFIG` (here a stand-in registry that
    prints its arguments), and anything else is run as it is, as in docker.io's registry image."""
    image = images.registry_image(Path("/bin/echo"), Path("/bin/busybox"))
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-x", "-C", root], input=image.layers[0], check=True)

    def run_in_image(*argv: str) -> str:
        return subprocess.run(["chroot", root, *argv], capture_output=True, text=True, check=True).stdout.strip()

    config = image.config["Cmd"][0]
    assert run_in_image(*image.config["Entrypoint"], *image.config["Cmd"]) == f"serve {config}"
    assert run_in_image("/entrypoint.sh", config) == f"serve {config}"
    assert run_in_image("/entrypoint.sh", "garbage-collect", config) == f"garbage-collect {config}"
    assert run_in_image("/entrypoint.sh", "printf", "%s-%s", "a", "b") == "a-b"


def test_suites_start_with_default_signal_dispositions_whatever_the_caller_ignores(tmp_path):
    """`nohup make upstream-tests &` ignores SIGHUP and SIGINT; buildah's test server then ignored the
    `kill -HUP` that stops it and held bats' output open: copy.bats never ended."""
    from upstream_tests.common import run_captured
    saved = [signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGHUP, signal.SIGINT)]
    try:
        output, note = run_captured(["grep", "^SigIgn:", "/proc/self/status"], tmp_path, 30)
    finally:
        for sig, handler in zip((signal.SIGHUP, signal.SIGINT), saved):
            signal.signal(sig, handler)
    ignored = int(output.split()[1], 16)
    assert note == "" and ignored & 0b11 == 0  # bit 0: SIGHUP, bit 1: SIGINT


def test_the_alpine_and_busybox_stand_ins_are_two_images_with_their_own_files():
    """buildah's images tests pull both and expect two images (one ID each): same busybox, other files."""
    alpine = images.busybox_image(Path("/bin/busybox"), "quay.io/libpod/alpine:latest", alpine=True)
    box = images.busybox_image(Path("/bin/busybox"), "quay.io/libpod/busybox:latest")
    assert images.blobs(alpine)[0]["config"]["digest"] != images.blobs(box)[0]["config"]["digest"]
    assert "etc/apk/arch" in layer_files(alpine) and "etc/os-release" in layer_files(alpine)
    assert "etc/os-release" not in layer_files(box) and "bin/sh" in layer_files(box)


def layer_files(image: images.Image, layer: int = 0) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(image.layers[layer])) as tar:
        return set(tar.getnames())


def layer_file(image: images.Image, path: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(image.layers[0])) as tar:
        return tar.extractfile(path).read()


def test_the_test_image_has_upstream_s_two_layers_the_second_made_by_workdir():
    """070-build reads `image tree`'s line for the test image's second layer (upstream squashes two builds)."""
    image = images.testimage(Path("/bin/busybox"))
    manifest, parts = images.blobs(image)
    config = json.loads(parts[0][1])
    assert len(manifest["layers"]) == len(config["rootfs"]["diff_ids"]) == 2
    assert [h.get("empty_layer", False) for h in config["history"]] == [False, False, True, True, True]
    assert "home/podman/testimage-id" in layer_files(image) and layer_files(image, 1) == {"home", "home/podman"}


def test_alpine_is_a_manifest_list_with_each_arch_s_own_image():
    """buildah's from/pull --arch tests pull alpine for arm64 and s390x and read each one's /etc/apk/arch."""
    alpine = images.alpine_index({"amd64": Path("/bin/busybox"), "arm64": Path("/bin/true"), "s390x": Path("/bin/false")})
    listing, per_arch = images.index(alpine)
    assert listing["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    platforms = [entry["platform"]["architecture"] for entry in listing["manifests"]]
    assert platforms == ["amd64", "arm64", "s390x"]
    for entry, image, (manifest, parts) in zip(listing["manifests"], alpine.images, per_arch):
        body = images.manifest_bytes(manifest)
        assert entry["digest"] == images.digest(body) and entry["size"] == len(body)
        assert json.loads(parts[0][1])["architecture"] == image.arch == entry["platform"]["architecture"]
    assert [layer_file(image, "etc/apk/arch") for image in alpine.images] == [b"x86_64\n", b"aarch64\n", b"s390x\n"]
    assert layer_file(alpine.images[1], "bin/busybox") == Path("/bin/true").read_bytes()


def test_notmyarch_is_a_list_whose_only_image_is_for_amigaos_on_a_68000():
    """skopeo's inspect test expects `inspect` to refuse it on any real machine and `--raw` to show
    amigaos-1000-mc68000 (os, variant, arch), as skopeo's make-noarch-manifest made it."""
    listing, [(manifest, parts)] = images.index(images.notmyarch(b"#!/bin/sh\n"))
    assert [entry["platform"] for entry in listing["manifests"]] == [
        {"os": "amigaos", "variant": "1000", "architecture": "mc68000"}]
    config = json.loads(parts[0][1])
    assert (config["os"], config["variant"], config["architecture"]) == ("amigaos", "1000", "mc68000")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(parts[1][1]))) as tar:
        assert sorted(tar.getnames()) == ["README", "make-noarch-manifest"]


def test_a_rootless_run_gets_a_short_runtime_dir_of_its_own_in_the_namespace_s_fresh_run():
    """rootlessport binds $XDG_RUNTIME_DIR/libpod/tmp/rootlessportN/.bp.sock: with the runtime dir in the
    work folder that passed the 108 bytes of a unix socket address, and every rootless `-p` on a bridge
    network hung until PODMAN_TIMEOUT. /run/user/UID, as a login gives it, is private to the run."""
    from upstream_tests.isolation import Isolation, runtime_dir
    user = pwd.getpwnam("daemon")  # setpriv --regid takes the user name as a group name: Debian has group daemon
    isolation = Isolation(fresh_run=True, runtime_dir_of=(user.pw_uid, user.pw_gid))
    check = 'stat -c "%u %g %a" "$XDG_RUNTIME_DIR" && touch "$XDG_RUNTIME_DIR/mine" && ls /run/user'
    proc = subprocess.run(isolation.argv(["sh", "-c", check], {"XDG_RUNTIME_DIR": runtime_dir(user.pw_uid),
                                                              "PATH": "/usr/bin:/bin"}, user="daemon"),
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == [str(user.pw_uid), str(user.pw_gid), "700", str(user.pw_uid)], proc.stderr
    socket_path = f"{runtime_dir(user.pw_uid)}/libpod/tmp/rootlessport4294967295/.bp.sock"
    assert len(socket_path.encode()) < 108  # sun_path, with its terminating NUL
