"""The typed hand-offs between steps (scripts/outputs.py): written and read back unchanged, old files readable."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from conftest import REPO, evaluate_metrics, validate_report
from scripts.errors import UserError
from scripts.outputs import (
    EvaluateMetrics, GeneralKnowledge, ModelScore, RehearsalMetrics, ReportCounts, TrainMetrics, evaluate_metrics_path,
    published_json, read_evaluate_metrics, read_train_metrics, read_validate_report, train_metrics_path, validate_report_path,
    write_evaluate_metrics, write_train_metrics, write_validate_report,
)  # fmt: skip


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


# ---------------------------------------------------------------- evaluate


def test_evaluate_metrics_come_back_as_written_in_the_same_bytes(tmp_path):
    cfg, metrics = Project(tmp_path), evaluate_metrics()
    metrics.general_knowledge.lost = ["Où est Windhoek ?"]
    assert read_evaluate_metrics(cfg) is None  # evaluate has not run
    path = write_evaluate_metrics(cfg, metrics)
    assert path == evaluate_metrics_path(cfg) == tmp_path / "outputs" / "evaluate" / "metrics.json"
    written = path.read_bytes()
    assert list(json.loads(written)) == [f for f in asdict(metrics)]  # keys in the dataclass's order
    assert written.startswith(b'{\n  "base_model": ') and b'"only_base_correct": 1' in written  # indent 2, nested objects
    assert b'"O\\u00f9 est Windhoek ?"' in written  # ASCII with escapes, as evaluate always wrote it (the card publishes UTF-8)
    again = read_evaluate_metrics(cfg)
    assert again == metrics and isinstance(again.general_knowledge, GeneralKnowledge) and again.by_taught.taught.questions == 30
    write_evaluate_metrics(cfg, again)
    assert path.read_bytes() == written
    assert published_json(again) == json.dumps(json.loads(written), indent=2, ensure_ascii=False).encode() + b"\n"


def test_a_real_runs_evaluate_metrics_are_read_and_written_back_byte_for_byte(tmp_path):
    """metrics.json of a real run on the bundled example and default model (2026-12-07): the card publishes these bytes."""
    real = (REPO / "tests" / "fixtures" / "real_run" / "evaluate_metrics.json").read_bytes()
    cfg = Project(tmp_path)
    evaluate_metrics_path(cfg).parent.mkdir(parents=True)
    evaluate_metrics_path(cfg).write_bytes(real)
    metrics = read_evaluate_metrics(cfg)
    assert metrics.general_knowledge.beyond_chance == 1 and metrics.by_taught.untaught.tuned_accuracy is None
    write_evaluate_metrics(cfg, metrics)
    assert evaluate_metrics_path(cfg).read_bytes() == real


def test_evaluate_metrics_from_an_older_evaluate_step_are_read_with_what_it_did_not_measure_left_empty(tmp_path):
    cfg = Project(tmp_path)
    evaluate_metrics_path(cfg).parent.mkdir(parents=True)
    evaluate_metrics_path(cfg).write_text(json.dumps({  # before 2026-11-29: no intervals, paired test or forgetting check
        "base_model": "m", "base_weights": "w", "eval_examples": 40,
        "base": {"accuracy": 0.1, "perplexity": 20.0}, "tuned": {"accuracy": 0.45, "perplexity": 10.0},
        "accuracy_rule": "contains", "probe_threshold": 0.5, "probes_flagged": 0, "probes_flagged_ids": [],
        "probes_mean_gap": {"base": 0.1, "tuned": 0.2}, "hardware": "CPU", "seconds": 80.0, "settings": {},
    }))  # fmt: skip
    older = read_evaluate_metrics(cfg)
    assert older.tuned == ModelScore(accuracy=0.45, perplexity=10.0) and older.tuned.interval_95 is None
    assert older.paired_test is older.by_taught is older.general_knowledge is older.probes_mean_score is None
    assert older.probes_differ_before_tuning_ids == []


def test_a_forgetting_check_from_before_its_control_counts_every_loss_as_beyond_chance(tmp_path):
    cfg = Project(tmp_path)
    data = asdict(evaluate_metrics(general_knowledge=GeneralKnowledge(file="g.jsonl", questions=3, base_correct=3, kept=1, lost=["a", "b"])))
    for key in ("chance_lost", "lost_by_chance_too", "beyond_chance"):  # before 2026-12-07
        del data["general_knowledge"][key]
    evaluate_metrics_path(cfg).parent.mkdir(parents=True)
    evaluate_metrics_path(cfg).write_text(json.dumps(data))
    general = read_evaluate_metrics(cfg).general_knowledge
    assert general.beyond_chance == 2 and general.chance_lost == []


def test_incomplete_evaluate_metrics_are_a_clear_error(tmp_path):
    cfg = Project(tmp_path)
    data = asdict(evaluate_metrics())
    del data["seconds"], data["tuned"]["perplexity"]
    evaluate_metrics_path(cfg).parent.mkdir(parents=True)
    evaluate_metrics_path(cfg).write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"outputs/evaluate/metrics.json: has no seconds \(written by an older version of the "
                                        r"evaluate step\); run `python -m scripts evaluate` again"):
        read_evaluate_metrics(cfg)
    data["seconds"] = 1.0
    evaluate_metrics_path(cfg).write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"metrics.json: has no perplexity"):
        read_evaluate_metrics(cfg)
    data["tuned"]["perplexity"], data["by_taught"] = 3.0, "taught"
    evaluate_metrics_path(cfg).write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"metrics.json: a JSON object was expected, not str"):
        read_evaluate_metrics(cfg)


def test_a_misspelt_evaluate_field_is_an_error_at_the_writer():
    with pytest.raises(TypeError):
        EvaluateMetrics(**{**vars(evaluate_metrics()), "probes_flaged": 1})


def test_a_real_validate_report_is_read_and_written_back_byte_for_byte(tmp_path):
    """report.json of validate on the bundled example (2026-12-07, written before the report was typed)."""
    real = (REPO / "tests" / "fixtures" / "real_run" / "validate_report.json").read_bytes()
    cfg = Project(tmp_path)
    write_validate_report(validate_report_path(cfg).parent, validate_report())  # makes the folder
    validate_report_path(cfg).write_bytes(real)
    report = read_validate_report(cfg)
    assert report.counts.train == 280 and report.check("hub_names").status == "warn"
    assert report.problems[0].line == 15 and report.personal_data_scan.public_names[0] == "Sam Nujoma"
    write_validate_report(validate_report_path(cfg).parent, report)
    assert validate_report_path(cfg).read_bytes() == real


def test_a_validate_report_from_an_older_validate_step_is_read_with_what_it_did_not_write_left_empty(tmp_path):
    cfg = Project(tmp_path)
    data = asdict(validate_report(tokens_per_word={"english_reference": 1.3, "languages": {}}, facts={"facts": 3}))
    for key in ("personal_data_scan", "tokens_per_word", "facts"):  # before 2026-11-29 (tokens_per_word: 2026-12-07)
        del data[key]
    for check in data["checks"]:
        del check["in_terminal"], check["unlisted"]  # before 2026-12-06 and 2026-11-29
    write_validate_report(validate_report_path(cfg).parent, validate_report())
    validate_report_path(cfg).write_text(json.dumps(data))
    older = read_validate_report(cfg)
    assert older.personal_data_scan is None and older.tokens_per_word is None and older.facts == {}
    assert older.check("personal_data").unlisted == 0 and older.check("personal_data").in_terminal is False


def test_a_missing_validate_report_is_none_and_an_incomplete_one_a_clear_error(tmp_path):
    cfg = Project(tmp_path)
    assert read_validate_report(cfg) is None
    data = asdict(validate_report())
    del data["headline"], data["counts"]["warnings"]
    write_validate_report(validate_report_path(cfg).parent, validate_report())
    validate_report_path(cfg).write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"outputs/validate/report.json: has no headline \(written by an older version of the "
                                        r"validate step\); run `python -m scripts validate` again"):
        read_validate_report(cfg)
    data["headline"] = "h"
    validate_report_path(cfg).write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"report.json: has no warnings"):
        read_validate_report(cfg)


def test_a_misspelt_report_count_is_an_error_at_the_writer():
    with pytest.raises(TypeError):
        ReportCounts(**{**vars(validate_report().counts), "warning": 1})
