# Local entry points. `make build` is the main job, `make test` the suite CI runs.
PYTHON ?= python3
VENV   := .venv
SB     := $(VENV)/bin/staticbuild
OUT    ?= out

.PHONY: setup build test test-full clean
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
test: setup
	$(VENV)/bin/pytest -m "not full"

## Everything, including the heavy components.
test-full: setup
	$(VENV)/bin/pytest

clean:
	rm -rf $(OUT) $(VENV)
