# Everything installs itself into .venv/ on first use: a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tests.emulator.demo

# Worker processes for the suite, each with its own emulator: the CLI tests mostly wait on
# scripted tasks, so three share two cores well.
TEST_WORKERS ?= 3

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.crowd
	$(BIN)/python -m bench.driver

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
