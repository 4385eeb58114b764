# Two commands on a fresh machine:
#   make book   build the HTML book (executing every notebook) into book/_build/html
#   make test   lint, unit tests, every notebook once (nbval), the book from those runs,
#               and browser tests of the built site
# Neither needs an earlier command: both create .venv and install what they need.

SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed

# torch and torchvision are Part II's (and the tests'). pyproject asks for ranges, and pip
# resolves them to a matching pair. One install path for every machine. A CPU-only
# machine that wants a smaller build can name the CPU wheel index, e.g.
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (see the appendix "Running this book").
TORCH_INDEX ?=
PIP_TORCH_OPTS := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)

NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb)) $(sort $(wildcard exercises/solutions/*.ipynb))
EXECUTED  := _build/executed
SITE_SRC  := _build/site-src
HTML      := book/_build/html

.PHONY: help venv test unit lint notebooks vendor site-from-executed browser-test book book-full \
        lab strip exercises sync-cells colab runtimes bench clean smoke-full

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'
	@echo "other targets: lint unit notebooks strip exercises sync-cells colab runtimes lab book-full bench clean"

## --- environment -------------------------------------------------------------------
venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_TORCH_OPTS) -e ".[test,book]"
	touch $(STAMP)

## --- tests ---------------------------------------------------------------------------
test: venv lint unit notebooks smoke-full site-from-executed browser-test
	@echo "make test: all checks passed"

lint: venv
	$(BIN)/ruff check .

unit: venv
	$(PY) -m pytest tests -q -p no:cacheprovider --ignore=tests/browser

# Every notebook runs exactly once, here. conftest.py saves the executed copies
# (with widget state) to $(EXECUTED) and fails any notebook slower than 120 s.
notebooks: venv
	rm -rf $(EXECUTED)
	DLCORE_NONINTERACTIVE=1 $(PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-cell-timeout=600 \
	    -o testpaths= -q $(NOTEBOOKS)

# Part II once more at full size (DLCORE_SIZE=full) with every loop capped at 3 batches
# and the network cut, so a Colab-size run cannot crash where quick size passes.
smoke-full: venv
	$(PY) -m tools.smoke_full --max-steps 3

# MathJax, require.js and the widget manager, from npm, so the site works offline.
vendor:
	bash tools/vendor_assets.sh

# Build the site from the copies nbval just executed: nothing runs twice. The runtime
# table is written into the staged copy only, so a test run leaves the tree clean
# (`make runtimes` updates the tracked book/runtimes.md). SITE_OPTS=--allow-missing
# builds with only the notebooks executed so far (a quick local check).
SITE_OPTS ?=
site-from-executed: venv vendor
	$(PY) -m tools.stage_site --executed $(EXECUTED) --out $(SITE_SRC) $(SITE_OPTS)
	rm -rf $(HTML)
	$(BIN)/jupyter-book build $(SITE_SRC) --config $(CURDIR)/$(SITE_SRC)/book/_config.yml \
	    --toc $(CURDIR)/$(SITE_SRC)/book/_toc.yml --path-output book -W --keep-going \
	    --builder html
	@echo "book: $(CURDIR)/$(HTML)/index.html"

# Headless Chromium from Debian's package; installed here when missing and we are root.
# Without it (and without root) the browser tests skip with a message.
browser-test: venv
	if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
	$(PY) -m pytest tests/browser -q -p no:cacheprovider

## --- the book --------------------------------------------------------------------------
book: venv vendor
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml \
	    --path-output book -W --keep-going
	@echo "book: $(CURDIR)/$(HTML)/index.html"

# Full sizes (real dataset sizes and epochs), for a machine with a GPU.
book-full: venv
	DLCORE_SIZE=full $(MAKE) book

# Rooted at the repository, so chapters/, exercises/ and their links all work.
# --allow-root only when we are root (containers); LAB_OPTS adds more (e.g. --port=8890).
LAB_OPTS ?=
lab: venv
	$(PY) -m pip install -q -e ".[lab]"
	$(BIN)/jupyter lab --notebook-dir="$(CURDIR)" $$(test "$$(id -u)" = 0 && echo --allow-root || true) $(LAB_OPTS)

## --- maintenance -------------------------------------------------------------------------
strip: venv
	$(BIN)/nbstripout --keep-id chapters/*.ipynb exercises/*.ipynb exercises/solutions/*.ipynb

exercises: venv
	$(PY) -m tools.make_exercises

sync-cells: venv
	$(PY) -m tools.notebook_cells

# The Colab copies colab/<path> that the launch buttons open (roles rendered, links
# absolute). Regenerate after changing any notebook; tests/test_colab.py fails when stale.
colab: venv exercises
	$(PY) -m tools.make_colab

# Update the tracked runtime table from the last `make notebooks` / `make test` run.
runtimes: venv
	$(PY) -m tools.runtime_table --timings $(EXECUTED)/timings.json --out book/runtimes.md

bench: venv
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/bench_mlp.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/bench_conv.py

clean:
	rm -rf _build book/_build book/_vendor .pytest_cache
