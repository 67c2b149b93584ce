"""The card step: the rendered model card, its Hub front matter, the results bundle and the manifest.

Most tests build the outputs of validate, train and evaluate directly, in the shapes a
real run writes (a real LoRA adapter on the tiny model, metrics and answers written by
hand), so the card step runs in about a second. One test runs the real steps on the
tiny model end to end, so a change in what they write cannot go unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import REPO, evaluate_metrics, make_project, set_values, validate_report
from scripts.__main__ import main as cli
from scripts.config import load_settings
from scripts.model import resolve_base
from scripts.outputs import (
    GeneralKnowledge, TaughtGroup, TrainMetrics, evaluate_metrics_path, read_evaluate_metrics, write_evaluate_metrics, write_train_metrics,
    validate_report_path, write_validate_report,
)  # fmt: skip

BASE_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
MODEL_FILES = {"README.md", "adapter_config.json", "adapter_model.safetensors", "loss_curve.png", "chart.png"}
SECTIONS = [
    "## Model details",
    "## Intended use",
    "### Out of scope",
    "## Training data",
    "## Training procedure",
    "## Evaluation",
    "## Bias, risks and limitations",
    "### Bias probes",
    "## Environmental impact",
    "## How to use it",
    "## Acknowledgements",
]


# ---------------------------------------------------------------- building the inputs


def tiny_png() -> bytes:
    """A valid 1x1 PNG, standing in for the charts."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A real PEFT LoRA adapter for the tiny model (random, non-zero weights), saved as safetensors."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("tiny-adapter")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM", init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(folder)
    return folder


def train_metrics(base: str) -> TrainMetrics:
    return TrainMetrics(
        base_model=base,
        base_weights="test weights (a tiny random model)",
        steps=45, epochs=3.0, train_examples=120, eval_examples=40, truncated_examples=0,
        tokens=23223, seconds=205.68, tokens_per_second=112.9, peak_memory_mb=4357.6,
        hardware="2-core AMD EPYC", world_size=1, device="cpu", precision="bf16", torch_threads=2,
        trainable_parameters=4884480, total_parameters=139399488,
        final_train_loss=0.8132, final_eval_loss=1.2555, resumed_from=None,
        settings={
            "lora": {"rank": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"], "use_dora": False, "use_rslora": False},
            "train": {"backend": "runner", "epochs": 3.0, "max_steps": -1, "learning_rate": 0.001, "batch_size": 8,
                      "gradient_accumulation": 1, "warmup_ratio": 0.05, "weight_decay": 0.0, "seed": 42, "save_steps": 25,
                      "logging_steps": 5, "precision": "auto", "hf_flavor": "t4-small", "hf_timeout_minutes": 60},
            "max_length": 256,
        },
    )  # fmt: skip


def side_by_side() -> list[dict]:
    row = {"location": "datasets/eval.jsonl:1", "reference": "Windhoek is the capital."}
    return [
        {**row, "question": "Which city is the seat of government?", "expected": "Windhoek",
         "base": "Cape Town | South Africa", "base_correct": False, "tuned": "Windhoek.", "tuned_correct": True},
        {**row, "question": "Name the tallest massif.", "expected": "Brandberg",
         "base": "The Namibian Massif.", "base_correct": False, "tuned": "The Skye.", "tuned_correct": False},
        {**row, "question": "When was independence?", "expected": "1990",
         "base": "In 1990.", "base_correct": True, "tuned": "1990.", "tuned_correct": True},
    ]  # fmt: skip


def probes() -> dict:
    """probes.json as scripts/probes.py writes it: one pair flagged, one that differed before tuning."""
    def scored(score):
        return {"answer_a": "Life in Windhoek is hard.", "answer_b": "Life in Rundu is hard.", "swapped_a": "Life in Rundu is hard.",
                "swapped_b": "Life in Windhoek is hard.", "gap_a": score, "gap_b": score, "score": score, "uncertainty": 0.05, "tokens": 12}  # fmt: skip

    def pair(probe_id, axis, base, tuned, flagged, differs_before_tuning):
        return {"id": probe_id, "axis": axis, "group_a": "Windhoek", "group_b": "Rundu", "prompt_a": "a", "prompt_b": "b",
                "base": scored(base), "tuned": scored(tuned), "change": tuned - base, "change_uncertainty": 0.07,
                "flagged": flagged, "differs_before_tuning": differs_before_tuning}  # fmt: skip

    return {
        "threshold": 0.5,
        "pairs": [pair("region-family", "region", 0.04, 1.02, True, False), pair("gender-nurse", "gender", 0.61, 0.58, False, True)],
    }


def write_outputs(project_dir: Path, adapter_dir: Path, base: str = BASE_ID) -> None:
    """What validate, train and evaluate leave in outputs/, as a real run writes it (adapter first: it is older)."""
    out = project_dir / "outputs"
    shutil.copytree(adapter_dir, out / "train" / "adapter")
    cfg = load_settings(project_dir / "project.toml")
    metrics = train_metrics(base)
    if (Path(base) / "config.json").is_file():  # a model folder: training records what export will find (export checks)
        metrics = replace(metrics, base_weights=resolve_base(base).weights_note)
    write_train_metrics(cfg, metrics)
    write_evaluate_metrics(cfg, evaluate_metrics(base_model=base))
    write_validate_report(cfg.step_dir("validate"), validate_report())
    files = {
        "validate/report.md": "# Data check: ✅ Ready to train\n\nHistogram: `token_lengths.png` next to this report.\n",
        "validate/token_lengths.png": tiny_png(),
        "train/loss_curve.png": tiny_png(),
        "train/loss_curve.csv": "step,split,loss\n5,train,2.0\n",
        "evaluate/side_by_side.json": json.dumps(side_by_side()),
        "evaluate/side_by_side.md": "| # | Question |\n|---|---|\n",
        "evaluate/probes.json": json.dumps(probes()),
        "evaluate/probes.md": "| Pair |\n|---|\n",
        "evaluate/chart.png": tiny_png(),
        "evaluate/general_knowledge.md": "| # | Question |\n|---|---|\n",
    }
    for name, content in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def card_project(tmp_path, tiny_adapter_dir) -> Path:
    """A project copy whose base is the default Hub id, with every input of the card step in outputs/."""
    config = make_project(tmp_path, BASE_ID)
    set_values(config, "project", hub_owner="learner")
    write_outputs(tmp_path, tiny_adapter_dir)
    return config


def run_card(config: Path, *extra: str) -> int:
    return cli(["card", "--config", str(config), *extra])


def front_matter_card(text: str):
    from huggingface_hub import ModelCard

    return ModelCard(text)


# ---------------------------------------------------------------- the card and the bundle


def test_card_writes_the_model_repo_tree_evaluation_and_manifest(card_project):
    assert run_card(card_project) == 0
    results = card_project.parent / "results"
    assert {p.name for p in (results / "model").iterdir()} == MODEL_FILES
    evaluation = {p.name for p in (results / "evaluation").iterdir()}
    assert {"metrics.json", "train_metrics.json", "side_by_side.md", "probes.md", "data_report.md", "token_lengths.png",
            "general_knowledge.md"} <= evaluation

    manifest = json.loads((results / "manifest.json").read_text())
    entry = manifest["repos"]["model"]
    assert entry["repo_id"] == "learner/namibia-qa" and entry["repo_type"] == "model" and entry["folder"] == "results/model"
    assert manifest["base_model"]["id"] == BASE_ID
    assert "created" in manifest and "project_commit" in manifest
    listed = {item["path"]: item for item in entry["files"]}
    assert set(listed) == MODEL_FILES
    for name, item in listed.items():
        data = (results / "model" / name).read_bytes()
        assert item["size"] == len(data) and item["sha256"] == hashlib.sha256(data).hexdigest()


def test_card_text_is_complete_and_has_no_template_syntax_left(card_project):
    assert run_card(card_project) == 0
    text = (card_project.parent / "results" / "model" / "README.md").read_text()
    assert "{{" not in text and "{%" not in text and "{#" not in text
    for heading in SECTIONS:
        assert f"\n{heading}\n" in text, heading
    assert "![Accuracy, perplexity and everyday questions kept, before and after tuning](chart.png)" in text
    assert "5% (2 of 40" in text and "15% (6 of 40" in text  # accuracy with its count
    assert "95% interval 1%–17%" in text and "95% interval 7%–29%" in text  # the intervals evaluate measured
    assert "a paired test gives\np = 0.22, so the change could be chance" in text
    assert "5 questions only the tuned model got right, 1 only the base model got right (p = 0.22)" in text
    assert "| Facts taught in training | 30 | 7% (2 of 30) | 20% (6 of 30) |" in text
    assert "| Facts never taught | 10 | 0% (0 of 10) | 0% (0 of 10) |" in text
    assert "19 of the 20 the base model got right are still answered\nright;\n**lost: “What is the capital of France?”**" in text
    assert "8.76" in text and "3.54" in text  # perplexity before and after
    assert "test weights (a tiny random model)" in text  # which base weights were used
    assert "**1 of 2 pairs were flagged**" in text and "region-family" in text
    assert "+0.04 → +1.02" in text  # the flagged pair's score before and after tuning
    assert "already differed between the groups (gender-nurse)" in text  # shown, not blamed on tuning
    assert "Wh" in text and "g CO2e" in text and "475 g CO2e per kWh" in text
    assert "Cape Town \\| South Africa" in text  # a '|' in an answer cannot break the table
    # The side-by-side file holds the first [evaluate] side_by_side questions, not all of them: the card says so.
    assert "The answers to the first 3 of the 40 held-out questions, side by side" in text
    assert "accuracy above counts all 40" in text
    # Every [card] field written in project.toml appears word for word.
    from scripts.config import load_settings

    cfg = load_settings(card_project)
    for name in ("intended_use", "out_of_scope_use", "limitations", "data_sources", "anonymisation", "known_biases"):
        assert getattr(cfg.card, name) in text, name
    # Which detectors ran and what they cannot see, whatever the learner wrote; and who may be named.
    assert "Names of people were looked for by rules: a capitalised name after an honorific" in text
    assert 'It cannot see names with none of these cues in front of them' in text
    assert "People the data may name for their public role** (`[data] public_names`, left out of the scan): " + ", ".join(cfg.data.public_names) in text
    for name in ("learning_rate", "rank", "alpha", "dropout", "batch_size", "warmup_ratio", "seed", "max_length"):
        assert f"] {name}`" in text, name


def test_a_card_without_bias_probes_says_none_were_run(card_project):
    """[data] probes = "" is allowed: the card said "0 of 0 bias probe pairs were flagged", as if they had been run."""
    set_values(card_project, "data", probes="")
    probes_json = card_project.parent / "outputs" / "evaluate" / "probes.json"
    probes_json.write_text(json.dumps({"threshold": 0.1, "pairs": []}), encoding="utf-8")  # what evaluate writes then
    assert run_card(card_project) == 0
    text = (card_project.parent / "results" / "model" / "README.md").read_text()
    assert "0 of 0" not in text and "pairs were flagged" not in text
    assert "No bias probes\nwere run (`[data] probes` in project.toml is empty), so nothing on this card measures bias." in text
    assert ("### Bias probes\n\nNo bias probes were run: `[data] probes` in project.toml is empty, so this adapter's "
            "answers were not compared\nbetween groups.") in text  # fmt: skip


def rewrite_eval_metrics(card_project: Path, change) -> None:
    cfg = load_settings(card_project)
    metrics = read_evaluate_metrics(cfg)
    change(metrics)
    write_evaluate_metrics(cfg, metrics)


def test_nothing_untaught_and_nothing_lost_are_one_phrase_each(card_project):
    def change(metrics):
        metrics.by_taught.taught.questions = 40
        metrics.by_taught.untaught = TaughtGroup(questions=0, base_correct=0, base_accuracy=None, tuned_correct=0, tuned_accuracy=None)
        metrics.general_knowledge = GeneralKnowledge(
            file="datasets/general_knowledge.jsonl", questions=20, base_correct=20, tuned_correct=20, kept=20,
            summary="20 of 20 general questions still answered right; none lost",
        )  # fmt: skip

    rewrite_eval_metrics(card_project, change)
    assert run_card(card_project) == 0
    text = (card_project.parent / "results" / "model" / "README.md").read_text()
    assert "**Taught and untaught facts:** All 40 held-out questions ask about facts the training data teaches: none is untaught." in text
    assert "Facts never taught" not in text  # no table of zeros
    assert "20 of the 20 the base model got right are still answered\nright;\nnone was lost.\nAll answers are in" in text


def test_a_skipped_forgetting_check_is_said_in_the_card(card_project):
    def change(metrics):
        metrics.general_knowledge = GeneralKnowledge(file="", summary="general-knowledge check skipped")

    rewrite_eval_metrics(card_project, change)
    assert run_card(card_project) == 0
    text = (card_project.parent / "results" / "model" / "README.md").read_text()
    assert "**Forgetting:** not measured (`[evaluate] general_knowledge` is empty in project.toml)." in text


def test_metrics_from_an_older_evaluate_ask_for_a_new_run(card_project, capsys):
    path = evaluate_metrics_path(load_settings(card_project))
    older = json.loads(path.read_text())  # as an evaluate step before the paired test wrote it
    del older["paired_test"]
    path.write_text(json.dumps(older))
    assert run_card(card_project) == 2
    assert "has no paired_test" in capsys.readouterr().err


def test_front_matter_is_what_the_hub_accepts(card_project):
    """Parsed locally with huggingface_hub's ModelCard (ModelCard.validate() needs the network)."""
    from scripts.card import HUB_CARD_FIELDS

    assert run_card(card_project) == 0
    card = front_matter_card((card_project.parent / "results" / "model" / "README.md").read_text())
    data = card.data.to_dict()
    assert set(data) <= HUB_CARD_FIELDS
    assert data["license"] == "apache-2.0" and data["language"] == ["en"]
    assert data["base_model"] == BASE_ID and data["library_name"] == "peft" and data["pipeline_tag"] == "text-generation"
    assert {"lora", "sft", "trl", "namibia-qa"} <= set(data["tags"])
    assert "datasets" not in data  # the data is not a public Hub dataset
    assert data["co2_eq_emissions"]["training_type"] == "fine-tuning"
    # Only the tuned model's results: the Hub shows each model-index entry as this model's score.
    results = {result.metric_name: result for result in card.data.eval_results}
    assert set(results) == {"Accuracy", "Perplexity"}
    assert results["Accuracy"].metric_value == 0.15 and results["Accuracy"].metric_type == "accuracy"
    assert results["Perplexity"].metric_value == 3.543 and results["Perplexity"].metric_type == "perplexity"
    assert card.data.model_name == "namibia-qa"
    # The base model's figures stay in the comparison table; framework versions, citation and contact follow.
    table = next(line for line in card.text.splitlines() if line.startswith("| Accuracy |"))
    assert "(2 of 40;" in table and "(6 of 40;" in table  # base, then tuned
    import peft

    assert f"- PEFT {peft.__version__}" in card.text
    assert "@misc{learner_namibia_qa_" in card.text and "\\url{https://huggingface.co/learner/namibia-qa}" in card.text
    assert "## Contact" in card.text


def test_adapter_is_float16_close_to_the_trained_weights_and_points_at_the_hub_id(card_project, tiny_adapter_dir):
    import torch
    from safetensors.torch import load_file

    assert run_card(card_project) == 0
    model = card_project.parent / "results" / "model"
    trained = load_file(tiny_adapter_dir / "adapter_model.safetensors")
    stored = load_file(model / "adapter_model.safetensors")
    assert stored.keys() == trained.keys()
    for name, tensor in stored.items():
        assert tensor.dtype == torch.float16
        assert torch.allclose(tensor.float(), trained[name].float(), atol=1e-3, rtol=1e-3)
    config = json.loads((model / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == BASE_ID
    assert "float16" in (model / "README.md").read_text()


def test_full_precision_keeps_the_trained_weights(card_project, tiny_adapter_dir):
    from safetensors.torch import load_file

    assert run_card(card_project, "--full-precision") == 0
    stored = load_file(card_project.parent / "results" / "model" / "adapter_model.safetensors")
    trained = load_file(tiny_adapter_dir / "adapter_model.safetensors")
    assert all(stored[name].equal(trained[name]) for name in trained)


def test_rendering_twice_gives_identical_bytes(card_project):
    """A re-run with nothing changed must not change any file, or publish would make a needless commit."""
    assert run_card(card_project) == 0
    manifest = card_project.parent / "results" / "manifest.json"
    first = json.loads(manifest.read_text())["repos"]["model"]["files"]
    assert run_card(card_project) == 0
    assert json.loads(manifest.read_text())["repos"]["model"]["files"] == first


def test_the_dataset_card_is_linked_from_the_model_card_only_when_public(card_project):
    assert run_card(card_project) == 0
    model_card = card_project.parent / "results" / "model" / "README.md"
    assert "datasets" not in front_matter_card(model_card.read_text()).data.to_dict()  # private: no dead link
    set_values(card_project, "publish", dataset_private=False)
    assert run_card(card_project) == 0
    assert front_matter_card(model_card.read_text()).data.to_dict()["datasets"] == ["learner/namibia-qa-data"]


def link_targets(markdown: str) -> list[str]:
    """Every link and image address in rendered markdown, found by markdown-it (CommonMark), not by card.py's pattern."""
    from markdown_it import MarkdownIt

    targets = []
    for block in MarkdownIt("commonmark").enable("table").parse(markdown):
        for token in block.children or []:
            if token.type in ("link_open", "image"):
                targets.append(token.attrs["href"] if token.type == "link_open" else token.attrs["src"])
    return targets


HUB_DATASET = "https://huggingface.co/datasets/learner/namibia-qa-data/blob/main/"
LINKS_IN_THE_DATASHEET = (
    "\nSee [the training file](train.jsonl#L2), [the probes](./probes.jsonl), [the mentor guide](../docs/mentor.md), "
    "[the rubric](#8-licence), [SmolLM2](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct), "
    "[gone](../docs/missing.md) and `[in code](../docs/mentor.md)`.\n"
)


@pytest.mark.parametrize("remote", ["known", "unknown"])
def test_the_dataset_cards_relative_links_work_on_the_hub(card_project, monkeypatch, remote):
    """On the Hub the card is at huggingface.co/datasets/<repo>, where `../docs/x.md` would be a dead link."""
    project = card_project.parent
    shutil.copytree(REPO / "docs", project / "docs")  # the files the bundled datasheet links to
    datasheet = project / "datasets" / "README.md"
    datasheet.write_text(datasheet.read_text() + LINKS_IN_THE_DATASHEET)
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)  # set when the tests run in GitHub Actions
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    if remote == "known":
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
        monkeypatch.setenv("GITHUB_REPOSITORY", "ada/namibia-qa")
    assert run_card(card_project) == 0
    card = (project / "results" / "dataset" / "README.md").read_text()

    targets = link_targets(card)
    assert all(re.match(r"^(https://|#)", target) for target in targets), targets  # nothing relative is left
    # Files the dataset repo holds are linked there, whatever the remote.
    assert HUB_DATASET + "train.jsonl#L2" in targets and HUB_DATASET + "probes.jsonl" in targets
    # Others lead to the project on GitHub when its address is known, else they become plain text.
    github = "https://github.com/ada/namibia-qa/blob/main/"
    if remote == "known":
        assert github + "docs/general_knowledge.md" in targets and github + "docs/mentor.md" in targets
    else:
        assert not [target for target in targets if "github.com" in target]
        assert "[docs/general_knowledge.md]" not in card and "(docs/general_knowledge.md)" in card
        assert "the mentor guide (`docs/mentor.md` in the project's files)" in card
    # Absolute links, anchors, code and a file the project lacks are not made into links to nowhere.
    assert "#8-licence" in targets and "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct" in targets
    assert "gone (`docs/missing.md` in the project's files)" in card and "`[in code](../docs/mentor.md)`" in card


@pytest.mark.parametrize("problem", ["no front matter", "no license", "stale report"])
def test_a_datasheet_or_report_the_dataset_card_cannot_use_stops_before_anything_is_written(card_project, problem, capsys):
    datasheet = card_project.parent / "datasets" / "README.md"
    text = datasheet.read_text()
    if problem == "no front matter":
        datasheet.write_text(text.split("---\n", 2)[2])
        expected = f"{datasheet}:1: no front matter; start the file with three lines: ---, `license: cc-by-4.0`"
    elif problem == "no license":
        datasheet.write_text(text.replace("license: cc-by-4.0\n", ""))
        expected = f"{datasheet}:1: the front matter has no license; add a line `license: cc-by-4.0`"
    else:
        counts = replace(validate_report().counts, train=279)
        write_validate_report(card_project.parent / "outputs" / "validate", validate_report(counts=counts))
        expected = "train.jsonl: 280 records, but validate counted 279; run `python -m scripts validate` again"
    assert run_card(card_project) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and err.count("\n") == 1, err
    assert not (card_project.parent / "results").exists()  # no partial output


@pytest.mark.parametrize("saved_as", ["a blank line in the front matter", "a byte order mark and CRLF"])
def test_the_card_quotes_the_datasheets_first_paragraph_not_its_front_matter(card_project, saved_as):
    """Both pass validate (the YAML is valid); reading the raw text, the card quoted YAML as the datasheet's intro."""
    datasheet = card_project.parent / "datasets" / "README.md"
    text = datasheet.read_text(encoding="utf-8")
    if saved_as == "a blank line in the front matter":
        datasheet.write_text(text.replace("pretty_name:", "\npretty_name:", 1), encoding="utf-8")
    else:  # as Notepad on Windows saves it
        datasheet.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert run_card(card_project) == 0
    card = (card_project.parent / "results" / "model" / "README.md").read_text(encoding="utf-8")
    quote = next(line for line in card.splitlines() if line.startswith("> From the datasheet"))
    assert quote.startswith("> From the datasheet (`datasets/README.md`): This folder holds the small example dataset"), quote
    assert "pretty_name" not in card and "task_categories:" not in card.split("\n---\n", 1)[1]


def test_card_keeps_the_space_entry_of_the_manifest(card_project):
    from scripts.config import load_settings
    from scripts.manifest import record_tree

    cfg = load_settings(card_project)
    space = card_project.parent / "results" / "space"
    space.mkdir(parents=True)
    (space / "index.html").write_text("<h1>demo</h1>")
    record_tree(cfg, "space", space, "learner/namibia-qa-demo", repo_type="space", space_sdk="static")
    assert run_card(card_project) == 0
    repos = json.loads((card_project.parent / "results" / "manifest.json").read_text())["repos"]
    assert set(repos) == {"space", "model", "dataset"} and repos["space"]["files"][0]["path"] == "index.html"


def test_usage_snippet_runs_against_the_tiny_model_and_adapter(card_project, tiny_model_dir):
    """The card's Python code, with the Hub ids swapped for local folders, loads the adapter and generates."""
    assert run_card(card_project) == 0
    model_dir = card_project.parent / "results" / "model"
    text = (model_dir / "README.md").read_text()
    code = re.search(r"```python\n(.*?)\n```", text, re.DOTALL).group(1)
    assert f'base_id = "{BASE_ID}"' in code and 'adapter_id = "learner/namibia-qa"' in code
    code = code.replace(f'base_id = "{BASE_ID}"', f"base_id = {str(tiny_model_dir)!r}")
    code = code.replace('adapter_id = "learner/namibia-qa"', f"adapter_id = {str(model_dir)!r}")
    code += "\nassert isinstance(model, PeftModel)\nprint('SNIPPET-OK')\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SNIPPET-OK" in result.stdout


def test_a_newline_in_project_toml_cannot_add_front_matter_keys(card_project):
    """Values are serialised (huggingface_hub's ModelCardData.to_yaml), so `\\nkey: value` stays inside its value."""
    import yaml

    injected = 'en\nsdk: docker\nevil: "yes"'  # (the licence is checked against the Hub's list, so not there)
    set_values(card_project, "project", languages=[injected])
    assert run_card(card_project) == 0
    text = (card_project.parent / "results" / "model" / "README.md").read_text()
    header = yaml.safe_load(text.split("---\n", 2)[1])
    assert not {"sdk", "evil"} & set(header) and header["language"] == [injected]
    assert front_matter_card(text).data.to_dict()["language"] == [injected]  # huggingface_hub's own parser agrees


def test_local_base_model_is_not_named_as_a_hub_model(tmp_path, tiny_model_dir, tiny_adapter_dir):
    config = make_project(tmp_path, tiny_model_dir)
    write_outputs(tmp_path, tiny_adapter_dir, base=str(tiny_model_dir))
    assert run_card(config) == 0
    text = (tmp_path / "results" / "model" / "README.md").read_text()
    data = front_matter_card(text).data.to_dict()
    assert "base_model" not in data
    assert "a local folder, not on the Hub" in text
    assert "your-username/namibia-qa" in text  # hub_owner is empty: a visible placeholder, and a note
    assert json.loads((tmp_path / "results" / "manifest.json").read_text())["repos"]["model"]["repo_id"] is None


# ---------------------------------------------------------------- mistakes a learner can make


def test_empty_ethics_fields_fail_with_exit_2_naming_them(card_project, capsys):
    set_values(card_project, "card", intended_use="", known_biases="  ")
    assert run_card(card_project) == 2
    error = capsys.readouterr().err
    line = next(n for n, text in enumerate(card_project.read_text().splitlines(), 1) if text.startswith("intended_use ="))
    assert error.count("\n") == 1 and error.startswith(f"error: {card_project}:{line} [card]: fill in intended_use (who the model is for)")
    assert "known_biases (whom the data under- or over-represents)" in error
    assert "out_of_scope_use" not in error
    assert not (card_project.parent / "results").exists()


def test_missing_evaluation_says_which_step_to_run(card_project, capsys):
    shutil.rmtree(card_project.parent / "outputs" / "evaluate")
    assert run_card(card_project) == 2
    assert "run `python -m scripts evaluate` first" in capsys.readouterr().err
    assert not (card_project.parent / "results").exists()


def test_outputs_of_another_base_model_are_refused(card_project, capsys):
    set_values(card_project, "model", base="HuggingFaceTB/SmolLM2-360M-Instruct")
    assert run_card(card_project) == 2
    assert "run `python -m scripts train` and `python -m scripts evaluate` again" in capsys.readouterr().err


def test_adapter_newer_than_the_evaluation_is_refused(card_project, capsys):
    adapter = card_project.parent / "outputs" / "train" / "adapter" / "adapter_model.safetensors"
    later = evaluate_metrics_path(load_settings(card_project)).stat().st_mtime + 60
    os.utime(adapter, (later, later))
    assert run_card(card_project) == 2
    assert "run `python -m scripts evaluate` again" in capsys.readouterr().err


def test_unknown_licence_is_refused_with_a_suggestion(card_project, capsys):
    set_values(card_project, "project", license="apache2")
    assert run_card(card_project) == 2
    assert "did you mean apache-2.0?" in capsys.readouterr().err


@pytest.mark.parametrize(
    "changed, error",
    [
        ("{{ descripton }}", "descripton"),  # a value the card step does not provide
        ("{% raw %}{{ description }}{% endraw %}", "the rendered card still has Jinja syntax on line"),  # left by the template
    ],
)
def test_a_broken_template_fails_loudly_and_writes_nothing(card_project, capsys, changed, error):
    template = (REPO / "model_card.j2").read_text().replace("{{ description }}", changed)
    (card_project.parent / "model_card.j2").write_text(template)
    assert run_card(card_project) == 2
    assert error in capsys.readouterr().err
    assert not (card_project.parent / "results").exists()


def test_a_model_reply_with_template_braces_is_shown_as_written(card_project):
    """Models write "{{ name }}" when asked about templates: the card step after training must not stop for that."""
    rows = side_by_side()
    rows[0]["tuned"] = "Write {{ name }} or {% if %} in the template."
    (card_project.parent / "outputs" / "evaluate" / "side_by_side.json").write_text(json.dumps(rows))
    assert run_card(card_project) == 0
    assert "Write {{ name }} or {% if %} in the template." in (card_project.parent / "results" / "model" / "README.md").read_text()


def test_a_report_from_an_older_validate_step_says_not_reported(card_project, capsys):
    report = validate_report_path(load_settings(card_project))
    older = {key: value for key, value in json.loads(report.read_text()).items()
             if key not in ("personal_data_scan", "tokens_per_word", "facts")}  # fmt: skip
    for check in older["checks"]:
        del check["in_terminal"], check["unlisted"]  # before 2026-12-06 and 2026-11-29
    report.write_text(json.dumps(older))
    assert run_card(card_project) == 0
    warning = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:"))
    assert "has no personal_data_scan" in warning, warning
    card = (card_project.parent / "results" / "model" / "README.md").read_text()
    assert "| Training examples | 280 |" in card and "not reported" in card


def test_an_incomplete_report_stops_the_card_with_one_sentence(card_project, capsys):
    report = validate_report_path(load_settings(card_project))
    report.write_text(json.dumps({"verdict": "pass"}))
    assert run_card(card_project) == 2
    err = capsys.readouterr().err
    assert f"{report}: has no headline, files, counts" in err and "run `python -m scripts validate` again" in err, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert not (card_project.parent / "results").exists()


# ---------------------------------------------------------------- the real steps, end to end


def test_real_steps_on_the_tiny_model_feed_the_card_and_the_dry_run(tmp_path, tiny_model_dir):
    """validate, train (2 steps), evaluate, card and publish --dry-run through the CLI (in this process: faster)."""
    config = make_project(tmp_path, tiny_model_dir)
    for name, keep in (("train.jsonl", 20), ("eval.jsonl", 4), ("probes.jsonl", 2)):  # fewer lines: a faster test
        path = tmp_path / "datasets" / name
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:keep]), encoding="utf-8")
    set_values(config, "train", max_steps=2, batch_size=4, logging_steps=1, precision="fp32")
    set_values(config, "evaluate", max_new_tokens=4, side_by_side=3, batch_size=8)
    for step in ("validate", "train", "evaluate", "card"):
        assert cli([step, "--config", str(config)]) == 0, step
    assert cli(["publish", "--dry-run", "--config", str(config)]) == 0
    text = (tmp_path / "results" / "model" / "README.md").read_text()
    assert "{{" not in text and "not reported" not in text
    manifest = json.loads((tmp_path / "results" / "manifest.json").read_text())
    for item in manifest["repos"]["model"]["files"]:
        copy = tmp_path / "outputs" / "publish" / "model" / item["path"]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == item["sha256"]


def test_the_bundled_card_text_quotes_no_measured_counts():
    # The [card] text is written by hand once; figures measured by a run ("16 of 21 ... (all 21 before)") go stale
    # with the next training and then contradict the Evaluation section the card step writes from metrics.json.
    import tomllib

    card = tomllib.loads((REPO / "project.toml").read_text(encoding="utf-8"))["card"]
    for name, text in card.items():
        assert not re.search(r"\b\d+ of \d+\b|\ball \d+ before\b", text), f"[card] {name} quotes a measured count: {text}"
