# Two commands do everything on a fresh clone:
#   make run    start the local server on the bundled example extensions
#   make test   run the test suite
# make help lists the other targets.
# Both check the system packages first (scripts/install-system-deps: installs them with apt
# as root, otherwise prints the command), then create .venv and install the project into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080
INTEGRATOR_EXTENSION_SYSTEM_TOKEN ?= local-dev-token
export INTEGRATOR_EXTENSION_SYSTEM_TOKEN

.PHONY: help run serve test lint format docs bench fuzz fuzz-envelopes dist image-test fresh-test constraints clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 20

$(STAMP): pyproject.toml setup.py src/stack_runtime/core/_plain.c src/stack_runtime/core/_lines.c src/stack_runtime/server/_request.c
	PYTHON=$(PYTHON) scripts/install-system-deps build
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# The C modules are optional to pip (it installs without them); here they must be built.
	@$(BIN)/python -c 'import stack_runtime.core._plain, stack_runtime.core._lines, stack_runtime.server._request' \
	  || { echo 'the C modules were not built: see the pip output above' >&2; exit 1; }
	touch $(STAMP)

run: $(STAMP)  ## local dev server on ./extensions, reloads on change
	$(BIN)/stack-runtime dev --host $(HOST) --port $(PORT)

serve: $(STAMP)  ## the production server (gunicorn + uvicorn workers) on ./extensions
	$(BIN)/stack-runtime serve --host $(HOST) --port $(PORT)

test:  ## the whole test suite (installs the system packages it needs first)
	PYTHON=$(PYTHON) scripts/install-system-deps test
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)  ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check src tests extensions bench scripts
	$(BIN)/ruff format --check src tests extensions bench scripts
	$(BIN)/mypy

# The documentation site (mkdocs.yml, docs/): --strict fails on a broken link or anchor and on a
# page the nav leaves out. `.venv/bin/mkdocs serve` shows it while you edit.
SITE ?= build/site
docs: $(STAMP)  ## build the documentation site into build/site (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(SITE)

format: $(STAMP)  ## ruff: fix what it can, format the code
	$(BIN)/ruff check --fix src tests extensions bench scripts
	$(BIN)/ruff format src tests extensions bench scripts

bench:  ## the benchmark (docs/performance.md); BENCH_ARGS=--quick to try it out
	PYTHON=$(PYTHON) scripts/install-system-deps bench
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Each fuzzer runs FUZZ_SECONDS (default 600) with a new seed, printed; a short run of each
# is part of `make test` (tests/fuzz/test_fuzz.py). Add further fuzzers as lines here.
FUZZ_SECONDS ?= 600
fuzz:  ## the fuzzers, long (docs/deployment/direct-path.md): FUZZ_SECONDS each
	PYTHON=$(PYTHON) scripts/install-system-deps test
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m tests.fuzz.parser_diff --sanitized --seconds $(FUZZ_SECONDS)
	$(BIN)/python -m tests.fuzz.stream_diff --seconds $(FUZZ_SECONDS)
	$(MAKE) --no-print-directory fuzz-envelopes

# Hostile envelopes (Hypothesis, tests/strategies.py) against a real serve and AWS's real Lambda
# runtime client: FUZZ_EXAMPLES new examples each (a fixed 100 are part of `make test`); what
# fails is kept in .hypothesis/ and replayed first on the next run.
FUZZ_EXAMPLES ?= 5000
fuzz-envelopes:  ## the envelope fuzz tests, long: FUZZ_EXAMPLES examples each
	PYTHON=$(PYTHON) scripts/install-system-deps test
	$(MAKE) --no-print-directory $(STAMP)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(BIN)/pytest tests/e2e/test_fuzz_envelopes.py tests/aws_lambda/test_fuzz_envelopes.py

# The package to install elsewhere (it is not on PyPI): the wheel, built from the sdist, and
# the sdist itself. Older stack_runtime-* files in DIST go first, so one wheel is left there.
DIST ?= dist
dist: $(STAMP)  ## the wheel and the sdist in dist/, to pip install elsewhere
	rm -f $(DIST)/stack_runtime-*.whl $(DIST)/stack_runtime-*.tar.gz
	$(BIN)/python -m build --outdir $(DIST) .
	@# As for .venv: a wheel without the C modules is refused.
	@$(BIN)/python -c 'import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); \
	  missing = [m for m in ("core/_plain", "core/_lines", "server/_request") if not any(n.startswith(f"stack_runtime/{m}.") and n.endswith(".so") for n in names)]; \
	  sys.exit(f"the wheel has no C module {missing}: see the build output above" if missing else None)' $(DIST)/stack_runtime-*.whl
	@ls $(DIST)/stack_runtime-*

# The container tests (tests/container) run as root with podman, runc and debootstrap, which
# scripts/install-system-deps installs; they make a Debian bookworm image once a day.
image-test:  ## build the Dockerfile's image with podman and run it (root; a few minutes)
	PYTHON=$(PYTHON) scripts/install-system-deps container
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/pytest -rP tests/container/test_image.py

fresh-test:  ## git clone, make test and make run in a bare Debian container (root; ~10 minutes)
	PYTHON=$(PYTHON) scripts/install-system-deps container
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/pytest -rP tests/container/test_fresh_machine.py

constraints:  ## pin the image's dependencies anew (constraints.txt), newest that pyproject allows
	rm -rf build/constraints
	$(PYTHON) -m venv build/constraints
	build/constraints/bin/pip install --quiet --upgrade pip
	build/constraints/bin/pip install --quiet .
	{ sed -n '/^#/p' constraints.txt; build/constraints/bin/pip freeze --exclude stack-runtime; } \
	  > build/constraints.txt
	mv build/constraints.txt constraints.txt
	rm -rf build/constraints

clean:  ## remove .venv and the tools' caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
