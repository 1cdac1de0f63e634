# The two commands of the README's quick start: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-deps audit bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]'
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

clean:
	rm -rf $(VENV) .venv-audit var .pytest_cache .hypothesis
