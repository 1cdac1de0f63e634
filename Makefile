# The two commands of the README's quick start: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-deps audit bench clean lock lock-keep

## Exactly requirements-test.lock (docs/deployment.md: how to update it), then the project
## itself without dependencies; `pip check` fails when pyproject.toml wants a package the
## lock lacks (a dependency added without `make lock`).
$(STAMP): pyproject.toml requirements-test.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-test.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

setup: $(STAMP)

## Set up, load the synthetic 2019 year into the embedded SQLite store, print the scoreboard,
## then run the service (status page and /metrics on http://127.0.0.1:9105/; Ctrl-C stops it).
demo: setup
	$(BIN)/hotline-kpi demo
	$(BIN)/hotline-kpi serve

## Install what the tests need (Debian packages, as root), set up and run the whole suite.
test-deps:
	bash .ci/install-test-deps

## Two workers: the `system` tests (real serve, Prometheus, ...) run one at a time on one of them.
test: test-deps setup
	$(BIN)/pytest -n 2 --dist loadgroup
	bash .ci/audit

## pip-audit over the installed versions (fails on a known vulnerability; says NOT AUDITED
## when the vulnerability service cannot be reached).
audit: setup
	bash .ci/audit

bench: setup
	$(BIN)/python bench/evaluate.py

## Re-resolve the lock files from pyproject.toml (newest versions within its ranges), then
## `make setup` installs them; commit the two files with what changed.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --upgrade -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 -c requirements.lock --upgrade -q \
		-o requirements-test.lock

## Add what pyproject.toml gained to the lock files, keeping every pinned version that still
## fits (no --upgrade): the way to add one dependency without moving the others.
lock-keep: setup
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 -c requirements.lock -q \
		-o requirements-test.lock

clean:
	rm -rf $(VENV) .venv-audit var .pytest_cache .hypothesis
