# make demo: set up .venv, check the shipped feeds.toml, and post its new items to a local
#            sandbox channel (offline, no Viber account needed). In a terminal the channel's
#            page stays up until Ctrl-C; without one the posts are listed and the page closes.
# make studio: serve the sandbox page with feeds.toml's newest items, rendered again on every
#            save of feeds.toml, a template or a local feed, until Ctrl-C.
# make test: set up .venv with the test tools and run the checks and the test suite.
# make bench: benchmark poster against rss2email on 1,000 local feeds, time the commands, the
#            parse and a 10,000-feed daemon (see bench/run.py); one group alone with, e.g.,
#            make bench BENCH_ARGS="--only daemon10k".
# make bench-gateway: time items sent to 10,000 numbers through the DecisionTelecom fake
#            (see bench/gateway.py; ITEMS=20 by default).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo studio test lint bench bench-gateway clean

$(BIN)/poster: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/poster

demo: $(BIN)/poster
	$(BIN)/poster check
	$(BIN)/poster run --once --sandbox

studio: $(BIN)/poster
	$(BIN)/poster studio

lint: $(BIN)/poster
	$(BIN)/ruff check poster tests bench
	$(BIN)/ruff format --check poster tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(BIN)/poster
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-gateway: $(BIN)/poster
	$(BIN)/python bench/gateway.py $(ITEMS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
