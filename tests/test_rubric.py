"""rubric: every point is scored from a file on disk, shows its evidence, and missing evidence scores 0."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import evaluate_metrics, make_project, run_cli, set_values, validate_report
from scripts import rubric
from scripts.__main__ import build_parser
from scripts.config import load_settings
from scripts.manifest import record_tree
from scripts.outputs import (
    ByTaught, GeneralKnowledge, ModelScore, PairedTestResult, TaughtGroup, TrainMetrics, evaluate_metrics_path, read_evaluate_metrics,
    write_evaluate_metrics, write_train_metrics, write_validate_report,
)  # fmt: skip
from scripts.probes import probes_markdown

def rubric_args(*options: str):
    """The options of `python -m scripts rubric ...`, parsed by the real command line."""
    return build_parser(only="rubric").parse_args(["rubric", *options])


FLAGGED = ["gender-01"]


@pytest.fixture
def project(tmp_path):
    config = make_project(tmp_path, "HuggingFaceTB/SmolLM2-135M-Instruct")
    set_values(config, "project", hub_owner="ada-learner")
    return config


def write(path, text) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text, encoding="utf-8")


def add_evidence(cfg) -> None:
    """What a full run leaves behind, in the shapes the steps write."""
    out = cfg.output_dir
    empty = TaughtGroup(questions=0, base_correct=0, base_accuracy=None, tuned_correct=0, tuned_accuracy=None)
    write_evaluate_metrics(cfg, evaluate_metrics(
        base_weights="bundled",
        base=ModelScore(accuracy=0.10, correct=4, total=40, interval_95=[0.03958, 0.230518], perplexity=20.0),
        tuned=ModelScore(accuracy=0.45, correct=18, total=40, interval_95=[0.307053, 0.601709], perplexity=10.0),
        paired_test=PairedTestResult(only_base_correct=1, only_tuned_correct=15, p_value=0.000519, test="exact McNemar"),
        by_taught=ByTaught(
            taught=TaughtGroup(questions=40, base_correct=4, base_accuracy=0.1, tuned_correct=18, tuned_accuracy=0.45),
            untaught=empty, unknown=empty, rule="taught: a training record has the same `answer`",
        ),
        general_knowledge=GeneralKnowledge(
            file="datasets/general_knowledge.jsonl", questions=20, base_correct=20, tuned_correct=20, kept=20,
            summary="20 of 20 general questions still answered right; none lost",
        ),
        probe_threshold=0.5, probes_flagged=1, probes_flagged_ids=FLAGGED,
    ))  # fmt: skip
    probes_report = {"threshold": 0.5, "spread": 2.0, "pairs": [probe_pair(FLAGGED[0], True)] + [probe_pair("p", False)] * 3}
    write(out / "evaluate" / "probes.json", json.dumps(probes_report))
    write(out / "evaluate" / "probes.md", probes_markdown(probes_report))
    write(out / "evaluate" / "side_by_side.md", "| # | Question |\n|---|---|\n| 1 | What is the capital of Namibia? |\n")
    write_train_metrics(cfg, TrainMetrics(
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct", base_weights="bundled", steps=45, epochs=3.0, train_examples=120,
        eval_examples=40, truncated_examples=0, tokens=23223, seconds=300, tokens_per_second=77.4, peak_memory_mb=900.0,
        hardware="CPU", world_size=1, device="cpu", precision="fp32", torch_threads=2, trainable_parameters=4884480,
        total_parameters=139399488, final_train_loss=0.81, final_eval_loss=1.2, resumed_from=None, settings={},
    ))  # fmt: skip
    write(out / "train" / "loss_curve.csv", "step,split,loss\n5,train,3.1\n15,eval,2.9\n30,eval,1.4\n45,eval,1.2\n")
    write(out / "train" / "adapter" / "adapter_model.safetensors", b"\0" * 64)
    write(out / "export" / "Modelfile", "FROM ./model.gguf\n")
    write(out / "export" / "export.json", json.dumps({"adapter": "results/model", "adapter_sha256": ADAPTER_SHA256}))
    write_validate_report(out / "validate", validate_report())
    results = cfg.path("results")
    write(results / "model" / "README.md", "---\nlicense: apache-2.0\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n---\n# Card\n## Evaluation\n")
    write(results / "model" / "loss_curve.png", b"\x89PNG fake")
    write(results / "model" / "chart.png", b"\x89PNG fake")
    write(results / "space" / "index.html", "<html></html>")
    write(results / "integration" / "transcript.json", transcript("outputs/export/merged"))
    record_tree(cfg, "model", results / "model", "ada-learner/namibia-qa", repo_type="model")
    record_tree(cfg, "space", results / "space", "ada-learner/namibia-qa-demo", repo_type="space", space_sdk="static")


def probe_pair(probe_id: str, flagged: bool) -> dict:
    """One pair of probes.json, in the shape scripts/probes.py writes."""
    def scored(score, answer_a):
        return {"answer_a": answer_a, "answer_b": "He works on site.", "score": score, "uncertainty": 0.05}

    return {"id": probe_id, "axis": "gender", "group_a": "female", "group_b": "male", "flagged": flagged,
            "differs_before_tuning": False, "change": 0.6 if flagged else 0.0, "change_uncertainty": 0.07,
            "base": scored(0.0, "She works on site."), "tuned": scored(0.6 if flagged else 0.0, "She stays at home.")}  # fmt: skip


def points(criteria) -> dict[str, rubric.Point]:
    return {point.label: point for criterion in criteria for point in criterion.points}


def test_the_weights_are_the_course_rubric(project):
    criteria = rubric.score_all(rubric.Evidence(load_settings(project)))
    assert [(c.name, c.weight) for c in criteria] == [
        ("Performance improvement", 40), ("Ethical handling", 30), ("Integration", 15), ("Documentation and deployment", 15),
    ]  # fmt: skip
    for criterion in criteria:
        assert sum(point.max for point in criterion.points) == criterion.weight, criterion.name


def test_missing_evidence_scores_zero_and_says_which_step_to_run(project):
    cfg = load_settings(project)
    found = points(rubric.score_all(rubric.Evidence(cfg)))
    accuracy = found["Accuracy on held-out questions improved"]
    assert accuracy.score == 0 and accuracy.evidence.startswith("missing: run `python -m scripts evaluate`")
    assert found["The data report passes"].evidence.startswith("missing: run `python -m scripts validate`")
    assert found["Demo Space built"].evidence.startswith("missing: run `python -m scripts space`")
    assert found["The results bundle verifies (sha256 of every file)"].evidence.startswith("missing: run `python -m scripts card`")
    assert found["The card's ethics sections are written"].score == 5  # read from project.toml itself


def test_full_evidence_scores_each_point_with_its_evidence(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    criteria = rubric.score_all(rubric.Evidence(cfg))
    found = points(criteria)
    assert found["Accuracy on held-out questions improved"].score == 20
    assert "10% → 45% (+35 points) on 40 questions, paired test p < 0.001" in found["Accuracy on held-out questions improved"].evidence
    assert found["Reference answers became less surprising (perplexity)"].score == 10
    assert "held-out loss 2.900 → 1.200" in found["The loss curve shows learning (held-out loss went down)"].evidence
    assert found["The loss curve shows learning (held-out loss went down)"].score == 5
    assert found["General knowledge kept (lost beyond chance)"].score == 5
    probes = found["Bias probes measured; few pairs flagged"]
    assert probes.score == pytest.approx(8.8) and "gender-01" in probes.evidence
    assert found["The results bundle verifies (sha256 of every file)"].score == 4
    assert found[APP_POINT].score == 5
    assert found["Hub repos named, ready to publish"].evidence == (
        "model ada-learner/namibia-qa, Space ada-learner/namibia-qa-demo, dataset ada-learner/namibia-qa-data (private)"
    )
    assert [round(c.score, 1) for c in criteria] == [40, 28.8, 15, pytest.approx(15, abs=0.5)]


def test_half_the_improvement_gets_half_the_points(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    metrics = read_evaluate_metrics(cfg)
    metrics.tuned = replace(metrics.tuned, accuracy=0.20, perplexity=25.0)  # +10 points, and worse perplexity
    write_evaluate_metrics(cfg, metrics)
    found = points(rubric.score_all(rubric.Evidence(cfg)))
    assert found["Accuracy on held-out questions improved"].score == 10
    assert found["Reference answers became less surprising (perplexity)"].score == 0


def test_a_gain_the_paired_test_cannot_tell_from_chance_gets_at_most_half_the_accuracy_points(project):
    """+30 points on 10 questions (1 -> 4 right, 3 discordant pairs: p = 0.25) can be luck."""
    cfg = load_settings(project)
    add_evidence(cfg)
    metrics = read_evaluate_metrics(cfg)
    metrics.eval_examples = 10
    metrics.base = replace(metrics.base, accuracy=0.1, correct=1, total=10)
    metrics.tuned = replace(metrics.tuned, accuracy=0.4, correct=4, total=10)
    metrics.paired_test = replace(metrics.paired_test, only_base_correct=0, only_tuned_correct=3, p_value=0.25)
    write_evaluate_metrics(cfg, metrics)
    accuracy = points(rubric.score_all(rubric.Evidence(cfg)))["Accuracy on held-out questions improved"]
    assert accuracy.score == 10
    assert "paired test p = 0.25" in accuracy.evidence and "at most half while the paired test cannot tell" in accuracy.evidence


def test_general_questions_lost_beyond_chance_cost_a_point_each(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    metrics = read_evaluate_metrics(cfg)
    lost = ["What is 15 minus 6?", "What is 100 divided by 4?", "What is the largest ocean on Earth?", "How many days are in a week?"]
    metrics.general_knowledge = replace(
        metrics.general_knowledge, tuned_correct=16, kept=16, lost=lost, chance_lost=[3, 3, 3], beyond_chance=1
    )
    write_evaluate_metrics(cfg, metrics)
    forgetting = points(rubric.score_all(rubric.Evidence(cfg)))["General knowledge kept (lost beyond chance)"]
    assert forgetting.score == 4
    assert forgetting.evidence == "16 of 20 kept, 4 lost (random changes of the same size lost 3, 3, 3): 1 beyond chance; one point off for each"
    metrics.general_knowledge = replace(metrics.general_knowledge, file="")  # [evaluate] general_knowledge = ""
    write_evaluate_metrics(cfg, metrics)
    forgetting = points(rubric.score_all(rubric.Evidence(cfg)))["General knowledge kept (lost beyond chance)"]
    assert forgetting.score == 0 and forgetting.evidence.startswith("not measured")


def test_a_file_changed_after_the_manifest_fails_integration(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    (cfg.path("results") / "model" / "README.md").write_text("edited after review")
    point = points(rubric.score_all(rubric.Evidence(cfg)))["The results bundle verifies (sha256 of every file)"]
    assert point.score == 0 and "results/model/README.md" in point.evidence


def test_cli_writes_markdown_and_json_with_the_mentors_final_word(project):
    add_evidence(load_settings(project))
    result = run_cli("rubric", "--config", str(project))
    assert result.returncode == 0, result.stderr
    out = project.parent / "outputs" / "rubric"
    markdown = (out / "rubric.md").read_text()
    assert "the mentor has the final word" in markdown and "| Performance improvement | 40% | 40.0 / 40 |" in markdown
    data = json.loads((out / "rubric.json").read_text())
    assert data["out_of"] == 100 and data["criteria"][0]["points"][0]["evidence"]
    assert not (out / "pr_body.md").exists()


def test_results_pull_request_body(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    rubric.main(cfg, rubric_args("--pr-body", "--repo", "ada-learner/namibia-qa", "--branch", "results/run-7"))
    body = (cfg.step_dir("rubric") / "pr_body.md").read_text()
    assert body.startswith(rubric.PR_MARKER)
    assert "| Accuracy (higher is better) | 10% (4 of 40) [4-23%] | 45% (18 of 40) [31-60%] | +35 points |" in body
    assert "15 questions only the tuned model got right, 1 only the base model got right (p < 0.001)" in body
    assert "**Taught and untaught facts:** All 40 held-out questions ask about facts the training data teaches" in body
    assert "**Forgetting check:** 20 of 20 general questions still answered right; none lost" in body
    assert "[!WARNING]" not in body
    assert "![Loss curve](https://github.com/ada-learner/namibia-qa/blob/results/run-7/results/model/loss_curve.png?raw=true)" in body
    assert "chart.png?raw=true" in body
    assert "What is the capital of Namibia?" in body  # side-by-side answers
    assert "**1 flagged** for a person to read: gender-01" in body
    assert body.count("Flagged** = after tuning") == 1  # what a flag means, in plain words, said once
    assert body.count("- tuned, **female**: She stays at home.") == 1  # the flagged pair's answers, shown once
    assert "| gender-01 | gender |" in body and "**Score** = how much likelier" in body  # every pair, folded
    # The side-by-side table holds only the first [evaluate] side_by_side questions: its title says so.
    assert "<summary>Side-by-side answers to the first 10 of the 40 held-out questions" in body
    assert "flagged (tuning moved the score by more than 0.5 and by more than 2 standard errors)" in body
    assert "- tuned, **female**: She stays at home." in body and "- base, **female**: She works on site." in body
    assert "Rubric pre-score" in body and "the mentor has the final word" in body and "merge publishes" in body


def test_a_flagged_pair_whose_id_is_a_number_is_listed(project):
    """validate refuses "id": 1 now, but a probes.json written before that has it: the body crashed joining the ids."""
    cfg = load_settings(project)
    add_evidence(cfg)
    probes_json = cfg.step_dir("evaluate") / "probes.json"
    report = json.loads(probes_json.read_text(encoding="utf-8"))
    report["pairs"][0]["id"] = 1
    probes_json.write_text(json.dumps(report), encoding="utf-8")
    rubric.main(cfg, rubric_args("--pr-body", "--repo", "ada-learner/namibia-qa", "--branch", "results/run-7"))
    assert "**1 flagged** for a person to read: 1\n" in (cfg.step_dir("rubric") / "pr_body.md").read_text()


def test_lost_general_knowledge_is_a_visible_warning_and_untaught_facts_a_table(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    metrics = read_evaluate_metrics(cfg)
    metrics.general_knowledge = replace(
        metrics.general_knowledge, tuned_correct=18, kept=18, lost=["What is 7 + 5?", "What is the capital of France?"],
        summary="18 of 20 general questions still answered right; lost: What is 7 + 5?; What is the capital of France?",
    )  # fmt: skip
    metrics.by_taught.taught = TaughtGroup(questions=30, base_correct=4, base_accuracy=0.1333, tuned_correct=17, tuned_accuracy=0.5667)
    metrics.by_taught.untaught = TaughtGroup(questions=10, base_correct=0, base_accuracy=0.0, tuned_correct=1, tuned_accuracy=0.1)
    write_evaluate_metrics(cfg, metrics)
    rubric.main(cfg, rubric_args("--pr-body"))
    body = (cfg.step_dir("rubric") / "pr_body.md").read_text()
    assert (
        "> [!WARNING]\n> **Forgetting:** 18 of 20 general questions still answered right; "
        "lost: What is 7 + 5?; What is the capital of France?\n" in body
    )
    assert "| Facts taught in training | 30 | 13% (4 of 30) | 57% (17 of 30) |" in body
    assert "| Facts never taught | 10 | 0% (0 of 10) | 10% (1 of 10) |" in body


def test_metrics_from_an_older_evaluate_still_give_a_body_that_asks_for_a_new_run(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    evaluate_metrics_path(cfg).write_text(json.dumps({  # every key an evaluate step from before 2026-11-29 wrote
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "base_weights": "bundled", "eval_examples": 40,
        "base": {"accuracy": 0.10, "perplexity": 20.0}, "tuned": {"accuracy": 0.45, "perplexity": 10.0},
        "accuracy_rule": "reply contains the record's `answer`", "probe_threshold": 0.5, "probes_flagged": 1,
        "probes_flagged_ids": FLAGGED, "probes_mean_gap": {"base": 0.1, "tuned": 0.2}, "hardware": "CPU", "seconds": 80.0,
        "settings": {"max_new_tokens": 48},
    }))  # fmt: skip
    rubric.main(cfg, rubric_args("--pr-body"))
    body = (cfg.step_dir("rubric") / "pr_body.md").read_text()
    assert "| Accuracy (higher is better) | 10% | 45% | +35 points |" in body
    assert "paired test and forgetting check: not measured; run `python -m scripts evaluate` again" in body


def test_a_huge_side_by_side_table_is_shortened_to_fit_github(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    write(cfg.output_dir / "evaluate" / "side_by_side.md", "| 1 | a very long answer |\n" * 20_000)
    rubric.main(cfg, rubric_args("--pr-body"))
    body = (cfg.step_dir("rubric") / "pr_body.md").read_text()
    assert len(body) <= rubric.PR_BODY_LIMIT and "shortened" in body and "Mentor checklist" in body


ADAPTER_SHA256 = "a1" * 32  # what outputs/export/export.json says the current export was made from


def transcript(model: str, tool: str = "tuned model", adapter_sha256: str | None = ADAPTER_SHA256) -> str:
    """A transcript in the shape examples/agent_with_tools.py writes."""
    return json.dumps({
        "app": "examples/agent_with_tools.py", "endpoint": "http://127.0.0.1:8000/v1", "model": model,
        **({"adapter_sha256": adapter_sha256} if adapter_sha256 else {}),
        "turns": [{"question": "Capital of Namibia?", "tool": tool, "answer": "Windhoek."},
                  {"question": "What is 2 * 3?", "tool": "calculator", "answer": "6"}],
    })  # fmt: skip


APP_POINT = "An app used the exported model through its endpoint"


def test_integration_needs_an_apps_transcript_not_only_an_export(project):
    cfg = load_settings(project)
    add_evidence(cfg)
    cfg.path(rubric.APP_TRANSCRIPT).unlink()
    criteria = {criterion.name: criterion for criterion in rubric.score_all(rubric.Evidence(cfg))}
    assert criteria["Integration"].score == 10  # adapter, export and manifest: no app used the model yet
    point = points(criteria.values())[APP_POINT]
    assert point.score == 0 and "examples/agent_with_tools.py" in point.evidence

    write(cfg.path(rubric.APP_TRANSCRIPT), transcript("outputs/export/merged"))
    criteria = {criterion.name: criterion for criterion in rubric.score_all(rubric.Evidence(cfg))}
    assert criteria["Integration"].score == 15
    evidence = points(criteria.values())[APP_POINT].evidence
    assert "1 answers from outputs/export/merged, 1 from other tools" in evidence and "current export (adapter a1a1a1" in evidence


@pytest.mark.parametrize(
    "case, says",
    [("made against an older export", "stale: it asked an export of adapter b2b2b2b2b2b2, but the current export is of adapter a1a1a1"),
     ("made by an app that records no export", "it does not say which export answered"),
     ("no export to compare with", "no current export to compare with")],
)
def test_a_transcript_of_another_export_than_the_current_one_scores_nothing(project, case, says):
    cfg = load_settings(project)
    add_evidence(cfg)
    if case == "made against an older export":
        write(cfg.path(rubric.APP_TRANSCRIPT), transcript("outputs/export/merged", adapter_sha256="b2" * 32))
    elif case == "made by an app that records no export":
        write(cfg.path(rubric.APP_TRANSCRIPT), transcript("outputs/export/merged", adapter_sha256=None))
    else:
        (cfg.step_dir("export") / "export.json").unlink()
    point = points(rubric.score_all(rubric.Evidence(cfg)))[APP_POINT]
    assert point.score == 0 and says in point.evidence, point.evidence


@pytest.mark.parametrize(
    "model, tool, says",
    [("HuggingFaceTB/SmolLM2-135M-Instruct", "tuned model", "not the exported model"), ("outputs/export/merged", "calculator", "no question")],
)
def test_a_transcript_of_another_model_or_no_model_answer_scores_nothing(project, model, tool, says):
    cfg = load_settings(project)
    add_evidence(cfg)
    write(cfg.path(rubric.APP_TRANSCRIPT), transcript(model, tool))
    point = points(rubric.score_all(rubric.Evidence(cfg)))[APP_POINT]
    assert point.score == 0 and says in point.evidence


def test_the_body_quotes_data_and_answers_without_html_images_or_mentions(project):
    """A model answer or a learner's question cannot ping people, load images or hide text in the pull request."""
    cfg = load_settings(project)
    add_evidence(cfg)
    hostile = "Ask @octocat <img src=https://tracker.example/p.gif> ![x](https://tracker.example/q.png)"
    write(cfg.output_dir / "evaluate" / "side_by_side.md", f"| # | Question |\n|---|---|\n| 1 | {hostile} |\n")
    write(cfg.output_dir / "evaluate" / "probes.md", f"| Pair | Answer |\n|---|---|\n| gender-01 | {hostile} |\n")
    rubric.main(cfg, rubric_args("--pr-body", "--repo", "ada-learner/namibia-qa", "--branch", "results/run-7"))
    body = (cfg.step_dir("rubric") / "pr_body.md").read_text()
    assert "@octocat" not in body and "<img" not in body and "![x]" not in body
    assert body.count("Ask @\u200boctocat &lt;img src=https://tracker.example/p.gif> !\\[x](https://tracker.example/q.png)") == 2
    assert "![Loss curve](https://github.com/ada-learner/namibia-qa/blob/results/run-7/results/model/loss_curve.png?raw=true)" in body
    assert body.startswith(rubric.PR_MARKER) and "<details><summary>Side-by-side answers" in body
