# The two set-up commands of the README. Both create .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Install the package with the training extra (torch pinned to the CPU build: predict trains
# a reference model for its entropies) and run the main job on the built-in default corpus.
run: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0 -e '.[train]'
	$(BIN)/scalinglab predict --out results/python-stdlib

# Install everything the tests need (torch pinned to the CPU build; Debian's chromium for
# the HTML report's browser tests, when missing) and run them.
test: $(BIN)/python
	bash scripts/install-chromium.sh
	$(BIN)/pip install --quiet torch==2.13.0 -e '.[dev,train,hf-model,cluster]'
	$(BIN)/python -m pytest -q
