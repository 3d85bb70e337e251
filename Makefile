# dockyard: `make demo` runs the main job, `make test` runs every test. Both install what they need.
PY := .venv/bin/python
SHELL := /bin/bash

.PHONY: deps test-deps demo test check unit integration base-images clean

deps:
	bash scripts/install-deps.sh

test-deps:
	bash scripts/install-deps.sh test

check: test-deps
	.venv/bin/ruff check src/
	.venv/bin/mypy

test: check
	.venv/bin/pytest -q tests

unit: test-deps
	.venv/bin/pytest -q tests -m "not integration"

integration: test-deps
	.venv/bin/pytest -q tests -m integration

base-images: deps
	bash scripts/base-images.sh

demo: deps
	bash scripts/demo.sh

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
