"""The scripts in examples/ run as a learner would run them, against the tiny model and a local Gradio app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from space_helpers import exported_tiny_project, gradio_app_url, gradio_space_project, pytorch_answers


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    return exported_tiny_project(tmp_path_factory, tiny_model_dir)


def first_eval_question(config) -> str:
    line = (config.parent / "datasets" / "eval.jsonl").read_text().splitlines()[0]
    return json.loads(line)["messages"][0]["content"]


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / name), *args], capture_output=True, text=True, timeout=300
    )


def test_use_with_transformers_answers_like_the_tuned_model(exported, tiny_model_dir):
    adapter = exported.parent / "outputs" / "train" / "adapter"
    question = first_eval_question(exported)
    result = run_example("use_with_transformers.py", "--base", str(tiny_model_dir), "--adapter", str(adapter), question)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == pytorch_answers(tiny_model_dir, adapter, [question], 48)[0]


def test_call_the_space_gets_the_apps_answer(exported, tmp_path_factory, tiny_model_dir, request):
    config = gradio_space_project(tmp_path_factory, exported)
    url = gradio_app_url(request, config, tiny_model_dir)
    question = first_eval_question(config)
    result = run_example("call_the_space.py", url, question)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = pytorch_answers(tiny_model_dir, config.parent / "outputs" / "train" / "adapter", [question], 48)[0]
    assert result.stdout.strip() == expected
