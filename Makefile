# Two commands a newcomer needs (see README.md):
#   make lab    set up .venv and open the notebooks in JupyterLab
#   make test   set up .venv and run the tests, including every notebook in smoke mode
# Other targets: make notebooks (re-run all notebooks in full mode and store their
# outputs), make student (write exercise versions to student/), make benchmark (time to
# solve CartPole), make profile (where a solve spends its time), make lint.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# JupyterLab refuses to run as root unless told to (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test notebooks student benchmark profile lint setup

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	touch $@

setup: $(VENV)/.installed

lab: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: setup
	DQN_SMOKE=1 DQN_CHECKS_STRICT=1 $(BIN)/pytest -n 2

lint: setup
	$(BIN)/ruff check dqn_helpers tests notebooks benchmarks tools

notebooks: setup
	$(BIN)/python tools/run_notebooks.py

student: setup
	$(BIN)/python tools/make_student_versions.py

benchmark: setup
	$(BIN)/python benchmarks/time_to_solve.py

profile: setup
	$(BIN)/python benchmarks/where_time_goes.py
