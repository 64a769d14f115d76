# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Main job on the built-in synthetic humans: build the dataset, train the pose
# evaluator and a Context Encoder, evaluate them against the baselines, report.
run: $(STAMP)
	$(BIN)/jaxpaint run --workdir runs/main

# Test files are shared out to TEST_WORKERS processes (xdist); a file's tests stay on one process, so a
# module's fixtures are built once.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) runs
