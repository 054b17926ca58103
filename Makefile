# Two entry points (see README): `make book` and `make test`. Everything else is a helper target.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PYTHONHASHSEED := 0

.PHONY: setup sandbox browser book test test-fast lint exercises clean

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

# The grader's sandbox: Debian's bubblewrap. Installed when running as root with apt; otherwise say how.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }; }; } || \
		{ echo "bubblewrap is missing: install it (sudo apt-get install bubblewrap) for the grader's sandbox"; exit 1; }

# The book's browser test drives Debian's chromium (never a downloaded browser). Installed when running as root with
# apt; otherwise say how. The test fails, and is not skipped, without it.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -qq chromium >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
		{ echo "chromium is missing: install it (sudo apt-get install chromium) for the book's browser test"; exit 1; }

# The whole test suite (what CI runs). Exit code 5 (no tests collected) is a failure, not a pass.
test: setup sandbox browser
	@$(BIN)/python -m pytest -n 2 --dist loadfile; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

# Development tier: everything but the end-to-end runs (tests marked `slow`: nbgrader and course-grade over whole
# classes, the book build, agent training). The same exit-code rule as `make test`.
test-fast: setup sandbox
	@$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

lint: setup
	$(BIN)/ruff check .

# Regenerate the student notebooks in exercises/ from solutions/ with nbgrader.
exercises: setup
	$(BIN)/python -m autograder.release --all

clean:
	rm -rf book/_build .pytest_cache .hypothesis
