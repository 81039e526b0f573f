# make demo: set up .venv and preview the shipped feeds.toml (offline, no token needed).
# make test: set up .venv with the test tools and run the checks and the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/poster: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/poster

demo: $(BIN)/poster
	$(BIN)/poster check
	$(BIN)/poster preview

lint: $(BIN)/poster
	$(BIN)/ruff check poster tests bench
	$(BIN)/ruff format --check poster tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
