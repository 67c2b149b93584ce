"""The typed hand-offs between steps (scripts/outputs.py): written and read back unchanged, old files readable."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from scripts.errors import UserError
from scripts.outputs import RehearsalMetrics, TrainMetrics, published_json, read_train_metrics, train_metrics_path, write_train_metrics


class Project:
    """The one thing the readers and writers use of the settings: where each step's outputs go."""

    def __init__(self, root):
        self.root = root

    def step_dir(self, step):
        return self.root / "outputs" / step


def train_metrics() -> TrainMetrics:
    return TrainMetrics(
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct", base_weights="bundled", steps=45, epochs=3.0, train_examples=120,
        eval_examples=40, truncated_examples=0, tokens=23223, seconds=205.68, tokens_per_second=112.9, peak_memory_mb=4357.6,
        hardware="2-core AMD EPYC", world_size=1, device="cpu", precision="fp32", torch_threads=2,
        trainable_parameters=4884480, total_parameters=139399488, final_train_loss=0.8132, final_eval_loss=None,
        resumed_from=None, rehearsal=RehearsalMetrics(file="datasets/rehearsal.jsonl", examples=94, weight=1.0, batch_size=2,
                                                      first_kl=0.0, final_kl=0.0123),
        settings={"lora": {"rank": 16}, "train": {"seed": 42}, "max_length": 256},
    )  # fmt: skip


def test_train_metrics_come_back_as_written_in_the_same_bytes(tmp_path):
    cfg, metrics = Project(tmp_path), train_metrics()
    path = write_train_metrics(cfg, metrics)
    assert path == train_metrics_path(cfg) == tmp_path / "outputs" / "train" / "metrics.json"
    written = path.read_bytes()
    assert list(json.loads(written)) == [f for f in asdict(metrics)]  # keys in the dataclass's order
    assert written.startswith(b'{\n  "base_model": ')  # indent 2, as the train step always wrote it
    again = read_train_metrics(cfg)
    assert again == metrics and isinstance(again.rehearsal, RehearsalMetrics)
    write_train_metrics(cfg, again)
    assert path.read_bytes() == written
    assert published_json(again) == json.dumps(json.loads(written), indent=2, ensure_ascii=False).encode() + b"\n"


def test_train_metrics_without_rehearsal_from_an_older_train_step_are_read(tmp_path):
    cfg = Project(tmp_path)
    data = asdict(train_metrics())
    del data["rehearsal"]
    train_metrics_path(cfg).parent.mkdir(parents=True)
    train_metrics_path(cfg).write_text(json.dumps(data))
    assert read_train_metrics(cfg) == replace(train_metrics(), rehearsal=None)


def test_missing_train_metrics_are_none_and_incomplete_ones_a_clear_error(tmp_path):
    cfg = Project(tmp_path)
    assert read_train_metrics(cfg) is None
    data = asdict(train_metrics())
    del data["steps"], data["world_size"]
    train_metrics_path(cfg).parent.mkdir(parents=True)
    train_metrics_path(cfg).write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"outputs/train/metrics.json: has no steps, world_size \(written by an older "
                                        r"version of the train step\); run `python -m scripts train` again"):
        read_train_metrics(cfg)
    train_metrics_path(cfg).write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        read_train_metrics(cfg)


def test_a_misspelt_field_is_an_error_at_the_writer():
    with pytest.raises(TypeError):
        TrainMetrics(**{**asdict(train_metrics()), "final_loss": 0.8})
