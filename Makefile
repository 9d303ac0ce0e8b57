# `make` with no target lists the targets. The README's two commands are the source of truth.
.PHONY: help demo test lint fmt bench

help:  ## list targets
	@grep -E '^[a-z]+:.*## ' Makefile | sed 's/:.*## /\t/'

demo:  ## install and run the service with demo functions producing logs
	python3 -m pip install --quiet -e . && logsvc demo

test:  ## install test dependencies (incl. Debian's chromium) and run the whole suite
	bash scripts/setup-test.sh
	python3 -m pytest -n 2 --dist loadfile -p no:benchmark
	ruff check .

lint:  ## ruff
	ruff check .

fmt:  ## ruff format + fix imports
	ruff check --fix .

bench:  ## the benchmark suite (builds corpora under bench/corpus, writes bench/RESULTS.md)
	bench/run
