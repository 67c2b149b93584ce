"""serve: the exported tiny model on transformers' OpenAI-compatible server, asked through the `openai`
client and by the agent example, answers exactly like PyTorch's greedy decoding.

Real server, real client, real HTTP on 127.0.0.1; nothing is mocked. Not covered: other servers the
example can point at (llama.cpp's llama-server, Ollama), and the real 135M model (the tiny one is faster).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from conftest import REPO, make_project, run_cli
from scripts import rubric
from scripts.config import load_settings
from space_helpers import exported_tiny_project, free_port, pytorch_answers

MAX_TOKENS = 48  # [evaluate] max_new_tokens in project.toml, which the reference answers use


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    return exported_tiny_project(tmp_path_factory, tiny_model_dir)


@contextlib.contextmanager
def running_server(config, timeout: float = 600):  # minutes on a loaded 2-core machine (make test runs two test processes)
    """`python -m scripts serve` on a free port; yields the base URL; stops the server (and its child) afterwards."""
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts", "serve", "--config", str(config), "--port", str(port)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the test stops transformers serve too
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"serve exited with code {process.returncode}:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"serve did not answer on {base_url} within {timeout:.0f} s") from None
                time.sleep(0.5)
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def server(exported):
    with running_server(exported) as base_url:
        yield base_url


def eval_questions(config, count: int) -> list[str]:
    lines = (config.parent / "datasets" / "eval.jsonl").read_text().splitlines()[:count]
    return [json.loads(line)["messages"][0]["content"] for line in lines]


def reference_answers(config, tiny_model_dir, questions):
    return pytorch_answers(tiny_model_dir, config.parent / "outputs" / "train" / "adapter", questions, MAX_TOKENS)


def test_openai_client_gets_the_pytorch_greedy_answers(server, exported, tiny_model_dir):
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="not-needed")
    assert [model.id for model in client.models.list().data] == ["outputs/export/merged"]
    questions = eval_questions(exported, 2)
    answers = []
    for question in questions:
        reply = client.chat.completions.create(
            model="outputs/export/merged", messages=[{"role": "user", "content": question}], temperature=0, max_tokens=MAX_TOKENS,
        )
        answers.append(reply.choices[0].message.content.strip())
    expected = reference_answers(exported, tiny_model_dir, questions)
    assert all(expected), "the tiny adapter should make the model say something"
    assert answers == expected


def test_agent_example_routes_questions_and_its_transcript_earns_the_integration_point(server, exported, tiny_model_dir, tmp_path):
    namibia = eval_questions(exported, 1)[0]
    transcript_file = tmp_path / "results" / "integration" / "transcript.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "agent_with_tools.py"), "--base-url", server,
         "--transcript", str(transcript_file), namibia, "What is 365 * 24?"],
        capture_output=True, text=True, timeout=300, cwd=exported.parent,  # run from the project folder, as the README says
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    transcript = json.loads(transcript_file.read_text())
    assert transcript["model"] == "outputs/export/merged"
    assert [(turn["tool"], turn["answer"]) for turn in transcript["turns"]] == [
        ("tuned model", reference_answers(exported, tiny_model_dir, [namibia])[0]),
        ("calculator", "8760"),
    ]
    # It records what the served model was made from: the adapter that export merged.
    adapter = exported.parent / "outputs" / "train" / "adapter" / "adapter_model.safetensors"
    assert transcript["adapter_sha256"] == hashlib.sha256(adapter.read_bytes()).hexdigest()

    # The rubric reads this transcript, in a project of its own with the same export record, as evidence
    # that an app used the current export; after an export of another adapter it is stale and scores nothing.
    config = make_project(tmp_path, tiny_model_dir)
    cfg = load_settings(config)
    record = cfg.step_dir("export") / "export.json"
    record.parent.mkdir(parents=True)
    shutil.copyfile(exported.parent / "outputs" / "export" / "export.json", record)
    point = rubric.app_point(rubric.Evidence(cfg))
    assert point.score == 5 and "1 answers from outputs/export/merged, 1 from other tools" in point.evidence
    record.write_text(json.dumps(json.loads(record.read_text()) | {"adapter_sha256": "0" * 64}))
    point = rubric.app_point(rubric.Evidence(cfg))
    assert point.score == 0 and "stale" in point.evidence


def test_serve_before_export_is_one_clear_sentence(tmp_path, tiny_model_dir):
    config = make_project(tmp_path, tiny_model_dir)
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "outputs/export/merged: no exported model" in result.stderr and "python -m scripts export" in result.stderr
