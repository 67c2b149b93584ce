"""The export step on the tiny model: merged weights, GGUF, Modelfile, the checks, and errors."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from conftest import make_project, run_cli
from scripts import export
from scripts.__main__ import build_parser
from scripts.config import load_settings
from scripts.errors import UserError
from space_helpers import copy_project, export_stdout, exported_tiny_project, make_tiny_adapter, pytorch_answers


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    return exported_tiny_project(tmp_path_factory, tiny_model_dir)


def test_export_writes_merged_model_gguf_and_modelfile(exported, tiny_model_dir):
    out = exported.parent / "outputs" / "export"
    report = json.loads((out / "export.json").read_text())
    merged_files = {p.name for p in (out / "merged").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= merged_files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in merged_files)

    gguf = out / report["gguf"]["file"]
    assert report["gguf"]["file"] == "namibia-qa-f16.gguf"
    assert gguf.read_bytes()[:4] == b"GGUF"
    assert report["gguf"]["size"] == gguf.stat().st_size
    assert report["gguf"]["sha256"] == export.describe_file(gguf)["sha256"]

    # Every check compared the same answers, and they are the PyTorch base + adapter answers.
    questions = report["questions"]
    assert len(questions) == 3 and len(report["checks"]) == 3
    for row in report["checks"]:
        assert row["tuned"] == row["merged"] == row["gguf"] and row["tuned"]
    max_new_tokens = load_settings(exported).evaluate.max_new_tokens
    adapter = exported.parent / "outputs" / "train" / "adapter"
    assert [row["tuned"] for row in report["checks"]] == pytorch_answers(tiny_model_dir, adapter, questions, max_new_tokens)

    stdout = export_stdout()
    assert "Converting to GGUF (f16)" in stdout and "Exported in" in stdout
    assert not list(out.parent.glob(".export*")), "a temporary folder was left behind"


def test_merged_model_loads_without_peft_and_answers_like_the_adapter(exported, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scripts.generation import generate_answers

    out = exported.parent / "outputs" / "export"
    report = json.loads((out / "export.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(out / "merged", dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(out / "merged")
    prompts = [[{"role": "user", "content": report["questions"][0]}]]
    assert generate_answers(model, tokenizer, prompts, 1, load_settings(exported).evaluate.max_new_tokens) == [
        report["checks"][0]["tuned"]
    ]


def test_gguf_metadata_has_the_chat_template_and_tokenizer(exported):
    import gguf

    out = exported.parent / "outputs" / "export"
    reader = gguf.GGUFReader(out / "namibia-qa-f16.gguf")
    fields = {name: field for name, field in reader.fields.items()}
    assert fields["general.architecture"].contents() == "llama"
    assert fields["general.name"].contents() == "namibia-qa"
    assert "<|im_start|>" in fields["tokenizer.chat_template"].contents()
    assert fields["tokenizer.ggml.pre"].contents() == "smollm"  # llama.cpp tokenizes like the Hugging Face tokenizer
    assert fields["tokenizer.ggml.eos_token_id"].contents() == 2


def test_modelfile_has_template_system_prompt_and_stop(exported):
    text = (exported.parent / "outputs" / "export" / "Modelfile").read_text()
    assert "FROM ./namibia-qa-f16.gguf\n" in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "PARAMETER temperature 0" in text
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in text
    template = re.search(r'TEMPLATE """(.*?)"""', text, re.S).group(1)
    assert "{{ .Content }}<|im_end|>" in template and template.endswith("<|im_start|>assistant\n")


def test_gguf_conversion_is_byte_for_byte_repeatable(exported, tmp_path):
    """Publishing can rebuild the GGUF and check it against a recorded sha256."""
    out = exported.parent / "outputs" / "export"
    again = tmp_path / "again.gguf"
    export.convert_to_gguf(export.converter_folder(), out / "merged", again, "f16", "namibia-qa")
    assert export.describe_file(again)["sha256"] == export.describe_file(out / "namibia-qa-f16.gguf")["sha256"]


def test_non_chatml_template_leaves_the_template_to_ollama(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    modelfile = export.ollama_modelfile(tokenizer, "x-f16.gguf")
    assert "TEMPLATE" not in modelfile.text and "SYSTEM" not in modelfile.text
    assert "FROM ./x-f16.gguf" in modelfile.text and "PARAMETER stop" in modelfile.text
    assert "GGUF" in modelfile.template_note


def test_merge_is_worked_out_in_float64_and_rounded_once(tiny_model_dir, tmp_path):
    """W + scale * (B @ A) in float64, then float32: no float32 matrix product, whose rounding varies by processor."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = make_tiny_adapter(tiny_model_dir, tmp_path / "adapter")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), adapter)
    layer = model.base_model.model.model.layers[0].mlp.down_proj
    weight, a, b = layer.base_layer.weight, layer.lora_A["default"].weight, layer.lora_B["default"].weight
    expected = (weight.double() + (b.double() @ a.double()) * layer.scaling["default"]).float()
    merged = export.merge_adapter(model)
    assert merged.model.layers[0].mlp.down_proj.weight.dtype == torch.float32
    assert torch.equal(merged.model.layers[0].mlp.down_proj.weight, expected)
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_export_takes_the_reviewed_adapter_unless_trained_again(tmp_path, tiny_model_dir, capsys):
    import os
    import shutil

    config = make_project(tmp_path, tiny_model_dir)
    cfg = load_settings(config)
    trained = make_tiny_adapter(tiny_model_dir, tmp_path / "outputs" / "train" / "adapter")
    assert export.adapter_folder(cfg, None) == trained  # before card: the trained adapter
    reviewed = tmp_path / "results" / "model"
    shutil.copytree(trained, reviewed)
    now = (trained / "adapter_model.safetensors").stat().st_mtime
    os.utime(reviewed / "adapter_model.safetensors", (now + 5, now + 5))  # card wrote it after training
    assert export.adapter_folder(cfg, None) == reviewed
    os.utime(trained / "adapter_model.safetensors", (now + 60, now + 60))  # trained again since card
    assert export.adapter_folder(cfg, None) == trained
    assert "outputs/train/adapter is newer than results/model" in capsys.readouterr().out
    assert export.adapter_folder(cfg, "results/model") == reviewed  # --adapter always wins


def test_no_adapter_is_exit_2_naming_the_command(tiny_project):
    result = run_cli("export", "--config", str(tiny_project))
    assert result.returncode == 2
    assert "outputs/train/adapter: no trained adapter; run `python -m scripts train` first." in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tiny_project.parent / "outputs" / "export").exists()


def test_wrong_adapter_option_is_exit_2(tiny_project):
    result = run_cli("export", "--config", str(tiny_project), "--adapter", "nowhere")
    assert result.returncode == 2
    assert "nowhere: no adapter_config.json" in result.stderr


def test_merge_that_changes_answers_fails_with_exit_1(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """If merging lost the adapter, the check names the question and nothing is written."""
    config = make_project(tmp_path, tiny_model_dir)
    make_tiny_adapter(tiny_model_dir, tmp_path / "outputs" / "train" / "adapter")
    monkeypatch.setattr(export, "merge_adapter", lambda model: model.unload())  # drops the adapter
    args = build_parser(only="export").parse_args(["export", "--no-gguf", "--check-questions", "1"])
    assert export.main(load_settings(config), args) == 1
    error = capsys.readouterr().err
    assert "the merged model answers \"Which city is the seat of Namibia's central government?\"" in error
    assert "but base + adapter answers" in error
    assert not (tmp_path / "outputs" / "export").exists()


def test_gguf_that_answers_differently_fails_unless_lossy(exported, tmp_path, monkeypatch, capsys):
    config = copy_project(exported, tmp_path / "project")
    made = exported.parent / "outputs" / "export" / "namibia-qa-f16.gguf"
    # Stubs keep this test quick: the conversion copies the GGUF made above, and the GGUF "answers" wrongly.
    monkeypatch.setattr(export, "convert_to_gguf", lambda converter, merged, gguf, *a: gguf.write_bytes(made.read_bytes()))
    monkeypatch.setattr(export, "answers_from_gguf", lambda *a: (["something else"], "a stub"))
    args = build_parser(only="export").parse_args(["export", "--check-questions", "1"])
    assert export.main(load_settings(config), args) == 1
    assert "the GGUF file (a stub) answers" in capsys.readouterr().err
    # The earlier export is still there, untouched: a failed export never replaces a good one.
    assert json.loads((tmp_path / "project" / "outputs" / "export" / "export.json").read_text())["gguf"]["type"] == "f16"

    args.gguf_type = "q8_0"
    assert export.main(load_settings(config), args) == 0
    assert "q8_0 rounds the weights" in capsys.readouterr().out
    assert (tmp_path / "project" / "outputs" / "export" / "namibia-qa-q8_0.gguf").is_file()


HUB_NOTE = "HuggingFaceTB/SmolLM2-135M-Instruct at revision main from the Hugging Face Hub"


@pytest.mark.parametrize(
    "trained_on, found, fix",
    [("hub", "bundled", "HF_HUB_OFFLINE=0 python -m scripts export"), ("bundled", "hub", "FINETUNE_BUNDLED_FIRST=1 python -m scripts export")],
)  # fmt: skip
def test_export_stops_when_the_base_weights_differ_from_trainings(tmp_path, monkeypatch, trained_on, found, fix):
    """Colab and Hugging Face Jobs train the default model on the Hub's bf16 weights; a runner finds the bundled copy
    (dequantized from 4 bits). Merged into the other copy, the adapter gives a GGUF file and a Space that are not the
    evaluated model, which export's own answer check cannot see: it compares the merge with that same copy."""
    from scripts.model import BUNDLED, ResolvedModel
    from scripts.outputs import write_train_metrics
    from test_card import train_metrics

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)  # a laptop first (the template's own CI runs on GitHub)
    model_id = "HuggingFaceTB/SmolLM2-135M-Instruct"
    cfg = load_settings(make_project(tmp_path, model_id))
    notes = {"hub": HUB_NOTE, "bundled": BUNDLED[model_id][2]}
    write_train_metrics(cfg, dataclasses.replace(train_metrics(model_id), base_weights=notes[trained_on]))
    resolved = ResolvedModel(tmp_path, model_id, found, notes[found])
    with pytest.raises(UserError) as error:
        export.check_same_weights_as_training(cfg, resolved)
    assert str(error.value).startswith(
        f"outputs/train/metrics.json: the adapter was trained on {notes[trained_on]}, but export found {notes[found]}, so "
        "the GGUF file and the Space would not be the model that was evaluated; "
    )
    assert f"(`{fix}`)." in str(error.value)
    export.check_same_weights_as_training(cfg, ResolvedModel(tmp_path, model_id, trained_on, notes[trained_on]))  # same: goes on
    if found == "bundled":  # on GitHub the learner cannot type a command: the message names the button
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        with pytest.raises(UserError, match="Actions > Train > Run workflow with resume = its run id"):
            export.check_same_weights_as_training(cfg, resolved)


def test_export_of_a_model_trained_elsewhere_is_exit_2_and_writes_nothing(tmp_path, tiny_model_dir):
    """The whole step, on the tiny model: training's record names other weights, so export stops before loading."""
    from scripts.outputs import write_train_metrics
    from test_card import train_metrics

    config = make_project(tmp_path, tiny_model_dir)
    cfg = load_settings(config)
    make_tiny_adapter(tiny_model_dir, tmp_path / "outputs" / "train" / "adapter")
    write_train_metrics(cfg, dataclasses.replace(train_metrics(cfg.model.base), base_weights=HUB_NOTE))
    result = run_cli("export", "--config", str(config), "--no-gguf")
    assert result.returncode == 2, result.stderr
    assert f"outputs/train/metrics.json: the adapter was trained on {HUB_NOTE}, but export found local folder" in result.stderr
    assert "or train again." in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs" / "export").exists()
