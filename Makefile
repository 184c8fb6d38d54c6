# Every target that needs Python creates .venv first, so a fresh clone needs nothing else.
# The environment is installed from uv.lock (every package pinned, with hashes): a fresh
# machine gets exactly what CI tested. `make upgrade` refreshes the lock and runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# uv never downloads a Python of its own: it uses $(PY), as the README promises.
export UV_PYTHON_DOWNLOADS := never

.PHONY: install ui demo test test-slow test-fresh lint bench mutate fuzz upgrade clean

$(UV):
	test -x $(TOOLS)/bin/python || $(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --extra dev --python $(PY)
	touch $(STAMP)

# The web page of `microseg ui`: npm packages at the versions of ui/package-lock.json,
# bundled by esbuild into the package's static folder (built output, never committed).
UI_OUT := src/microseg/ui/static/app.js
$(UI_OUT): ui/package.json ui/package-lock.json ui/build.mjs ui/index.html $(wildcard ui/src/*)
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check && node build.mjs

ui: $(UI_OUT)

install: $(STAMP) $(UI_OUT)

demo: $(STAMP)
	$(BIN)/microseg demo

# --dist loadgroup keeps the Spark tests (xdist_group "spark") on one worker: one JVM.
test: $(STAMP) $(UI_OUT)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not slow and not fresh_clone"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# A new clone in a new folder runs the README's two commands from nothing (run by .ci/run).
test-fresh: $(STAMP)
	$(BIN)/python -m pytest -q -m fresh_clone

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) $(UI_OUT)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/ui.py
	$(BIN)/python bench/monitor.py

# Hostile inputs (tests/fuzz): N hypothesis-mutated cases of the corpus and the demo through the
# CLI, in JOBS workers under memory and time limits; counts in bench/results/fuzz.json.
N ?= 100000
JOBS ?= 2
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run --cases $(N) --jobs $(JOBS)

# One-line wrong changes to the central semantic rules, each run against the suite in a
# copy of the tree: prints killed/survived per mutant (tests/mutation/mutate.py).
mutate: $(STAMP)
	$(BIN)/python tests/mutation/mutate.py

# Newest releases allowed by pyproject.toml into uv.lock, then the whole suite on them.
upgrade: $(UV)
	$(UV) lock --upgrade --python $(PY)
	rm -f $(STAMP)
	$(MAKE) test

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache ui/node_modules src/microseg/ui/static
