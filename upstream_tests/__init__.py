"""Upstream's own test suites (crun, netavark, skopeo, podman, buildah) run against the static
bundles and against the same versions built the ordinary way (dynamic, glibc), so that every
failure is classed: *environment* (fails both ways) or *ours* (fails only static).

`make upstream-tests` = `python -m upstream_tests run`; never part of `make test`.
"""
