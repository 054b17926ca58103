# Two entry points (see README): `make book` and `make test`. Everything else is a helper target.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PYTHONHASHSEED := 0

.PHONY: setup book test test-fast lint exercises selfcheck grade benchmarks clean

# Create the virtual environment once; reinstall only when the pins or the local packages' metadata change.
$(STAMP): requirements.txt reference_impl/pyproject.toml autograder/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		-e reference_impl -e autograder
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	@touch $@

setup: $(STAMP)

# Main job: build the book with every chapter executed (cached: a second run re-executes only changed pages).
book: setup
	$(BIN)/jupyter-book build -W -n --keep-going book
	@echo "Book built: $(CURDIR)/book/_build/html/index.html"

# The whole test suite (what CI runs).
test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

# Regenerate the student notebooks in exercises/ from solutions/ with nbgrader.
exercises: setup
	$(BIN)/python -m autograder.release --all

clean:
	rm -rf book/_build .pytest_cache .hypothesis
