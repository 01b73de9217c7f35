# Two commands a newcomer needs (see README.md):
#   make lab    set up .venv and open the notebooks in JupyterLab
#   make test   set up .venv and run the tests, including every notebook in smoke mode
# Other targets: make train ARGS="--env CartPole-v1" (the command line), make notebooks
# (re-run all notebooks in full mode and store their outputs), make student (write
# exercise versions to student/), make badges (Colab/Binder badges and self-install cells
# from the repository URL in pyproject.toml), make benchmark (time to solve CartPole),
# make profile (where a solve spends its time), make lint.
#
# PyTorch: the CPU build unless this machine has an NVIDIA GPU (tools/install_torch.py);
# TORCH_BUILD=cpu or TORCH_BUILD=default overrides that choice for a new .venv.
# conda users (environment.yml) run the same targets in their environment:
#   make test VENV=$CONDA_PREFIX
# make sees a conda environment there (its conda-meta/ folder) and leaves installing to conda.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_BUILD ?= auto
ARGS ?=
LAB_ARGS ?=
# JupyterLab serves the repository (README, package, notebooks) and opens the first notebook.
FIRST_NOTEBOOK := $(firstword $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)))
# JupyterLab refuses to run as root unless told to (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
SETUP := $(if $(wildcard $(VENV)/conda-meta),,setup)

.PHONY: lab test train notebooks student badges benchmark profile lint setup

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml tools/install_torch.py
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python tools/install_torch.py --build $(TORCH_BUILD)
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

setup: $(VENV)/.installed

lab: $(SETUP)
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/$(FIRST_NOTEBOOK) $(LAB_ARGS)

test: $(SETUP)
	DQN_SMOKE=1 DQN_CHECKS_STRICT=1 $(BIN)/pytest -n 2 --dist loadgroup

train: $(SETUP)
	$(BIN)/python -m dqn_helpers train $(ARGS)

lint: $(SETUP)
	$(BIN)/ruff check dqn_helpers tests notebooks benchmarks tools

notebooks: $(SETUP)
	$(BIN)/python tools/run_notebooks.py

student: $(SETUP)
	$(BIN)/python tools/make_student_versions.py

badges: $(SETUP)
	$(BIN)/python tools/notebook_header.py

benchmark: $(SETUP)
	$(BIN)/python benchmarks/time_to_solve.py

profile: $(SETUP)
	$(BIN)/python benchmarks/where_time_goes.py
