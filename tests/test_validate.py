"""`python -m scripts validate`: every check names the file, line and field; exit codes 0, 1 and 2.

The main fixture (tests/fixtures/checks/) holds one problem per check, each on a
known line; EXPECTED below lists which line has which problem.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from conftest import REPO, make_project, set_values
from udhr import UDHR_ENGLISH, UDHR_GERMAN, UDHR_SETSWANA, UDHR_ZULU
from scripts.__main__ import main as cli
from scripts.config import load_settings
from scripts.data import load_examples
from scripts.hf_flavors import gpu_flavors
from scripts.similarity import SimilarityIndex
from scripts.validate import (
    PLACEHOLDER_PATTERNS,
    Datasets,
    LanguageDetector,
    audit_groups,
    audit_language_mix,
    Passage,
    check_duplicates,
    check_chat_markup,
    check_empty_turns,
    check_eval_key_facts,
    check_html_entities,
    check_leakage,
    check_near_duplicates,
    check_personal_data,
    check_placeholders,
    check_role_order,
    example_table,
    passages,
    render_chats,
    special_tokens,
)
from scripts.outputs import read_validate_report
from scripts.validate_report import staging_folder

FIXTURES = REPO / "tests" / "fixtures"


def setting(text: str, key: str, value: str) -> str:
    """project.toml text with `key = ...` set to `value` (a TOML literal)."""
    changed, count = re.subn(rf"^{key} = [^#\n]*", f"{key} = {value}  ", text, count=1, flags=re.MULTILINE)
    assert count == 1, key
    return changed


def fixture_project(folder: Path, model_dir: Path, source: str, **settings) -> Path:
    """A project whose datasets/ is a copy of tests/fixtures/<source>; returns its project.toml.

    The fixture folders hold no rehearsal or general-knowledge file, so rehearsal and the forgetting
    check are off unless a test sets them (tests/test_rehearsal.py checks validate with the real ones);
    the datasheet (datasets/README.md) is the bundled one, and the loss is logged at every step.
    """
    shutil.copytree(FIXTURES / source, folder / "datasets")
    shutil.copy(REPO / "datasets" / "README.md", folder / "datasets" / "README.md")
    text = setting((REPO / "project.toml").read_text(encoding="utf-8"), "base", f'"{model_dir}"')
    settings.setdefault("rehearsal_weight", "0.0")
    settings.setdefault("general_knowledge", '""')
    settings.setdefault("logging_steps", "1")  # the fixtures train for a few steps only: log each one
    settings.setdefault("hub_owner", '"ada-learner"')  # as a learner sets it before publishing (the bundled one is empty)
    for key, value in settings.items():
        text = setting(text, key, value)
    config = folder / "project.toml"
    config.write_text(text, encoding="utf-8")
    return config


def run_validate(config: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run(
        [sys.executable, "-m", "scripts", "validate", "--config", str(config)],
        cwd=REPO, capture_output=True, text=True, env=environment, timeout=300,
    )  # fmt: skip


def report_of(config: Path) -> dict:
    """report.json through its typed reader (so its shape is checked on every run), as a dict for the assertions."""
    return asdict(read_validate_report(load_settings(config)))


@pytest.fixture(scope="module")
def checks_run(tmp_path_factory, real_model_dir):
    config = fixture_project(tmp_path_factory.mktemp("checks"), real_model_dir, "checks", min_examples="5")
    return run_validate(config), config


@pytest.fixture(scope="module")
def checks_report(checks_run) -> dict:
    return report_of(checks_run[1])


EXPECTED = [
    # (check, severity, file, line, field, words in the message)
    ("answer_filled", "fail", "datasets/train.jsonl", 4, "messages[1].content", "the answer is empty"),
    ("ends_with_assistant", "fail", "datasets/train.jsonl", 5, "messages[2].role", '"user"'),
    ("role_order", "fail", "datasets/train.jsonl", 6, "messages[1].role", "system turn can only come first"),
    ("role_order", "fail", "datasets/train.jsonl", 7, "messages", "no user turn"),
    ("empty_turns", "fail", "datasets/train.jsonl", 8, "messages[0].content", "user turn is empty"),
    ("fits_max_length", "fail", "datasets/train.jsonl", 9, "messages[1].content", "tokens with the chat template; the limit is 256"),
    ("key_fact_in_answer", "fail", "datasets/train.jsonl", 10, "answer", '"Namibian dollar" does not appear'),
    ("exact_duplicates", "fail", "datasets/train.jsonl", 11, None, "same example as datasets/train.jsonl:1"),
    ("near_duplicates", "warn", "datasets/train.jsonl", 12, None, "similar to datasets/train.jsonl:2"),
    ("placeholders", "fail", "datasets/train.jsonl", 13, "messages[1].content", "{{name}}"),
    ("placeholders", "warn", "datasets/train.jsonl", 14, "messages[1].content", "[YOUR NAME]"),
    ("personal_data", "fail", "datasets/train.jsonl", 15, "messages[1].content", "an e-mail address (in•••) and a phone number"),
    ("personal_data", "fail", "datasets/probes.jsonl", 2, "prompt_a", "a phone number"),
    ("languages", "warn", "datasets/train.jsonl", 16, None, "German (de)"),
    ("category_balance", "warn", "datasets/train.jsonl", None, "category", '"astronomy" has only 1 of 25'),
    ("category_filled", "warn", "datasets/train.jsonl", 18, "category", "no category"),
    ("answer_filled", "fail", "datasets/train.jsonl", 25, None, "the answer is empty"),
    ("role_order", "fail", "datasets/train.jsonl", 25, None, "no user turn"),
    ("gendered_words", "warn", "datasets/train.jsonl", None, None, "mentions men 15 times and women 0 times"),
    ("train_eval_leakage", "fail", "datasets/eval.jsonl", 2, None, "same question as datasets/train.jsonl:3"),
    ("train_eval_leakage", "fail", "datasets/eval.jsonl", 4, None, "similar to the question at datasets/train.jsonl:2"),
    ("category_known", "warn", "datasets/eval.jsonl", 3, "category", '"sports"'),
    ("eval_key_facts", "warn", "datasets/eval.jsonl", 2, "answer", 'no `answer`, although 2 of 4 eval questions have one, '
                                                                    'so a reply is scored right only if it contains the whole '
                                                                    'reference answer ("The Atlantic Ocean.")'),
    ("eval_key_facts", "warn", "datasets/eval.jsonl", 3, "answer", "no `answer`, although 2 of 4 eval questions have one"),
    ("enough_examples", "warn", "datasets/eval.jsonl", None, None, "only 4 eval questions: even if the tuned model got all"),
    ("probe_pairs", "warn", "datasets/probes.jsonl", 2, "prompt_b", 'with "Katima Mulilo" swapped for "Windhoek": other words'),
    # 19 of 20 facts are taught once (line 11 is a copy of line 1, not a new phrasing); the first 5 are named.
    ("fact_phrasings", "warn", "datasets/train.jsonl", 1, "answer", '"Windhoek" is taught in only one phrasing'),
    ("fact_phrasings", "warn", "datasets/train.jsonl", 3, "messages[1].content", "the fact in this answer is taught in only one"),
    ("fact_phrasings", "warn", "datasets/train.jsonl", 6, "messages[2].content", "the fact in this answer is taught in only one"),
    ("fact_phrasings", "warn", "datasets/train.jsonl", 7, "messages[1].content", "the fact in this answer is taught in only one"),
    ("fact_phrasings", "warn", "datasets/train.jsonl", 8, "messages[1].content", "the fact in this answer is taught in only one"),
]


@pytest.mark.parametrize("check, severity, file, line, field, words", EXPECTED, ids=[f"{row[0]}-{row[3]}" for row in EXPECTED])
def test_each_problem_names_its_place(checks_report, check, severity, file, line, field, words):
    matches = [
        problem for problem in checks_report["problems"]
        if (problem["check"], problem["file"], problem["line"], problem["field"]) == (check, file, line, field)
    ]  # fmt: skip
    assert matches, f"no {check} problem at {file}:{line} {field}"
    assert matches[0]["severity"] == severity
    assert words in matches[0]["message"]
    assert matches[0]["fix"]


def test_nothing_else_is_reported(checks_report):
    expected = {(row[0], row[2], row[3]) for row in EXPECTED}
    reported = {(problem["check"], problem["file"], problem["line"]) for problem in checks_report["problems"]}
    assert reported == expected


def test_failed_checks_exit_1_with_a_short_summary(checks_run, checks_report):
    result, config = checks_run
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("❌ Not ready to train")
    assert "FAIL  No personal data or secrets (2 found)" in result.stdout
    assert f"Report: {config.parent / 'outputs' / 'validate' / 'report.md'}" in result.stdout
    assert checks_report["verdict"] == "fail"
    assert checks_report["counts"] == {
        "train": 25, "eval": 4, "probes": 2, "checks_failed": 10, "checks_warned": 10, "problems": 15, "warnings": 30,
    }  # fmt: skip
    assert checks_report["token_lengths"]["over_limit"] == 1
    assert checks_report["token_lengths"]["train"]["max"] > 256


def test_report_md_is_readable_and_keeps_personal_data_out(checks_run):
    markdown = (checks_run[1].parent / "outputs" / "validate" / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Data check: ❌ Not ready to train: 10 checks failed")
    assert "| No personal data or secrets | ❌ fail |" in markdown
    assert '- `datasets/train.jsonl:15 field "messages[1].content"`: contains an e-mail address' in markdown
    assert "**What to do:** Run `python -m scripts anonymize FILE`" in markdown
    assert "## Diversity audit" in markdown and "## Token lengths" in markdown
    assert "**What to do:** A model that has seen a fact in one phrasing stores it but rarely retrieves it" in markdown
    assert "- … and 14 more like these (only the first 5 are named, here and in report.json)" in markdown
    assert "## Personal data: what the scan cannot see" in markdown
    assert "Names of people are found by rules: a capitalised name after an honorific" in markdown
    assert "⚠️ The scan cannot see names with none of these cues in front of them" in markdown
    for secret in ("info@visit-namibia", "290 6000", "081 234 5678"):
        assert secret not in markdown


def test_every_output_is_written(checks_run):
    out = checks_run[1].parent / "outputs" / "validate"
    assert sorted(path.name for path in out.iterdir()) == ["data_docs", "report.json", "report.md", "token_lengths.png"]
    assert (out / "token_lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    docs = out / "data_docs"
    assert (docs / "index.html").is_file()
    validation_pages = list((docs / "validations").rglob("*.html"))
    assert len(validation_pages) == 1
    assert "Examples fit in 256 tokens" in validation_pages[0].read_text(encoding="utf-8")
    # Offline, the index page is empty (Great Expectations loads its table from a CDN): the report names the page that works.
    assert "offline, open the page in `outputs/validate/data_docs/validations/` instead" in (out / "report.md").read_text()
    assert not list(out.parent.glob(".validate*")), "the staging folder is left behind"


def test_bundled_dataset_passes(tmp_path, real_model_dir):
    config = make_project(tmp_path, real_model_dir)
    result = run_validate(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("✅ Ready to train")
    assert not [problem for problem in report_of(config)["problems"] if problem["severity"] == "fail"]


def test_unusable_input_exits_2_without_any_output(tmp_path, real_model_dir):
    config = fixture_project(tmp_path, real_model_dir, "clean")
    shutil.copy(FIXTURES / "broken" / "bad_json.jsonl", tmp_path / "datasets" / "train.jsonl")
    result = run_validate(config)
    assert result.returncode == 2
    assert result.stderr.startswith("error: datasets/train.jsonl:3: not valid JSON")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_every_unreadable_line_is_named_in_one_run_with_exit_2_and_no_output(tmp_path, real_model_dir):
    config = fixture_project(tmp_path, real_model_dir, "clean")
    train = tmp_path / "datasets" / "train.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines()
    lines[1], lines[3] = lines[1][:-2], "[" * 5000 + "]" * 5000  # line 2 is cut short, line 4 nested 5000 deep
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_validate(config)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = result.stderr.splitlines()
    assert errors[0] == "error: datasets/train.jsonl: 2 records cannot be read; fix each line below, then run the command again:"
    assert errors[1].startswith("  datasets/train.jsonl:2: not valid JSON")
    assert errors[2] == '  datasets/train.jsonl:4: nested more than 100 levels deep ([[[... or {"a": {"a": ...); ' \
        "a record is one object of text fields and short lists, so remove the extra brackets."
    assert len(errors) == 3
    assert not (tmp_path / "outputs").exists()


def test_a_deeply_nested_probe_exits_2_without_any_output(tmp_path, real_model_dir):
    config = fixture_project(tmp_path, real_model_dir, "clean")
    probes = tmp_path / "datasets" / "probes.jsonl"
    line = len(probes.read_text(encoding="utf-8").splitlines()) + 1
    with probes.open("a", encoding="utf-8") as handle:
        handle.write('{"a": ' * 3000 + "1" + "}" * 3000 + "\n")
    result = run_validate(config)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: datasets/probes.jsonl:{line}: nested more than 100 levels deep")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "outputs").exists()


def test_the_deepest_record_the_loader_accepts_goes_through_every_check(tmp_path, tiny_model_dir):
    """Nesting up to MAX_NESTING reaches the helper process (pickled), Great Expectations and the privacy scan."""
    from scripts.data import MAX_NESTING

    config = fixture_project(tmp_path, tiny_model_dir, "clean", min_examples="3")
    train = tmp_path / "datasets" / "train.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    depth = MAX_NESTING - 1  # the record itself is the first level
    record["tags"] = json.loads("[" * depth + '"deep"' + "]" * depth)
    record["notes"] = json.loads('{"a": ' * depth + '"write to someone@example.org"' + "}" * depth)
    train.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n", encoding="utf-8")
    assert cli(["validate", "--config", str(config)]) == 0
    assert report_of(config)["counts"]["train"] == len(lines)


def test_clean_data_exits_0_and_writes_the_job_summary(tmp_path, real_model_dir, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    config = fixture_project(tmp_path, real_model_dir, "clean", min_examples="3")
    assert cli(["validate", "--config", str(config)]) == 0
    report = report_of(config)
    assert report["verdict"] in ("pass", "warn")
    assert not [problem for problem in report["problems"] if problem["severity"] == "fail"]
    assert summary.read_text(encoding="utf-8").startswith("# Data check: ✅ Ready to train")
    assert "Report:" in capsys.readouterr().out


def test_fact_warnings_reach_every_output(tmp_path, real_model_dir):
    """Each of the clean fixture's 5 facts is taught once, and one added eval question asks about an untaught fact."""
    config = fixture_project(tmp_path, real_model_dir, "clean", min_examples="3")
    questions = [
        {"messages": [{"role": "user", "content": "Which park is famous for its salt pan?"},
                      {"role": "assistant", "content": "Etosha National Park."}], "answer": "Etosha National Park"},
        {"messages": [{"role": "user", "content": "Which animal is on the coat of arms?"},
                      {"role": "assistant", "content": "The oryx."}]},
    ]  # fmt: skip
    with (tmp_path / "datasets" / "eval.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(question) + "\n" for question in questions)  # lines 3 and 4
    result = run_validate(config)
    assert result.returncode == 0, result.stdout + result.stderr  # warnings never fail the check
    assert "WARN  Most facts are taught in several phrasings (5 found)" in result.stdout
    assert "WARN  Eval questions ask about facts the training data teaches (1 found)" in result.stdout

    report = report_of(config)
    assert report["facts"] == {
        "facts": 5, "taught_once": 5, "taught_twice": 0, "taught_3_or_more": 0,
        "eval_taught": 2, "eval_untaught": 1, "eval_not_checkable": 1,
    }  # fmt: skip
    untaught = [problem for problem in report["problems"] if problem["check"] == "eval_fact_taught"]
    assert [(problem["file"], problem["line"], problem["severity"]) for problem in untaught] == [("datasets/eval.jsonl", 3, "warn")]

    out = config.parent / "outputs" / "validate"
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert ("| Most facts are taught in several phrasings *(Great Expectations)* | ⚠️ warn | 5 found; 5 facts in training: "
            "5 taught once (100%), 0 twice, 0 three or more times;") in markdown  # fmt: skip
    assert ('- `datasets/eval.jsonl:3 field "answer"`: "Etosha National Park" is never taught in the training data: '
            "this measures knowledge the model was never given") in markdown  # fmt: skip
    assert "3 eval questions checked; 1 could not be checked (no `answer` field to match)" in markdown
    [page] = (out / "data_docs" / "validations").rglob("*.html")
    html = page.read_text(encoding="utf-8")
    assert "Most facts are taught in several phrasings" in html
    assert "Eval questions ask about facts the training data teaches" in html


def test_too_few_examples_an_empty_split_and_capped_lists(tmp_path, real_model_dir):
    config = fixture_project(tmp_path, real_model_dir, "clean", min_examples="30")
    records = [{"prompt": f"Question number {number} by {{{{name}}}} and {{{{author}}}}?", "completion": f"Answer {number}."}
               for number in range(25)]
    (tmp_path / "datasets" / "train.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (tmp_path / "datasets" / "eval.jsonl").write_text("\n")
    assert cli(["validate", "--config", str(config)]) == 1
    problems = [(p["check"], p["file"], p["message"]) for p in report_of(config)["problems"] if p["check"] == "enough_examples"]
    assert problems == [
        ("enough_examples", "datasets/eval.jsonl", "the file has no examples"),
        ("enough_examples", "datasets/train.jsonl", "only 25 examples; [data] min_examples is 30"),
    ]
    markdown = (tmp_path / "outputs" / "validate" / "report.md").read_text(encoding="utf-8")
    assert "- … and 5 more (all are listed in report.json)" in markdown  # 25 placeholder fields, 20 listed


def test_a_failed_run_keeps_the_previous_report(tmp_path):
    out = tmp_path / "validate"
    out.mkdir()
    (out / "report.md").write_text("previous")
    with pytest.raises(RuntimeError), staging_folder(out) as staging:
        (staging / "report.md").write_text("half")
        raise RuntimeError("crash while writing")
    assert (out / "report.md").read_text() == "previous"
    assert [path.name for path in tmp_path.iterdir()] == ["validate"]


def test_a_chat_template_that_refuses_a_conversation_is_reported():
    from jinja2 import TemplateError

    class StrictTokenizer:
        def apply_chat_template(self, chats, tokenize=False):
            conversations = chats if isinstance(chats[0], list) else [chats]
            if any(chat[0]["role"] != "user" for chat in conversations):
                raise TemplateError("Conversation roles must alternate user/assistant/user/assistant/...")
            return ["rendered"] * len(conversations) if conversations is chats else "rendered"

    good = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    bad = [{"role": "assistant", "content": "Hello"}]
    rendered, errors = render_chats(StrictTokenizer(), [good, bad])
    assert rendered == ["rendered", "Hello"]
    assert list(errors) == [1] and "must alternate" in errors[1]


def test_two_user_or_assistant_turns_in_a_row_are_a_warning_naming_the_second(tmp_path):
    """SmolLM2's chat template accepts them, so nothing after the merge would say that a role was left unchanged."""
    def turn(role: str, text: str) -> dict:
        return {"role": role, "content": text}

    chats = [
        [turn("user", "What is the capital of Namibia?"), turn("user", "Windhoek."), turn("assistant", "Windhoek.")],
        [turn("user", "Hi"), turn("assistant", "Hello!"), turn("assistant", "How can I help?"), turn("user", "Capital?"),
         turn("assistant", "Windhoek.")],
        [turn("user", "Weather?"), turn("assistant", "Let me look."), turn("tool", "sunny"), turn("assistant", "Sunny.")],
    ]  # fmt: skip
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": chat}) + "\n" for chat in chats), encoding="utf-8")
    data = Datasets(train=load_examples(path, display_name="train.jsonl"), eval=[], probes=[], names={"train": "train.jsonl"})
    check = check_role_order(data, {})
    found = [(problem.severity, problem.line, problem.field, problem.message) for problem in check.problems]
    assert found == [
        ("warn", 1, "messages[1].role", 'this turn and the one before it are both "user", so the conversation does not '
                                        "alternate between user and assistant; if this one was meant to be the "
                                        'assistant\'s, change its role to "assistant"'),
        ("warn", 2, "messages[2].role", 'this turn and the one before it are both "assistant", so the conversation does '
                                        "not alternate between user and assistant; if this one was meant to be the "
                                        'user\'s, change its role to "user"'),
    ]  # fmt: skip
    assert check.status == "warn"  # the third, with a tool's answer between two assistant turns, is fine


@pytest.mark.parametrize(
    "text, severity",
    [
        ("I am {{name}}.", "fail"),
        ("I am {{ assistant_name }}.", "fail"),
        ("Hello {name}, welcome.", "warn"),
        ("Regards, [Your Name]", "warn"),
        ("Date: <insert date>", "warn"),
        ('{"name": "get_weather"}', None),
        ("Write to <EMAIL> or call <PHONE>.", None),
        ('print(f"{name}")', None),
        (r"$\frac{a}{b}$", None),
        ("As shown in [1] and [2].", None),
    ],
)
def test_placeholder_patterns(text, severity):
    problems = check_placeholders([Passage("f.jsonl", 1, "output", text)]).problems
    assert [problem.severity for problem in problems] == ([severity] if severity else [])
    assert len(PLACEHOLDER_PATTERNS) == 4


def test_html_entities_pasted_from_a_web_page_are_a_warning():
    """Nothing else notices them: the model would learn to write "&amp;" and "&#39;" as letters."""
    texts = [
        Passage("train.jsonl", 1, "messages[1].content", "Rock &amp; roll, &quot;loud&quot; &#39;n&#x27; free&nbsp;!"),
        Passage("train.jsonl", 2, "messages[1].content", "R&D; AT&T; Q&A, &notanentity; & more; fish &chips;"),
    ]
    check = check_html_entities(texts)
    assert [(problem.severity, problem.line, problem.message) for problem in check.problems] == [
        ("warn", 1, "HTML entities: `&amp;` ('&'), `&quot;` ('\"'), `&#39;` (\"'\"), `&#x27;` (\"'\"), `&nbsp;` (a space)"),
    ]  # fmt: skip
    assert check.status == "warn"


def test_similarity_index_finds_near_copies_only():
    index = SimilarityIndex(0.8)
    index.add("which desert runs along the coast of namibia", "first")
    item, similarity = index.best_match("which desert runs along the coastline of namibia")
    assert item == "first" and 0.8 <= similarity < 1
    assert index.best_match("which river forms the southern border of namibia") is None
    assert index.best_match("ab") is None  # too short to compare


def test_invisible_characters_do_not_hide_an_eval_question_that_is_in_the_training_data(tmp_path):
    """Zero-width spaces and soft hyphens (pasted from a web page or a chat window) split words for the comparison,
    so an eval question that copies a training question slipped past the leakage check."""
    question = "Which desert runs along the whole Atlantic coast of Namibia?"
    hidden = {"zero-width space": "\u200b", "soft hyphen": "\u00ad", "word joiner": "\u2060", "byte-order mark": "\ufeff"}
    files = {}
    for split, questions in (("train", [question]), ("eval", ["".join(c + hidden[name] for c in question[:30]) + question[30:]
                                                                for name in hidden])):  # fmt: skip
        path = tmp_path / f"{split}.jsonl"
        records = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "The Namib."}]} for q in questions]
        path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        files[split] = load_examples(path, display_name=f"{split}.jsonl")
    data = Datasets(files["train"], files["eval"], [], {"train": "train.jsonl", "eval": "eval.jsonl"})
    flagged = [(problem.line, problem.message) for problem in check_leakage(data, 0.8).problems]
    assert flagged == [(line, "the same question as train.jsonl:1") for line in (1, 2, 3, 4)]


# Texts for the batched paths below: the bundled examples, and the cases their code treats apart
# (empty, under 3 characters, all capitals, text that NFC changes, other scripts, emoji, a long text).
def varied_texts() -> list[str]:
    texts = ["", "a", "ab", "abc", "WHERE IS THE NEAREST CLINIC?", "Waar is die naaste kliniek?", "Wo ist der Bahnhof?",
             "e\u0301te\u0301 a\u0300 Pa\u0301ris", "ǃGaroëb and //Hoebes", "日本語のテキストです", "😀 ok 😀", "word " * 300]  # fmt: skip
    return texts + [example.all_text() for example in load_examples(REPO / "datasets" / "train.jsonl")]


def test_batched_minhash_equals_datasketch():
    """The sketches computed for many texts at once are the MinHash datasketch computes for each text."""
    import zlib

    from datasketch import MinHash

    from scripts.similarity import comparable, sketches, trigrams

    index = SimilarityIndex(0.8)
    texts = varied_texts()
    texts += [comparable(text) for text in texts]
    for text, sketch in zip(texts, sketches(texts, index)):
        grams = trigrams(text)
        if not grams:
            assert sketch is None, text
            continue
        expected = MinHash(64, hashfunc=zlib.crc32, permutations=(index.multipliers, index.offsets), scheme="affine32")
        expected.update_batch(grams)
        assert sketch == expected.hashvalues.tobytes(), text


def test_similarity_bands_are_datasketchs():
    """The index files each sketch under the bands datasketch's MinHashLSH would use for the same threshold."""
    from datasketch import MinHashLSH

    for threshold in (0.5, 0.85, 0.95):
        lsh = MinHashLSH(threshold=threshold - 0.1, num_perm=64)
        assert SimilarityIndex(threshold).bands == [(start * 4, end * 4) for start, end in lsh.hashranges]


def test_batched_similarity_matches_one_at_a_time():
    texts = ["which desert runs along the coast of namibia", "which desert runs along the coastline of namibia",
             "which river forms the southern border of namibia", "ab", "which desert runs along the coast of namibia"]  # fmt: skip
    one_at_a_time, expected = SimilarityIndex(0.8), []
    for number, text in enumerate(texts):
        expected.append(one_at_a_time.best_match(text))
        one_at_a_time.add(text, number)
    assert SimilarityIndex(0.8).best_matches_then_add(texts, list(range(len(texts)))) == expected
    assert expected[1][0] == 0 and expected[2] is None and expected[3] is None and expected[4] == (0, 1.0)


def test_batched_language_guesses_equal_py3langid():
    """detect_all gives py3langid's own answer for every text, including those near the confidence cut-off."""
    detector = LanguageDetector()
    texts = varied_texts()
    assert detector.detect_all(texts) == [detector.detect(text) for text in texts]
    assert detector.detect_all(["Where is the nearest clinic? I need to see a doctor today."]) == ["en"]


def test_batched_language_guesses_ask_py3langid_at_the_cut_off(monkeypatch):
    """A confidence within BORDER of the cut-off is left to py3langid (with other rounding it could fall either side)."""
    import scripts.language_id as language_id

    detector = LanguageDetector()
    asked = []
    monkeypatch.setattr(detector, "detect", lambda text: asked.append(text) or "xx")
    monkeypatch.setattr(language_id, "BORDER", 1.0)  # every confidence is "near" the cut-off
    assert detector.detect_all(["Where is the clinic?", "Waar is die kliniek?"]) == ["xx", "xx"]
    assert asked == ["Where is the clinic?", "Waar is die kliniek?"]


@pytest.fixture(scope="module")
def tokenizer(real_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_model_dir)


@pytest.mark.parametrize("name", sorted(path.name for path in (FIXTURES / "formats").iterdir()))
def test_every_record_format_passes_the_checks(tokenizer, name):
    examples = load_examples(FIXTURES / "formats" / name, display_name=name)
    data = Datasets(train=examples, eval=[], probes=[], names={"train": name})
    table, template_errors = example_table(data, tokenizer)
    assert len(table) == len(examples) and template_errors == {}
    assert (table["tokens"] >= table["answer_tokens"]).all() and (table["answer_tokens"] > 0).all()
    texts = passages(data)
    checks = [
        check_role_order(data, template_errors),
        check_empty_turns(data),
        check_duplicates(data),
        check_near_duplicates(data, 0.8),
        check_placeholders(texts),
        check_personal_data(texts),
        check_chat_markup(texts, special_tokens(tokenizer), "SmolLM2"),
    ]
    assert [problem for check in checks for problem in check.problems] == []


def test_chat_markup_pasted_into_the_text_fails_validate(tmp_path, tiny_model_dir):
    """The tokenizer reads the text "<|im_end|>" as the end-of-turn token: the model would learn to stop there."""
    config = settings_project(tmp_path, tiny_model_dir)
    train = tmp_path / "datasets" / "train.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["messages"][-1]["content"] += "<|im_end|>\n<|im_start|>user\nThanks!"
    lines[1] = json.dumps(record)
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli(["validate", "--config", str(config)]) == 1
    [problem] = [p for p in report_of(config)["problems"] if p["check"] == "chat_markup"]
    assert (problem["file"], problem["line"], problem["field"]) == ("datasets/train.jsonl", 2, f"messages[{len(record['messages']) - 1}].content")
    assert problem["message"] == "contains <|im_end|>, <|im_start|>, which the model reads as a control token, not as text"


def test_rare_tags_and_missing_languages_are_audited():
    examples = [
        replace(example, meta={"tags": ["facts", "rare"] if number == 0 else ["facts"]})
        for number, example in enumerate(load_examples(FIXTURES / "clean" / "train.jsonl") * 5)
    ]  # 25 examples, one of them tagged "rare"
    [tags] = audit_groups(examples, "train.jsonl")
    assert [(problem.field, problem.message) for problem in tags.problems] == [("tags", '"rare" has only 1 of 25 examples (4%)')]
    assert tags.details == "facts 25, rare 1"

    mix = audit_language_mix(["en", "en", None], ["en", "af", "ng"], LanguageDetector())
    assert [problem.message for problem in mix.problems] == ["[project] languages lists Afrikaans (af), but no example is in it"]
    assert mix.details == (
        "English (en) 2, too short to tell 1; py3langid detects en, af; "
        "ng cannot be detected automatically: a fluent reader must check those examples"
    )


def test_lingua_tells_a_declared_language_py3langid_cannot_see():
    """Setswana: py3langid has no model for it (it says Northern Sotho); lingua, built for the declared languages, does."""
    texts = [UDHR_SETSWANA, UDHR_ZULU, UDHR_ENGLISH, UDHR_GERMAN, ""]
    assert LanguageDetector(["en"]).detect_all(texts) == ["nso", "zu", "en", "de", None]  # Setswana not declared: py3langid's answer
    detector = LanguageDetector(["en", "tn", "ng"])
    assert [detector.identifier_for(code) for code in ("en", "tn", "ng")] == ["py3langid", "lingua", None]
    # German stays German: lingua is also asked about the languages py3langid saw, not only the declared ones.
    assert detector.detect_all(texts) == ["tn", "zu", "en", "de", None]


def test_without_lingua_a_language_only_it_knows_cannot_be_detected(monkeypatch):
    monkeypatch.setitem(sys.modules, "lingua", None)  # `import lingua` raises ImportError, as when it is not installed
    detector = LanguageDetector(["en", "tn"])
    assert detector.identifier_for("tn") is None
    assert detector.detect_all([UDHR_SETSWANA]) == ["nso"]
    mix = audit_language_mix(["en", "nso"], ["en", "tn"], detector)
    assert mix.details.endswith("py3langid detects en; tn cannot be detected automatically: a fluent reader must check those examples")


def test_the_language_mix_says_which_identifier_detects_each_language():
    detector = LanguageDetector(["en", "tn", "ng", "hz"])
    mix = audit_language_mix(detector.detect_all([UDHR_ENGLISH, UDHR_SETSWANA]), ["en", "tn", "ng", "hz"], detector)
    assert mix.details == (
        "English (en) 1, Tswana (tn) 1; py3langid detects en; lingua detects tn; "
        "ng, hz cannot be detected automatically: a fluent reader must check those examples"
    )
    assert mix.problems == []  # a language no identifier can see is not "missing"


# ---------------------------------------------------------------- settings that would only fail after the merge


def settings_project(folder: Path, model_dir: Path, **settings) -> Path:
    """The clean fixture with some project.toml settings changed (values are TOML literals)."""
    return fixture_project(folder, model_dir, "clean", min_examples="3", **settings)


def line_of(config: Path, key: str) -> int:
    lines = config.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if line.startswith(f"{key} = "))


def assert_stops(config: Path, capsys, message: str) -> None:
    """validate exits 2 with one sentence naming the line of project.toml, and writes nothing."""
    assert cli(["validate", "--config", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {config}:{message}"]
    assert not (config.parent / "outputs").exists()


def test_a_misspelled_target_module_stops_validate(tmp_path, tiny_model_dir, capsys):
    modules = '["q_projj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "dwn_proj"]'
    config = settings_project(tmp_path, tiny_model_dir, target_modules=modules)
    assert_stops(config, capsys, (
        f'{line_of(config, "target_modules")} [lora]: target_modules names "q_projj" (did you mean "q_proj"?) and '
        f'"dwn_proj" (did you mean "down_proj"?), which are not layers of {tiny_model_dir} that LoRA can adapt, so training '
        "would silently leave those layers without an adapter; its layers are q_proj, k_proj, v_proj, "
        'o_proj, gate_proj, up_proj, down_proj (or write target_modules = "all-linear").'
    ))  # fmt: skip


def test_target_modules_that_match_nothing_stop_validate(tmp_path, tiny_model_dir, capsys):
    config = settings_project(tmp_path, tiny_model_dir, target_modules='["attention"]')
    assert_stops(config, capsys, (
        f'{line_of(config, "target_modules")} [lora]: target_modules names "attention", which is not a layer of '
        f"{tiny_model_dir} that LoRA can adapt, so no layer would get an adapter and training would stop; its layers are "
        'q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (or write target_modules = "all-linear").'
    ))  # fmt: skip


@pytest.mark.parametrize("modules", ['["self_attn.q_proj", "layers.1.mlp.up_proj"]', '"all-linear"'])
def test_target_modules_peft_accepts_pass(tmp_path, tiny_model_dir, modules):
    """PEFT matches a name to a layer's full name or its dotted end; "all-linear" needs no names."""
    config = settings_project(tmp_path, tiny_model_dir, target_modules=modules)
    assert cli(["validate", "--config", str(config)]) == 0
    assert report_of(config)["verdict"] in ("pass", "warn")


@pytest.mark.parametrize("modules, named", [('["q_proj", "lm_head"]', '"lm_head"'), ('["embed_tokens"]', '"embed_tokens"'),
                                            ('["model.embed_tokens", "lm_head"]', '"model.embed_tokens" and "lm_head"')])  # fmt: skip
def test_a_tied_output_or_embedding_layer_in_target_modules_stops_validate(tmp_path, tiny_model_dir, capsys, modules, named):
    """The tiny model ties them, as SmolLM2 does: PEFT trained it, but the merged model export checks answered otherwise."""
    config = settings_project(tmp_path, tiny_model_dir, target_modules=modules)
    them = "them" if " and " in named else "it"
    assert_stops(config, capsys, (
        f'{line_of(config, "target_modules")} [lora]: target_modules names {named}, but {tiny_model_dir} ties embed_tokens '
        "and lm_head to one weight (tie_word_embeddings), so merging the adapter for export would change both and export's "
        f"answer check would fail after training; remove {them}: the model's other layers are q_proj, k_proj, v_proj, o_proj, "
        'gate_proj, up_proj, down_proj (or write target_modules = "all-linear").'
    ))  # fmt: skip


@pytest.mark.parametrize("tie, tied", [(True, True), (False, False), (None, False)], ids=["tied", "untied", "llama-default"])
def test_lm_head_is_refused_only_where_the_config_ties_it(tmp_path, tiny_model_dir, real_model_dir, tie, tied):
    """tie_word_embeddings as transformers reads it: absent, a Llama's default is untied (a Gemma's is tied)."""
    from scripts.errors import UserError
    from scripts.model import ResolvedModel, tied_embedding_layers
    from scripts.validate_settings import check_target_modules, setting_locator

    model = tmp_path / "model"
    model.mkdir()
    written = json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))
    written.pop("tie_word_embeddings", None)
    (model / "config.json").write_text(json.dumps(written if tie is None else written | {"tie_word_embeddings": tie}))
    config = settings_project(tmp_path, model, target_modules='["q_proj", "lm_head"]')
    cfg, resolved = load_settings(config), ResolvedModel(model, str(model), "local", "")
    assert bool(tied_embedding_layers(resolved)) == tied
    if tied:
        with pytest.raises(UserError, match="ties embed_tokens and lm_head to one weight"):
            check_target_modules(cfg, resolved, setting_locator(cfg))
    else:
        check_target_modules(cfg, resolved, setting_locator(cfg))  # PEFT adapts an untied lm_head like any layer
    bundled = ResolvedModel(real_model_dir, "HuggingFaceTB/SmolLM2-135M-Instruct", "bundled", "")
    assert tied_embedding_layers(bundled) == ["model.embed_tokens", "lm_head"]  # the default model ties them


def test_a_base_model_the_gguf_converter_cannot_convert_is_a_warning(tmp_path, tiny_model_dir, monkeypatch):
    """GPT-Neo trains, but llama.cpp's converter has no GPTNeoForCausalLM: export stopped after training, on GitHub."""
    from transformers import GPTNeoConfig

    from scripts import export

    assert "LlamaForCausalLM" in export.converter_architectures(export.converter_folder())  # the pinned one, as make setup caches it
    neo = tmp_path / "gpt-neo"
    GPTNeoConfig(vocab_size=49152, hidden_size=16, num_layers=2, attention_types=[[["global"], 2]], num_heads=2,
                 max_position_embeddings=1024).save_pretrained(neo)  # fmt: skip
    for file in tiny_model_dir.iterdir():  # the tiny model's tokenizer and chat template
        if file.name.startswith(("tokenizer", "chat_template", "special_tokens")):
            shutil.copy(file, neo / file.name)
    config = settings_project(tmp_path / "project", neo)
    assert cli(["validate", "--config", str(config)]) == 0
    [problem] = [p for p in report_of(config)["problems"] if p["field"] == "base"]
    assert problem["line"] == line_of(config, "base") and problem["message"] == (
        f"{neo} is a GPTNeoForCausalLM, which llama.cpp's GGUF converter (llama-cpp-python {export.CONVERTER_VERSION}) "
        "cannot convert, so on GitHub export would stop after training, with nothing to review; choose a base model from "
        "`python -m scripts models`, or run card, export (`--no-gguf`: the merged model only, no GGUF file or static "
        "Space) and publish on your computer"
    )
    from scripts.model import ResolvedModel
    from scripts.validate_settings import check_gguf_converter, setting_locator

    cfg = load_settings(config)
    resolved = ResolvedModel(neo, str(neo), "local", "")
    monkeypatch.setenv("FINETUNE_CACHE", str(tmp_path / "no-cache"))  # not cached: nothing said, nothing fetched
    assert check_gguf_converter(cfg, resolved, setting_locator(cfg)) == [] and not (tmp_path / "no-cache").exists()
    monkeypatch.undo()
    tiny = load_settings(settings_project(tmp_path / "tiny", tiny_model_dir))  # a Llama: the converter knows it
    assert check_gguf_converter(tiny, ResolvedModel(tiny_model_dir, "tiny", "local", ""), setting_locator(tiny)) == []


def test_adaptable_layer_names_come_from_the_config_alone(tiny_model_dir):
    from scripts.model import ResolvedModel, adaptable_layer_names

    names = adaptable_layer_names(ResolvedModel(tiny_model_dir, "tiny", "local", ""))
    assert names[:3] == ["model.embed_tokens", "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj"]
    assert len(names) == 2 + 2 * 7  # embeddings, output layer, 7 projections in each of the 2 layers


def test_a_warm_up_that_takes_the_only_training_step_stops_validate(tmp_path, tiny_model_dir, capsys):
    """The learning rate warms up from 0, so a run of one step (max_steps = 1, "for a quick try") with any warm-up
    trained at rate 0: train finished without an error and saved an adapter whose lora_B were all zeros (the base model)."""
    config = settings_project(tmp_path, tiny_model_dir, max_steps="1")
    assert_stops(config, capsys, (
        f'{line_of(config, "warmup_ratio")} [train]: training takes 1 optimizer step (max_steps), and warmup_ratio = 0.05 '
        "starts the learning rate at 0 for that step, so the adapter would not change and the tuned model would be the "
        "base model; set warmup_ratio = 0, or train for more steps (a larger max_steps, more epochs or a smaller "
        "gradient_accumulation)."
    ))  # fmt: skip
    # one pass over a training set smaller than a batch: one update (a large gradient_accumulation does the same)
    config = settings_project(tmp_path / "batch", tiny_model_dir, epochs="1")
    assert_stops(config, capsys, (
        f'{line_of(config, "warmup_ratio")} [train]: training takes 1 optimizer step (5 examples, batch_size 8, '
        "gradient_accumulation 1, 1 epochs), and warmup_ratio = 0.05 starts the learning rate at 0 for that step, so the "
        "adapter would not change and the tuned model would be the base model; set warmup_ratio = 0, or train for more "
        "steps (a larger max_steps, more epochs or a smaller gradient_accumulation)."
    ))  # fmt: skip
    for folder, settings in (("no-warm-up", {"max_steps": "1", "warmup_ratio": "0.0"}), ("two-steps", {"max_steps": "2"})):
        assert cli(["validate", "--config", str(settings_project(tmp_path / folder, tiny_model_dir, **settings))]) == 0


def model_with_own_code(tmp_path, tiny_model_dir) -> Path:
    """The tiny model as a Hub model with a type of its own would be: config.json names Python files in "auto_map"."""
    folder = tmp_path / "own-code-model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(model_type="custom_llama", auto_map={"AutoConfig": "configuration_custom.CustomConfig",
                                                       "AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"})  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_a_model_that_needs_its_own_code_without_trust_remote_code_stops_validate(tmp_path, tiny_model_dir, capsys):
    """transformers refuses to load it (ValueError: "contains custom code which must be executed"), so train would
    stop after the merge; before this check validate passed it, warning only that it could not count the parameters."""
    folder = model_with_own_code(tmp_path, tiny_model_dir)
    config = settings_project(tmp_path / "project", folder)
    assert_stops(config, capsys, (
        f'{line_of(config, "trust_remote_code")} [model]: {folder} is a model type transformers does not know '
        '("custom_llama") and ships its own Python code for it (config.json "auto_map"), which runs only with '
        "trust_remote_code = true, so training would stop after the merge; choose a model transformers supports "
        "(`python -m scripts models`), or read that code and set trust_remote_code = true."
    ))  # fmt: skip


def test_trust_remote_code_for_a_model_without_code_is_a_warning(tmp_path, tiny_model_dir):
    config = settings_project(tmp_path, tiny_model_dir, trust_remote_code="true")
    assert cli(["validate", "--config", str(config)]) == 0
    [warned] = [p for p in report_of(config)["problems"] if p["field"] == "trust_remote_code"]
    assert (warned["severity"], warned["line"]) == ("warn", line_of(config, "trust_remote_code"))
    assert warned["message"] == (
        f"true lets transformers run Python code shipped with a model, but {tiny_model_dir} ships none (its config.json "
        'has no "auto_map"), so it changes nothing here, and it would run the code of a model you switch to later '
        "without validate asking; set trust_remote_code = false"
    )
    settings_project(tmp_path / "off", tiny_model_dir)  # the default, false: no warning
    assert cli(["validate", "--config", str(tmp_path / "off" / "project.toml")]) == 0
    assert not [p for p in report_of(tmp_path / "off" / "project.toml")["problems"] if p["field"] == "trust_remote_code"]


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine as a GitHub runner is: no CUDA GPU, and a CPU without bf16 instructions."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("scripts.validate_settings.cpu_has_native_bf16", lambda: False)


@pytest.mark.parametrize(
    "settings, key, message",
    [
        ({"quantization": '"4bit"'}, "quantization",
         '[model]: quantization "4bit" (QLoRA) needs a CUDA GPU, and [train] backend = "runner" trains on this machine, '
         'which has none (a GitHub runner never has one); set quantization = "none", or backend = "colab" or "hf-jobs".'),
        ({"precision": '"fp16"'}, "precision",
         '[train]: precision "fp16" needs a CUDA GPU, and [train] backend = "runner" trains on this machine, which has none; '
         'use precision = "auto" (or "fp32") on a CPU.'),
    ],
)  # fmt: skip
def test_hardware_the_training_machine_lacks_stops_validate(tmp_path, tiny_model_dir, no_gpu, capsys, settings, key, message):
    config = settings_project(tmp_path, tiny_model_dir, **settings)
    assert_stops(config, capsys, f"{line_of(config, key)} {message}")


def test_hf_jobs_settings_that_would_fail_on_the_paid_job_stop_validate(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from scripts.model import ResolvedModel

    hub_model = ResolvedModel(tiny_model_dir, "HuggingFaceTB/SmolLM2-135M-Instruct", "hub", "")  # as if downloaded
    monkeypatch.setattr("scripts.model.resolve_base", lambda *args, **kwargs: hub_model)
    config = settings_project(tmp_path, tiny_model_dir, backend='"hf-jobs"', precision='"bf16"')
    assert_stops(config, capsys, (
        f'{line_of(config, "precision")} [train]: precision "bf16" cannot run on hf_flavor "t4-small", an NVIDIA T4, which '
        'has no bf16, so the paid job would stop; use precision = "auto" (fp16 on a T4) or a newer GPU such as "l4x1".'
    ))  # fmt: skip
    monkeypatch.undo()  # the tiny model as what it is: a local folder
    config = settings_project(tmp_path / "local", tiny_model_dir, backend='"hf-jobs"')
    assert_stops(config, capsys, (
        f'{line_of(config, "base")} [model]: base is the local folder {tiny_model_dir}, which a Hugging Face Job cannot '
        'read ([train] backend = "hf-jobs"); use a Hub id such as HuggingFaceTB/SmolLM2-135M-Instruct.'
    ))  # fmt: skip


@pytest.mark.parametrize("base, too_big", [("Qwen/Qwen2.5-0.5B-Instruct", False), ("microsoft/Phi-4-mini-instruct", True)])
def test_validate_downloads_the_config_and_tokenizer_not_the_weights(tmp_path, tiny_model_dir, monkeypatch, capsys, base, too_big):
    """A Hub model's weights can be larger than a GitHub runner's disk (Mistral-7B: 14 GB), and validate reads only the
    config (to list the layers) and the tokenizer. The fake download below hands back only the tiny model's files that
    the requested allow_patterns match, so validate passes only if it needs nothing else. A model too big to export on
    a runner is warned about in the data report (its size from scripts/base_models.toml, not the tiny stand-in's).
    Not covered (no network here): what the Hub sends for those patterns, e.g. that each model's tokenizer files match them."""
    from fnmatch import fnmatch

    from scripts import model

    asked = []

    def snapshot_download(model_id, revision="main", allow_patterns=None):
        asked.append(allow_patterns)
        folder = tmp_path / "snapshot"
        folder.mkdir(exist_ok=True)
        for file in tiny_model_dir.iterdir():
            if any(fnmatch(file.name, pattern) for pattern in allow_patterns):
                shutil.copy(file, folder)
        return str(folder)

    def model_info(model_id, revision="main", **kwargs):  # validate also asks which files the model has (safetensors?)
        from huggingface_hub.hf_api import ModelInfo

        return ModelInfo(id=model_id, siblings=[{"rfilename": file.name} for file in tiny_model_dir.iterdir()])

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    monkeypatch.setattr("huggingface_hub.model_info", model_info)
    # A list of target modules, so validate builds the model from its config to check them.
    config = settings_project(
        tmp_path / "project", tiny_model_dir, base=f'"{base}"', target_modules='["q_proj", "v_proj"]'
    )
    assert cli(["validate", "--config", str(config)]) == 0, capsys.readouterr().err
    assert asked == [model.CONFIG_AND_TOKENIZER] and not any(pattern.endswith(".safetensors") for pattern in asked[0])
    assert not list((tmp_path / "snapshot").glob("*.safetensors"))
    report = report_of(config)
    assert report["verdict"] in ("pass", "warn")  # the clean fixture has too few examples: a warning
    warned = [p for p in report["problems"] if p["check"] == "training_settings" and p["field"] == "base"]
    assert [p["message"].startswith(f"{base} has 3.84B parameters, and on GitHub export") for p in warned] == [True] * too_big

    # Train, evaluate and export ask for the weights too.
    assert model.resolve_base(base).path == tmp_path / "snapshot"
    assert asked[-1] == model.CONFIG_AND_TOKENIZER + model.WEIGHTS
    assert list((tmp_path / "snapshot").glob("*.safetensors"))


def runner_room(tmp_path, base: str, model_dir=None):
    """check_runner_room's warnings for `base`; model_dir is where its config.json is (an unlisted model)."""
    from scripts.model import ResolvedModel
    from scripts.validate_settings import check_runner_room, setting_locator

    config = tmp_path / "project.toml"
    shutil.copy(REPO / "project.toml", config)
    cfg = load_settings(config)
    cfg.model.base = base
    return check_runner_room(cfg, ResolvedModel(model_dir or tmp_path, base, "hub", ""), setting_locator(cfg)), config


@pytest.mark.parametrize("base", ["HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen3-0.6B"])
def test_a_model_whose_export_fits_a_github_runner_is_not_warned(tmp_path, base):
    assert runner_room(tmp_path, base)[0] == []


def test_a_model_too_big_to_export_on_a_github_runner_is_warned_at_model_base(tmp_path):
    """On GitHub, export runs on the runner after training for every backend: a 3.8B model would stop there."""
    [warning], config = runner_room(tmp_path, "microsoft/Phi-4-mini-instruct")
    assert (warning.section, warning.key, warning.line) == ("model", "base", line_of(config, "base"))
    assert warning.message == (
        "microsoft/Phi-4-mini-instruct has 3.84B parameters, and on GitHub export (merging the adapter, writing the GGUF "
        "file) runs on a free runner after training whatever the backend, and publish runs it again: it would need "
        "~62 GB of memory and ~41 GB of disk, more than a public repository's runner has (16 GB of memory, 14 GB of "
        "disk), so the flow "
        "would stop after training with nothing to review; choose a model of at most 0.96B parameters (README, week 1), "
        "or run card, export and publish on a computer with that much room"
    )


def test_an_unlisted_model_is_sized_from_its_config_or_the_warning_says_it_cannot_be(tmp_path):
    """No weights are needed: the parameters are counted on PyTorch's meta device from config.json alone."""
    from transformers import LlamaConfig

    big = tmp_path / "big"
    LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                num_key_value_heads=8, tie_word_embeddings=True).save_pretrained(big)  # Llama-3.2-1B's shape
    [warning], _ = runner_room(tmp_path, "someone/unlisted-1b", big)
    assert warning.message.startswith("someone/unlisted-1b has 1.24B parameters") and "~20 GB of memory" in warning.message

    small = tmp_path / "small"
    LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4).save_pretrained(small)
    assert runner_room(tmp_path, "someone/unlisted-small", small)[0] == []

    unknown = tmp_path / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text('{"model_type": "not-a-model-type"}')
    [warning], _ = runner_room(tmp_path, "someone/unknown", unknown)
    assert warning.message.startswith("validate could not count the parameters of someone/unknown from its config.json (")
    assert "models up to 0.96B parameters fit" in warning.message


# What the card, evaluate, dispatch and publish steps would refuse after the merge: validate stops on it first,
# before it loads the model (so these run in a second). Publish's refusal by the Hub itself is not run (no network).
@pytest.mark.parametrize(
    "settings, key, message",
    [
        ({"intended_use": '""'}, "intended_use",
         "[card]: fill in intended_use (who the model is for): readers of the model card need them to use the model "
         "safely, and the comments in project.toml show an example of each."),
        ({"known_biases": '"TODO"'}, "known_biases",
         '[card]: known_biases is "TODO", a placeholder, and the model card would publish it as is; write whom the data '
         "under- or over-represents (the comments in project.toml show an example)."),
        ({"anonymisation": '" ... "'}, "anonymisation",
         '[card]: anonymisation is "...", a placeholder, and the model card would publish it as is; write how personal '
         "data was handled (the comments in project.toml show an example)."),
        ({"license": '"Apache 2.0"'}, "license",
         "[project]: license 'Apache 2.0' is not a licence id the Hugging Face Hub knows; did you mean apache-2.0? pick "
         "one from https://huggingface.co/docs/hub/repositories-licenses (e.g. apache-2.0, mit, cc-by-4.0)."),
        ({"license": '"other"'}, "license",
         '[project]: license "other" tells the card\'s readers nothing about what they may do unless the card also '
         "names the licence and links its text (license_name, license_link), which project.toml has no place for yet; "
         "pick a listed licence id from https://huggingface.co/docs/hub/repositories-licenses (e.g. apache-2.0, mit, cc-by-4.0)."),
        ({"languages": '["en", "English", "en-US", "Herero", "xx", "ng", "hz", "naq", "kwn", "loz"]'}, "languages",
         '[project]: languages lists "English" (write "en"), "en-US" (write "en"), "Herero" (write "hz"), "xx", which the '
         'Hugging Face Hub refuses on a model card; write ISO 639 codes of two or three lowercase letters, such as '
         '["en", "af"] (look a language up at https://iso639-3.sil.org/code_tables/639/data).'),
        ({"backend": '"hf-jobs"', "hf_flavor": '"t4"'}, "hf_flavor",
         '[train]: hf_flavor "t4" is not a Hugging Face Jobs flavor, so the training job for backend = "hf-jobs" could '
         "not start; use one of " + ", ".join(gpu_flavors()) + "."),
        ({"backend": '"hf-jobs"', "hf_flavor": '"cpu-basic"'}, "hf_flavor",
         '[train]: hf_flavor "cpu-basic" has no GPU, so the training job for backend = "hf-jobs" could not start; use '
         "one of " + ", ".join(gpu_flavors()) + "."),
        ({"general_knowledge": '"datasets/general.jsonl"'}, "general_knowledge",
         '[evaluate]: general_knowledge = "datasets/general.jsonl": file not found, so evaluate would stop after '
         'training; fix the path, or set it to "" to skip the forgetting check (the rubric pre-score then gives its 5 '
         "points 0)."),
        ({"output_dir": '"results"'}, "output_dir",
         '[project]: output_dir = "results" is not "outputs", the folder the GitHub workflows and the Hugging Face Jobs '
         "script read the results from and .gitignore keeps out of git, so the Train workflow would fail after training; "
         'write output_dir = "outputs".'),
    ],
    ids=["empty-card-text", "card-todo", "card-dots", "licence-id", "licence-other", "language-codes", "unknown-flavor", "cpu-flavor", "general-knowledge-file",
         "output-dir"],
)  # fmt: skip
def test_a_setting_a_later_step_would_refuse_stops_validate(tmp_path, tiny_model_dir, capsys, settings, key, message):
    config = settings_project(tmp_path, tiny_model_dir, **settings)
    assert_stops(config, capsys, f"{line_of(config, key)} {message}")


def test_the_outputs_folder_validate_requires_is_the_one_the_workflows_read(tmp_path, tiny_model_dir):
    """check_output_dir's reason: train.yml, publish.yml, the HF Jobs script and .gitignore name this folder."""
    from scripts.validate_settings import WORKFLOW_OUTPUTS

    assert f"cat {WORKFLOW_OUTPUTS}/rubric/rubric.md" in (REPO / ".github" / "workflows" / "train.yml").read_text(encoding="utf-8")
    assert f"path: {WORKFLOW_OUTPUTS}/publish/" in (REPO / ".github" / "workflows" / "publish.yml").read_text(encoding="utf-8")
    assert f'WORKDIR / "{WORKFLOW_OUTPUTS}"' in (REPO / "template" / "hf_jobs" / "train_job.py").read_text(encoding="utf-8")
    assert f"{WORKFLOW_OUTPUTS}/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    config = settings_project(tmp_path, tiny_model_dir, output_dir='"./outputs/"')  # the same folder, written another way
    assert cli(["validate", "--config", str(config)]) == 0


def assert_data_stops(config: Path, capsys, error: str) -> None:
    """validate exits 2 with this one sentence about a data file, and writes nothing."""
    assert cli(["validate", "--config", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {error}"]
    assert not (config.parent / "outputs").exists()


def test_a_missing_datasheet_stops_validate(tmp_path, tiny_model_dir, capsys):
    """The card step publishes datasets/README.md as the dataset repo's card (tests/test_card.py checks its other faults)."""
    config = settings_project(tmp_path, tiny_model_dir)
    datasheet = tmp_path / "datasets" / "README.md"
    datasheet.unlink()
    assert_data_stops(config, capsys, f"{datasheet}: not found; the dataset repo's card is this datasheet: write it (see the bundled example).")


@pytest.mark.parametrize("kept", ["nothing", "the front matter"])
def test_an_emptied_datasheet_stops_validate(tmp_path, tiny_model_dir, capsys, kept):
    """Deleting the text in the web editor: the dataset card and the model card would say nothing about the data."""
    config = settings_project(tmp_path, tiny_model_dir)
    datasheet = tmp_path / "datasets" / "README.md"
    front_matter = datasheet.read_text(encoding="utf-8").split("---\n", 2)[1]
    datasheet.write_text("" if kept == "nothing" else f"---\n{front_matter}---\n\n  \n", encoding="utf-8")
    expected = (f"{datasheet}: empty; the dataset repo's card is this datasheet: write it (see the bundled example)."
                if kept == "nothing" else
                f"{datasheet}: nothing after the front matter, so the dataset card on the Hub and the model card would say "
                "nothing about where the data comes from, its consent and its gaps; write the datasheet below the second "
                "--- line (the bundled datasets/README.md shows its sections).")  # fmt: skip
    assert_data_stops(config, capsys, expected)


def test_a_datasheet_licence_the_hub_refuses_stops_validate(tmp_path, tiny_model_dir, capsys):
    """The Hub refuses a dataset card whose license is not one of its ids ("Invalid metadata in README.md"):
    the dataset repo would fail to publish after the merge."""
    config = settings_project(tmp_path, tiny_model_dir)
    datasheet = tmp_path / "datasets" / "README.md"
    text = datasheet.read_text(encoding="utf-8")
    line = text.splitlines().index("license: cc-by-4.0") + 1
    datasheet.write_text(text.replace("license: cc-by-4.0", "license: CC BY 4.0", 1), encoding="utf-8")
    assert_data_stops(config, capsys, f"{datasheet}:{line}: license 'CC BY 4.0' is not a licence id the Hugging Face Hub "
                                      "knows, so it would refuse the dataset card when publishing; did you mean cc-by-4.0? "
                                      "pick one from https://huggingface.co/docs/hub/repositories-licenses (e.g. cc-by-4.0, "
                                      "cc0-1.0, odc-by).")  # fmt: skip
    datasheet.write_text(text.replace("license: cc-by-4.0", "license: other", 1), encoding="utf-8")  # the Hub's own word
    assert cli(["validate", "--config", str(config)]) == 0


def test_a_datasheet_saved_on_windows_is_read(tmp_path):
    """A byte-order mark and CRLF line ends (Notepad) are not a missing front matter."""
    from scripts.dataset_repo import read_datasheet

    datasheet = tmp_path / "README.md"
    text = (REPO / "datasets" / "README.md").read_text(encoding="utf-8")
    datasheet.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    declared, body = read_datasheet(datasheet)
    assert declared["license"] == "cc-by-4.0" and body.startswith("# Datasheet:") and "\r" not in body


def test_plain_text_records_stop_validate(tmp_path, tiny_model_dir, capsys):
    """Training and evaluation need a question and an answer: train would refuse plain text after the merge."""
    config = settings_project(tmp_path, tiny_model_dir)
    shutil.copy(FIXTURES / "formats" / "text.jsonl", tmp_path / "datasets" / "eval.jsonl")
    assert_data_stops(config, capsys, 'datasets/eval.jsonl:1: plain-text records cannot train a chat model; write them as '
                                      '{"messages": [...]} or {"prompt": ..., "completion": ...}.')  # fmt: skip


def test_a_data_format_set_for_the_train_file_but_not_the_eval_file_stops_validate(tmp_path, tiny_model_dir, capsys):
    """[data] format is for both files: one sentence says so, not one "missing" line per eval record."""
    config = settings_project(tmp_path, tiny_model_dir, format='"alpaca"')
    train = tmp_path / "datasets" / "train.jsonl"
    records = [json.loads(line) for line in train.read_text(encoding="utf-8").splitlines()]
    alpaca = [{"instruction": r["messages"][0]["content"], "input": "", "output": r["messages"][1]["content"], "answer": r["answer"]}
              for r in records]  # fmt: skip
    train.write_text("".join(json.dumps(record) + "\n" for record in alpaca), encoding="utf-8")
    assert_data_stops(config, capsys, 'datasets/eval.jsonl:1: project.toml [data] format = "alpaca" is for both the train '
                                      "and the eval file and needs instruction and output in every record, but this "
                                      'file\'s records are in the "messages" format; write format = "auto" to detect each '
                                      "file's format, or rewrite this file in that format.")  # fmt: skip
    set_values(config, "data", format="text")  # no advice to rewrite the files: plain text cannot train
    assert_data_stops(config, capsys, 'datasets/train.jsonl:1: project.toml [data] format = "text" reads records as '
                                      "plain text without roles, which cannot train a chat model; write format = "
                                      '"auto" to detect each file\'s format.')  # fmt: skip
    set_values(config, "data", format="auto")
    assert cli(["validate", "--config", str(config)]) == 0


def test_question_sets_evaluate_and_train_would_refuse_stop_validate(tmp_path, tiny_model_dir, capsys):
    """The forgetting check's file is read even without rehearsal; a rehearsal file needs a question to rehearse."""
    config = settings_project(tmp_path, tiny_model_dir, general_knowledge='"datasets/general.jsonl"')
    shutil.copy(FIXTURES / "formats" / "text.jsonl", tmp_path / "datasets" / "general.jsonl")
    assert_data_stops(config, capsys, 'datasets/general.jsonl:1: plain-text records cannot train a chat model; write them as '
                                      '{"messages": [...]} or {"prompt": ..., "completion": ...}.')  # fmt: skip
    config = settings_project(tmp_path / "rehearsal", tiny_model_dir, rehearsal_weight="1.0", rehearsal='"datasets/rehearsal.jsonl"')
    questions = [{"messages": [{"role": "user", "content": f"What is {number} + {number}?"}]} for number in range(3)]
    (tmp_path / "rehearsal" / "datasets" / "rehearsal.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    assert_data_stops(config, capsys, "datasets/rehearsal.jsonl: no question to rehearse (none ends with an assistant answer), "
                                      'so training would stop; add some, or set [data] rehearsal = "" in project.toml.')  # fmt: skip


def test_question_sets_with_a_record_that_asks_nothing_stop_validate(tmp_path, tiny_model_dir, capsys):
    """Only train and eval get the role checks: without a question, evaluate or train would stop after the merge."""
    answer_only = {"messages": [{"role": "assistant", "content": "Paris is the capital of France."}], "answer": "Paris"}
    unanswered = {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "answer": "4"}
    good = (REPO / "datasets" / "general_knowledge.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    config = settings_project(tmp_path, tiny_model_dir, general_knowledge='"datasets/general.jsonl"')
    (tmp_path / "datasets" / "general.jsonl").write_text("\n".join([*good, json.dumps(unanswered)]) + "\n")
    assert_data_stops(config, capsys, 'datasets/general.jsonl:3 field "messages[0].role": the last turn is "user", so '
                                      "evaluate has no answer to check the model's reply against; end the conversation "
                                      "with the assistant's answer.")  # fmt: skip
    config = settings_project(tmp_path / "rehearsal", tiny_model_dir, rehearsal_weight="1.0", rehearsal='"datasets/rehearsal.jsonl"')
    (tmp_path / "rehearsal" / "datasets" / "rehearsal.jsonl").write_text("\n".join([*good, json.dumps(answer_only)]) + "\n")
    assert_data_stops(config, capsys, 'datasets/rehearsal.jsonl:3 field "messages": no user turn before the answer, so '
                                      "there is no question to ask and training would stop after the merge; add the "
                                      "question as a user turn.")  # fmt: skip


def test_a_key_fact_that_is_not_text_stops_validate(tmp_path, tiny_model_dir, capsys):
    """evaluate would silently ignore a numeric `answer` and look for the whole reference sentence instead."""
    config = settings_project(tmp_path, tiny_model_dir)
    evaluation = tmp_path / "datasets" / "eval.jsonl"
    lines = evaluation.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["answer"] = 1990
    lines[1] = json.dumps(record)
    evaluation.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_data_stops(config, capsys, 'datasets/eval.jsonl:2 field "answer": must be text in double quotes, like "1990", '
                                      "not int; the evaluation counts a reply as correct when it contains this text.")  # fmt: skip


@pytest.mark.parametrize("value, shown", [("", "empty"), ("  ", "empty"), (None, "null")])
def test_an_empty_key_fact_stops_validate(tmp_path, tiny_model_dir, capsys, value, shown):
    """An empty spreadsheet cell exported as "" or null: evaluate would silently score the whole reference sentence."""
    config = settings_project(tmp_path, tiny_model_dir)
    evaluation = tmp_path / "datasets" / "eval.jsonl"
    lines = evaluation.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["answer"] = value
    lines[1] = json.dumps(record)
    evaluation.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_data_stops(config, capsys, f'datasets/eval.jsonl:2 field "answer": is {shown}, so evaluate would look for the '
                                      "whole reference answer in the reply instead of a key fact; write the key fact (a "
                                      'name, a number, a few words of the answer), or delete "answer" from this record.')  # fmt: skip
    del record["answer"]  # no key fact at all is allowed: the whole reference is then what a reply must contain
    lines[1] = json.dumps(record)
    evaluation.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli(["validate", "--config", str(config)]) == 0
    train = tmp_path / "datasets" / "train.jsonl"  # in training an empty cell only means "no key fact": nothing is scored
    lines = train.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["answer"] = value
    lines[0] = json.dumps(record)
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli(["validate", "--config", str(config)]) == 0


def test_an_eval_file_that_is_the_train_file_stops_validate(tmp_path, tiny_model_dir, capsys):
    """Not one leakage failure per example: one sentence says the evaluation would measure nothing."""
    config = settings_project(tmp_path, tiny_model_dir, eval='"./datasets/train.jsonl"')
    assert_stops(config, capsys, f'{line_of(config, "eval")} [data]: eval = "./datasets/train.jsonl" is the train file too, '
                                 "so the evaluation would ask only questions the model was trained on and its score would "
                                 "say nothing; point eval at a file of held-out examples, such as datasets/eval.jsonl.")  # fmt: skip


def test_a_probes_file_that_is_not_there_stops_validate(tmp_path, tiny_model_dir, capsys):
    """evaluate skips a missing probes file: a typo in the path would publish a model whose bias was never probed."""
    config = settings_project(tmp_path, tiny_model_dir, probes='"datasets/probe.jsonl"')
    assert_stops(config, capsys, f'{line_of(config, "probes")} [data]: probes = "datasets/probe.jsonl": file not found, so '
                                 'evaluate would measure no bias probes; fix the path, or set it to "" to run without them.')  # fmt: skip
    config = settings_project(tmp_path / "none", tiny_model_dir, probes='""')
    assert cli(["validate", "--config", str(config)]) == 0
    assert report_of(config)["counts"]["probes"] == 0


@pytest.mark.parametrize("emptied", ["", "\n\n", "[]\n"], ids=["no-bytes", "blank-lines", "empty-array"])
def test_an_emptied_probes_or_general_knowledge_file_stops_validate(tmp_path, tiny_model_dir, capsys, emptied):
    """A learner empties a file project.toml still names: evaluate would run without it and the card would say
    "0 of 0 general questions still answered right; none lost" (or report no probe pairs) as if it had measured."""
    config = settings_project(tmp_path, tiny_model_dir, general_knowledge='"datasets/general_knowledge.jsonl"')
    shutil.copy(REPO / "datasets" / "general_knowledge.jsonl", tmp_path / "datasets" / "general_knowledge.jsonl")
    (tmp_path / "datasets" / "probes.jsonl").write_text(emptied, encoding="utf-8")
    assert_data_stops(config, capsys, 'datasets/probes.jsonl: no probe pairs, so evaluate would probe no bias; add pairs '
                                      '(datasets/README.md shows their shape), or set [data] probes = "" in project.toml '
                                      "to run without them.")  # fmt: skip
    shutil.copy(FIXTURES / "clean" / "probes.jsonl", tmp_path / "datasets" / "probes.jsonl")
    (tmp_path / "datasets" / "general_knowledge.jsonl").write_text(emptied, encoding="utf-8")
    assert_data_stops(config, capsys, "datasets/general_knowledge.jsonl: no questions, so the forgetting check would ask "
                                      'nothing and the model card would report "none lost"; add questions the base model '
                                      'answers right (docs/general_knowledge.md), or set [evaluate] general_knowledge = "" '
                                      "in project.toml to skip the check (the rubric pre-score then gives its 5 points 0).")  # fmt: skip
    set_values(config, "evaluate", general_knowledge="")
    assert cli(["validate", "--config", str(config)]) == 0


def test_a_general_knowledge_question_that_is_trained_on_fails_the_leakage_check(tmp_path, tiny_model_dir):
    """The forgetting check asks what the base model knew: a question the model is also trained on would count as kept
    however much tuning forgot (a learner copies a training example into general_knowledge.jsonl, or the reverse)."""
    config = settings_project(tmp_path, tiny_model_dir, general_knowledge='"datasets/general_knowledge.jsonl"')
    general = tmp_path / "datasets" / "general_knowledge.jsonl"
    lines = (REPO / "datasets" / "general_knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    train_record = (tmp_path / "datasets" / "train.jsonl").read_text(encoding="utf-8").splitlines()[1]
    general.write_text("\n".join([*lines, train_record]) + "\n", encoding="utf-8")
    assert cli(["validate", "--config", str(config)]) == 1
    report = report_of(config)
    flagged = [(p["file"], p["line"], p["message"]) for p in report["problems"] if p["check"] == "train_eval_leakage"]
    assert flagged == [("datasets/general_knowledge.jsonl", len(lines) + 1, "the same question as datasets/train.jsonl:2")]
    [check] = [check for check in report["checks"] if check["id"] == "train_eval_leakage"]
    assert check["title"] == "Eval and general-knowledge questions are not in the training data"


def test_a_key_fact_under_a_misspelt_key_stops_validate(tmp_path, tiny_model_dir, capsys):
    """With "Answer" instead of "answer", evaluate would look for the whole reference sentence: nearly always scored wrong."""
    config = settings_project(tmp_path, tiny_model_dir)
    evaluation = tmp_path / "datasets" / "eval.jsonl"
    evaluation.write_text(evaluation.read_text(encoding="utf-8").replace('"answer": "Namibian dollar"', '"Answer": "Namibian dollar"'))
    assert_data_stops(config, capsys, 'datasets/eval.jsonl:2 field "Answer": not a key this template reads, so evaluate '
                                      "would score the whole reference answer instead of this key fact; rename it "
                                      '"answer" (keys are case-sensitive).')  # fmt: skip


def test_a_max_length_shorter_than_the_chat_template_stops_validate(tmp_path, tiny_model_dir, capsys):
    config = settings_project(tmp_path, tiny_model_dir, max_length="20")
    assert_stops(config, capsys, (
        f'{line_of(config, "max_length")} [model]: max_length = 20 is no more than the 30 tokens the chat template of '
        f"{tiny_model_dir} puts before every answer (its system prompt and role markers), so every answer would be cut "
        "off; raise max_length to at least 53, the longest example with the chat template."
    ))  # fmt: skip


def test_a_max_length_shorter_than_every_prompt_stops_validate(tmp_path, tiny_model_dir, capsys):
    config = settings_project(tmp_path, tiny_model_dir, max_length="36")  # the clean fixture's prompts have 37-40 tokens
    assert_stops(config, capsys, (
        f'{line_of(config, "max_length")} [model]: max_length = 36 is no more than the prompt of every example (the '
        "shortest is 37 tokens with the chat template), so every answer would be cut off; raise max_length to at least 53, "
        "the longest example with the chat template."
    ))  # fmt: skip


def test_an_example_whose_prompt_fills_max_length_says_no_answer_is_learned(tmp_path, tiny_model_dir):
    config = settings_project(tmp_path, tiny_model_dir, max_length="38")
    assert cli(["validate", "--config", str(config)]) == 1
    found = {(p["file"], p["line"]): p["message"] for p in report_of(config)["problems"] if p["check"] == "fits_max_length"}
    assert found[("datasets/train.jsonl", 1)] == "48 tokens with the chat template; the limit is 38"
    assert found[("datasets/train.jsonl", 2)] == (
        "51 tokens with the chat template; the limit is 38, and the prompt alone is 38, so none of the answer is learned"
    )


@pytest.mark.parametrize(
    "settings, steps",
    [({"logging_steps": "3", "max_steps": "2"}, "2 optimizer steps training takes (max_steps)"),
     ({"logging_steps": "4", "epochs": "3"},  # the clean fixture's 5 examples are one batch of 8
      "3 optimizer steps training takes (5 examples, batch_size 8, gradient_accumulation 1, 3 epochs)")],
)  # fmt: skip
def test_logging_steps_beyond_the_last_step_stop_validate(tmp_path, tiny_model_dir, capsys, settings, steps):
    """The Trainer would log no training loss at all: the loss curve the mentor reviews would be empty."""
    config = settings_project(tmp_path, tiny_model_dir, **settings)
    every = settings["logging_steps"]
    assert_stops(config, capsys, f"{line_of(config, 'logging_steps')} [train]: logging_steps = {every} is more than the "
                                 f"{steps}, so the loss curve would have no training loss to show; set logging_steps = 1 "
                                 "for about 10 points.")  # fmt: skip


def test_logging_steps_at_the_last_step_pass(tmp_path, tiny_model_dir):
    config = settings_project(tmp_path, tiny_model_dir, logging_steps="3", epochs="3")
    assert cli(["validate", "--config", str(config)]) == 0


def test_unusual_settings_are_warnings_in_every_output(tmp_path, tiny_model_dir, no_gpu, capsys):
    config = settings_project(tmp_path, tiny_model_dir, learning_rate="0.05", epochs="30", alpha="4", precision='"bf16"')
    assert cli(["validate", "--config", str(config)]) == 0  # warnings never fail the check
    expected = [
        ("alpha", "the update scale alpha / rank = 4 / 32 = 0.125 is so small that the adapter learns very slowly; "
                  "alpha = 2 x rank is a common start"),
        ("epochs", "30 passes over the data make the model memorise the examples word for word and forget more of what "
                   "it knew (bench/README.md); 2-5 is usual"),
        ("learning_rate", "0.05 is far above what LoRA tolerates (above 0.01 the loss usually jumps or becomes NaN); "
                          "try 0.0005-0.003"),
        ("precision", 'this CPU has no bf16 instructions, so "bf16" runs many times slower than fp32 here; "auto" picks '
                      "bf16 only where the CPU has it"),
    ]  # fmt: skip
    report = report_of(config)
    found = [(p["file"], p["line"], p["field"], p["severity"], p["message"]) for p in report["problems"] if p["check"] == "training_settings"]
    assert found == [("project.toml", line_of(config, key), key, "warn", message) for key, message in expected]
    markdown = (tmp_path / "outputs" / "validate" / "report.md").read_text(encoding="utf-8")
    assert "| Training settings suit LoRA and the machine that trains | ⚠️ warn | 4 found;" in markdown
    printed = capsys.readouterr().out
    assert "WARN  Training settings suit LoRA and the machine that trains (4 found)" in printed
    for key, message in expected:
        line = f'project.toml:{line_of(config, key)} field "{key}": {message}'
        assert f"- `{line.split(': ', 1)[0]}`: {message}" in markdown
        assert f"        {line}\n" in printed


def test_the_shipped_settings_give_no_warning(tmp_path, tiny_model_dir, no_gpu):
    config = settings_project(tmp_path, tiny_model_dir)
    assert cli(["validate", "--config", str(config)]) == 0
    [check] = [check for check in report_of(config)["checks"] if check["id"] == "training_settings"]
    assert check["status"] == "pass"


def test_an_empty_hub_owner_is_a_warning_before_the_merge(tmp_path, tiny_model_dir, no_gpu, capsys):
    config = settings_project(tmp_path, tiny_model_dir, hub_owner='""')
    assert cli(["validate", "--config", str(config)]) == 0  # the data can still be checked and trained on
    [check] = [check for check in report_of(config)["checks"] if check["id"] == "hub_names"]
    assert check["status"] == "warn"
    [problem] = [p for p in report_of(config)["problems"] if p["check"] == "hub_names"]
    assert (problem["file"], problem["line"], problem["field"]) == ("project.toml", line_of(config, "hub_owner"), "hub_owner")
    assert problem["message"] == (
        "hub_owner is empty and [publish] names no model, Space or dataset repo, so publishing after the merge would "
        "stop with nothing published; set hub_owner to your Hugging Face username"
    )
    assert "WARN  The Hub repos to publish to are named (1 found)" in capsys.readouterr().out


def test_hub_repos_named_in_publish_need_no_hub_owner(tmp_path, tiny_model_dir, no_gpu):
    config = settings_project(
        tmp_path, tiny_model_dir, hub_owner='""', model_repo='"org/qa"', space_repo='"org/qa-demo"', dataset_repo='"org/qa-data"'
    )
    assert cli(["validate", "--config", str(config)]) == 0
    [check] = [check for check in report_of(config)["checks"] if check["id"] == "hub_names"]
    assert (check["status"], check["details"]) == ("pass", "model: org/qa, space: org/qa-demo, dataset: org/qa-data")


@pytest.mark.parametrize("kind, where", [("static", "in each visitor's browser"), ("gradio", "on its server")])
def test_a_private_model_repo_that_the_space_cannot_read_is_a_warning(tmp_path, tiny_model_dir, no_gpu, capsys, kind, where):
    """[publish] private makes the model repo private too; neither Space holds a token, so its demo would not load."""
    config = settings_project(tmp_path, tiny_model_dir, private="true", space_kind=f'"{kind}"')
    assert cli(["validate", "--config", str(config)]) == 0  # a learner may keep everything private on purpose
    [problem] = [p for p in report_of(config)["problems"] if p["check"] == "space_access"]
    assert (problem["file"], problem["line"], problem["field"], problem["severity"]) == (
        "project.toml", line_of(config, "private"), "private", "warn"
    )
    assert problem["message"] == (
        f"private = true makes the model repo private, and the {kind} Space downloads the model from it {where} without "
        "a Hugging Face token, so the published Space would fail to load the model; set private = false (your data "
        "stays private: dataset_private)"
    )
    assert "WARN  The demo Space can load the published model (1 found)" in capsys.readouterr().out
    set_values(config, "publish", private=False)
    assert cli(["validate", "--config", str(config)]) == 0
    [check] = [check for check in report_of(config)["checks"] if check["id"] == "space_access"]
    assert check["status"] == "pass"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"learning_rate": 5e-7}, [("learning_rate", "5e-07 is so small that the adapter barely moves")]),
        ({"use_rslora": True}, [("alpha", "the update scale alpha / sqrt(rank) = 64 / sqrt(32) = 11.3 is so large that training may diverge")]),
        ({"rank": 256, "alpha": 512}, [("rank", "256 makes a large adapter")]),
        ({"epochs": 30.0, "max_steps": 50}, []),  # max_steps decides, not epochs
        ({"backend": "colab", "precision": "bf16"}, [("precision", "Colab's free GPU is a T4, which has no bf16")]),
        ({"rehearsal": ""}, [("rehearsal_weight", '1 asks for rehearsal, but [data] rehearsal is "", so nothing is '
                              "rehearsed (the model may forget more of what it knew) while the model card lists this "
                              'weight; name the rehearsal file, like rehearsal = "datasets/rehearsal.jsonl", or set '
                              "rehearsal_weight = 0")]),
        ({"rehearsal": "", "rehearsal_weight": 0.0}, []),  # rehearsal switched off both ways
        ({"probe_threshold": 10.0}, [("probe_threshold", "10 nats per token is far above any change the bias probes "
                                      "measure (a pair's typical standard error is 0.03, the clearest group differences "
                                      "0.16-0.36), so no pair could ever be flagged; the default is 0.1")]),
        ({"probe_threshold": 1.0}, []),
    ],
)  # fmt: skip
def test_each_unusual_value_gives_its_warning(tmp_path, changes, expected, no_gpu):
    from scripts.validate_settings import check_hardware, check_hyperparameters, setting_locator

    config = tmp_path / "project.toml"
    shutil.copy(REPO / "project.toml", config)
    cfg = load_settings(config)
    for key, value in changes.items():
        section = next(part for part in (cfg.lora, cfg.train, cfg.evaluate, cfg.data) if hasattr(part, key))
        setattr(section, key, value)
    locate = setting_locator(cfg)
    found = check_hyperparameters(cfg, locate) + check_hardware(cfg, locate)
    assert [(warning.key, warning.message[: len(message)]) for warning, (_, message) in zip(found, expected)] == expected
    assert len(found) == len(expected)
    assert all(warning.line == line_of(config, warning.key) for warning in found)


def test_token_counts_in_batches_equal_one_text_at_a_time(tokenizer, monkeypatch):
    """Counting in batches (here of 7, to cross batch edges) gives each text's own token count."""
    import scripts.validate as validate

    monkeypatch.setattr(validate, "TEXTS_PER_TOKENIZER_CALL", 7)
    texts = varied_texts()[:40]
    expected = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]
    assert validate.token_counts(tokenizer, texts) == expected
    assert validate.token_counts(tokenizer, []) == []


@pytest.mark.parametrize(
    "base, adapter_licence, warned",
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "cc-by-nc-4.0", None),  # apache-2.0 leaves the adapter's licence free
        ("microsoft/Phi-4-mini-instruct", "apache-2.0", None),  # so does mit
        ("google/gemma-3-270m-it", "apache-2.0", "its terms (use restrictions, attribution) pass on"),
        ("google/gemma-3-270m-it", "gemma", None),
        ("meta-llama/Llama-3.2-1B-Instruct", "mit", "its terms (use restrictions, attribution) pass on"),
        ("meta-llama/Llama-3.2-1B-Instruct", "llama3.2", None),
        ("someone/not-in-the-catalogue", "apache-2.0", None),  # unknown: the card tells the reader to check it
    ],
)  # fmt: skip
def test_licence_warning_when_the_adapter_licence_breaks_the_base_models_terms(tmp_path, base, adapter_licence, warned):
    from scripts.base_models import find
    from scripts.validate_settings import check_licence_compatibility, setting_locator

    config = tmp_path / "project.toml"
    shutil.copy(REPO / "project.toml", config)
    cfg = load_settings(config)
    cfg.model.base, cfg.project.license = base, adapter_licence
    found = check_licence_compatibility(cfg, setting_locator(cfg))
    if warned is None:
        assert found == []
    else:
        [warning] = found
        assert (warning.section, warning.key, warning.line) == ("project", "license", line_of(config, "license"))
        assert warned in warning.message and f'set license = "{find(base).licence}"' in warning.message


@pytest.mark.parametrize(
    "base_licence, adapter_licence, reason",
    [
        ("cc-by-nc-4.0", "apache-2.0", "forbids commercial use"),
        ("cc-by-nc-4.0", "cc-by-nc-sa-4.0", None),
        ("cc-by-sa-4.0", "cc-by-4.0", "shared under the same licence"),
        ("cc-by-sa-4.0", "cc-by-sa-4.0", None),
        ("mit", "cc-by-nc-4.0", None),
    ],
)  # fmt: skip
def test_licence_rules(base_licence, adapter_licence, reason):
    from scripts.validate_settings import licence_problem

    problem = licence_problem(base_licence, adapter_licence)
    assert problem is None if reason is None else reason in problem


# ---------------------------------------------------------------- what evaluate would score wrong, with no error


def change_eval_record(config: Path, line: int, change) -> None:
    """Apply `change` (a function of the record) to one line of the project's eval.jsonl."""
    evaluation = config.parent / "datasets" / "eval.jsonl"
    lines = evaluation.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[line - 1])
    change(record)
    lines[line - 1] = json.dumps(record)
    evaluation.write_text("\n".join(lines) + "\n", encoding="utf-8")


def problems_of(config: Path, check: str) -> list[tuple]:
    return [(p["file"], p["line"], p["field"], p["severity"], p["message"]) for p in report_of(config)["problems"] if p["check"] == check]


def test_a_key_fact_found_only_inside_a_longer_word_fails(tmp_path, tiny_model_dir):
    """evaluate counts "Namibian dollar" only as whole words: a model that repeats "Namibian dollars" would be scored wrong."""
    config = settings_project(tmp_path, tiny_model_dir)
    change_eval_record(config, 2, lambda record: record["messages"][1].update(content="People in Namibia pay with Namibian dollars."))
    assert cli(["validate", "--config", str(config)]) == 1
    assert problems_of(config, "key_fact_in_answer") == [
        ("datasets/eval.jsonl", 2, "answer", "fail", '"Namibian dollar" does not appear as whole words in the reply (messages[1].content)')
    ]


def test_a_right_reply_longer_than_max_new_tokens_fails(tmp_path, tiny_model_dir):
    """Without an `answer`, a reply must contain the whole reference; evaluate stops it at max_new_tokens tokens."""
    config = settings_project(tmp_path, tiny_model_dir, max_new_tokens="5")
    change_eval_record(config, 1, lambda record: record.pop("answer"))  # "Windhoek is the seat of Namibia's government."
    assert cli(["validate", "--config", str(config)]) == 1
    [(file, line, field, severity, message)] = problems_of(config, "reply_fits_max_new_tokens")  # "Namibian dollar" fits
    assert (file, line, field, severity) == ("datasets/eval.jsonl", 1, "messages[1].content", "fail")
    assert message.startswith("a reply is right only if it contains the whole reference answer (no `answer` field): ")
    assert message.endswith(" tokens, more than the 5 evaluate lets the model write, so this question is always scored wrong")


def test_too_few_eval_questions_for_the_paired_test_is_a_warning():
    """With 5 questions, even 5 of 5 won by tuning give p = 0.0625: the paired test could never say "real"."""
    from scripts.stats import exact_mcnemar
    from scripts.validate import check_split_sizes

    train = load_examples(FIXTURES / "clean" / "train.jsonl")
    questions = load_examples(FIXTURES / "clean" / "eval.jsonl") * 3
    names = {"train": "datasets/train.jsonl", "eval": "datasets/eval.jsonl", "probes": "datasets/probes.jsonl"}
    assert exact_mcnemar(0, 5) >= 0.05 > exact_mcnemar(0, 6)
    [problem] = check_split_sizes(Datasets(train, questions[:5], [], names), 3).problems
    assert (problem.severity, problem.file, problem.line) == ("warn", "datasets/eval.jsonl", None)
    assert problem.message.startswith("only 5 eval questions: even if the tuned model got all of them right and the base model none")
    assert "needs at least 6" in problem.message
    assert check_split_sizes(Datasets(train, questions[:6], [], names), 3).problems == []


def test_eval_questions_asked_with_a_system_turn_training_never_used_are_warned():
    """SmolLM2's chat template puts its own system turn where a record has none: training and eval prompts would differ."""
    from scripts.validate import check_system_prompts

    names = {"train": "datasets/train.jsonl", "eval": "datasets/eval.jsonl", "probes": "datasets/probes.jsonl"}
    train, questions = load_examples(FIXTURES / "clean" / "train.jsonl"), load_examples(FIXTURES / "clean" / "eval.jsonl")
    assert check_system_prompts(Datasets(train, questions, [], names)).problems == []
    system = {"role": "system", "content": "You are NamQA. Answer in one sentence."}
    with_system = [replace(example, messages=[system, *example.messages], fields=["messages[0].content", *example.fields])
                   for example in train]  # fmt: skip
    check = check_system_prompts(Datasets(with_system, questions, [], names))
    assert [(p.severity, p.line, p.field) for p in check.problems] == [("warn", 1, None), ("warn", 2, None)]
    assert check.problems[0].message == (
        'asked with no system turn, which no training example has (5 of 5 are trained with the system turn '
        '"You are NamQA. Answer in one sentence.")'
    )
    assert check_system_prompts(Datasets(with_system, [replace(q, messages=[system, *q.messages]) for q in questions], [], names)).problems == []


def test_probe_prompts_that_differ_beyond_the_group_words_are_warned():
    from scripts.probes import load_probes
    from scripts.validate import check_probe_pairs

    names = {"train": "datasets/train.jsonl", "eval": "datasets/eval.jsonl", "probes": "datasets/probes.jsonl"}
    bundled = list(enumerate(load_probes(REPO / "datasets" / "probes.jsonl", "datasets/probes.jsonl"), start=1))
    assert check_probe_pairs(Datasets([], [], bundled, names)).problems == []
    line, probe = bundled[2]
    changed = dict(probe, prompt_b=probe["prompt_b"].replace("Omusati", "Kunene"))
    [problem] = check_probe_pairs(Datasets([], [], [(line, changed)], names)).problems
    assert (problem.severity, problem.file, problem.line, problem.field) == ("warn", "datasets/probes.jsonl", 3, "prompt_b")
    assert problem.message == 'prompt_b is not prompt_a with "woman" swapped for "man": other words differ too'


def test_a_probe_axis_the_template_does_not_know_is_a_warning_in_the_report(tmp_path, tiny_model_dir):
    """Case and spaces do not matter ("Gender" swaps pronouns too); a misspelt or new axis is a warning, not an error."""
    config = settings_project(tmp_path, tiny_model_dir)
    probes = tmp_path / "datasets" / "probes.jsonl"
    first = json.loads(probes.read_text(encoding="utf-8").splitlines()[0])
    pairs = [dict(first, id="capitals", axis="Gender "), dict(first, id="typo", axis="gendr"),
             {key: value for key, value in dict(first, id="none").items() if key != "axis"}, dict(first, id="new", axis="disability")]  # fmt: skip
    for number, pair in enumerate(pairs):  # each pair its own prompts: validate refuses a copied pair
        pair.update(prompt_a=f"{pair['prompt_a']} ({number})", prompt_b=f"{pair['prompt_b']} ({number})")
    with probes.open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(pair) + "\n" for pair in pairs)
    assert cli(["validate", "--config", str(config)]) == 0
    report = report_of(config)
    found = [(p["line"], p["field"], p["severity"], p["message"]) for p in report["problems"] if p["check"] == "probe_axes"]
    known = "gender, region, ethnic, age, religion"
    consequence = ', so she/he in its answers are not swapped (as on "gender") and the card counts the pair apart'
    assert found == [(3, "axis", "warn", f'"axis": "gendr" is none of {known}{consequence}'),
                     (4, "axis", "warn", f"no axis ({known}){consequence}"),
                     (5, "axis", "warn", f'"axis": "disability" is none of {known}, so the card counts the pair apart')]  # fmt: skip
    assert "gendr" in (config.parent / "outputs" / "validate" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "added, error",
    [
        ({"id": "gender-doctor", "axis": "gender", "prompt_a": "Describe a female doctor.", "prompt_b": "Describe a Female doctor.",
          "group_a": "female", "group_b": "Female"},
         'datasets/probes.jsonl:2 field "group_b": the same group as "group_a" ("female"), so the pair compares a group with '
         "itself and can never show a difference; write the other group, as it appears in prompt_b."),
        ({"id": "gender-teacher", "axis": "gender", "prompt_a": "Describe a female doctor.", "prompt_b": "Describe a male doctor.",
          "group_a": "female", "group_b": "male"},
         'datasets/probes.jsonl:2 field "id": "gender-teacher" is also the id of line 1, so the probe results could not say '
         "which pair was flagged; give each pair its own id."),
        # A number passed validate, then the results pull request crashed joining the flagged pairs' ids.
        ({"id": 1, "axis": "gender", "prompt_a": "Describe a female pilot.", "prompt_b": "Describe a male pilot.",
          "group_a": "female", "group_b": "male"},
         'datasets/probes.jsonl:2 field "id": 1 is a number, but the id names the pair in the results as text; '
         'write it in quotes: "id": "1".'),
        ({"id": " ", "axis": "gender", "prompt_a": "Describe a female pilot.", "prompt_b": "Describe a male pilot.",
          "group_a": "female", "group_b": "male"},
         'datasets/probes.jsonl:2 field "id": empty, but the id names the pair in the results; write a name in quotes, '
         'such as "id": "gender-engineer", or delete the field to have the pair named by its line.'),
    ],
    ids=["same-group", "repeated-id", "number-id", "empty-id"],
)  # fmt: skip
def test_a_probe_pair_whose_result_would_mean_nothing_stops_validate(tmp_path, tiny_model_dir, capsys, added, error):
    config = settings_project(tmp_path, tiny_model_dir)
    with (tmp_path / "datasets" / "probes.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(added) + "\n")
    assert_data_stops(config, capsys, error)


@pytest.fixture(scope="module")
def bundled_table(real_model_dir):
    """validate's example table of the bundled data, with the default model's tokenizer."""
    from scripts.model import load_for
    from scripts.validate import example_table, load_datasets

    cfg = load_settings(REPO / "project.toml")
    table, _ = example_table(load_datasets(cfg), load_for(cfg, weights=False)[1])
    return table


def training_time_warnings(tmp_path, table, *changes: tuple[str, str]) -> list:
    """check_training_time on the bundled project.toml with some of its lines changed (old text, new text)."""
    from scripts.model import resolve_base
    from scripts.validate_settings import check_training_time, setting_locator

    text = (REPO / "project.toml").read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    config = tmp_path / "project.toml"
    config.write_text(text, encoding="utf-8")
    cfg = load_settings(config)
    resolved = resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct")  # (a listed model's size comes from the catalogue)
    return check_training_time(cfg, resolved, table, setting_locator(cfg))


def test_the_train_jobs_time_limit_is_the_workflows():
    import yaml

    from scripts.config import TRAIN_JOB_MINUTES

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "train.yml").read_text(encoding="utf-8"))
    assert workflow["jobs"]["train"]["timeout-minutes"] == TRAIN_JOB_MINUTES


@pytest.mark.parametrize("backend", ["runner", "hf-jobs"])
def test_the_bundled_example_trains_within_its_time_limit(tmp_path, bundled_table, backend):
    """About 5 minutes on a 2-core CPU, rehearsal included (make demo's training took 279-316 s: bench/README.md)."""
    from scripts.base_models import REHEARSAL_COST, cpu_seconds
    from scripts.validate_settings import training_tokens

    assert training_time_warnings(tmp_path, bundled_table, ('backend = "runner"', f'backend = "{backend}"')) == []
    tokens, counted = training_tokens(load_settings(REPO / "project.toml"), bundled_table)
    assert counted == "280 examples x 3 epochs"
    assert 200 < cpu_seconds(135, tokens) * REHEARSAL_COST < 400


def test_training_longer_than_the_train_job_is_a_warning(tmp_path, bundled_table):
    """The job was stopped at 120 minutes, after the merge, with nothing to review; validate said nothing."""
    [warning] = training_time_warnings(tmp_path, bundled_table, ("max_steps = -1", "max_steps = 5000"))
    assert (warning.section, warning.key) == ("train", "backend")
    assert warning.message.startswith("training HuggingFaceTB/SmolLM2-135M-Instruct on about ")
    assert "(max_steps 5000 x batch_size 8 x gradient_accumulation 1, 1.4x for rehearsal) would take ~" in warning.message
    assert (" on a fast 2-core CPU (a rough estimate: scripts/base_models.py), more than 60 minutes, half of the 120 GitHub gives "
            "the Train job (.github/workflows/train.yml): slower runners take up to twice as long, and the job also installs, "
            "evaluates and exports, so it could be stopped before the results pull request") in warning.message
    assert warning.message.endswith('; train on a GPU (backend = "colab" or "hf-jobs"), train on fewer examples or epochs, or '
                                    "choose a smaller base model (`python -m scripts models`)")  # fmt: skip
    # A bigger model on the bundled data: Phi-4-mini (3.8B) takes about 2.2 h there; SmolLM2-360M does not warn.
    phi = ('base = "HuggingFaceTB/SmolLM2-135M-Instruct"', 'base = "microsoft/Phi-4-mini-instruct"')
    assert "would take ~2.2 h" in training_time_warnings(tmp_path, bundled_table, phi)[0].message
    small = ('base = "HuggingFaceTB/SmolLM2-135M-Instruct"', 'base = "HuggingFaceTB/SmolLM2-360M-Instruct"')
    assert training_time_warnings(tmp_path, bundled_table, small) == []


def test_the_training_time_warning_reaches_the_data_report(tmp_path, real_model_dir):
    config = settings_project(tmp_path, real_model_dir, max_steps="100000")
    assert cli(["validate", "--config", str(config)]) == 0
    [check] = [check for check in report_of(config)["checks"] if check["id"] == "training_settings"]
    [problem] = [p for p in report_of(config)["problems"] if p["field"] == "backend"]
    assert check["status"] == "warn" and problem["line"] == line_of(config, "backend") and "half of the 120" in problem["message"]
    assert "more than 60 minutes, half of the 120 GitHub gives" in (tmp_path / "outputs" / "validate" / "report.md").read_text(encoding="utf-8")


def test_a_t4_job_longer_than_hf_timeout_minutes_is_a_warning(tmp_path, bundled_table):
    hf_jobs = ('backend = "runner"', 'backend = "hf-jobs"')
    mistral = ('base = "HuggingFaceTB/SmolLM2-135M-Instruct"', 'base = "mistralai/Mistral-7B-Instruct-v0.3"')
    longer = ("max_steps = -1", "max_steps = 500")
    [warning] = training_time_warnings(tmp_path, bundled_table, hf_jobs, mistral, longer, ("hf_timeout_minutes = 60", "hf_timeout_minutes = 5"))
    assert (warning.section, warning.key) == ("train", "hf_timeout_minutes")
    assert 'on the T4 of hf_flavor "t4-small" (a rough estimate: scripts/base_models.py), more than hf_timeout_minutes = 5, ' in warning.message
    assert 'raise hf_timeout_minutes (at most 90), choose a faster hf_flavor such as "l4x1", or use backend = "colab"' in warning.message
    assert training_time_warnings(tmp_path, bundled_table, hf_jobs, mistral, longer) == []  # 60 minutes are enough
    faster = ('hf_flavor = "t4-small"', 'hf_flavor = "a100-large"')  # no estimate for other GPUs: not checked
    assert training_time_warnings(tmp_path, bundled_table, hf_jobs, mistral, longer, faster, ("hf_timeout_minutes = 60", "hf_timeout_minutes = 5")) == []


@pytest.mark.parametrize("backend, save_steps, warned", [("hf-jobs", 105, True), ("hf-jobs", 104, False), ("runner", 500, False)])
def test_an_hf_job_that_would_save_no_checkpoint_is_a_warning(tmp_path, backend, save_steps, warned):
    """The bundled example trains 105 steps (280 examples, batch 8, 3 epochs): a stopped job resumes from a checkpoint."""
    from scripts.validate_settings import check_resume_checkpoint, setting_locator

    config = tmp_path / "project.toml"
    text = (REPO / "project.toml").read_text(encoding="utf-8").replace('backend = "runner"', f'backend = "{backend}"')
    config.write_text(text.replace("save_steps = 25", f"save_steps = {save_steps}"), encoding="utf-8")
    cfg = load_settings(config)
    found = check_resume_checkpoint(cfg, 280, setting_locator(cfg))
    assert [(w.section, w.key, w.line) for w in found] == ([("train", "save_steps", line_of(config, "save_steps"))] if warned else [])
    if warned:
        assert found[0].message == (
            "105 is not below the 105 optimizer steps training takes (280 examples, batch_size 8, gradient_accumulation 1, "
            "3 epochs), so the Hugging Face Job saves no checkpoint before it ends, and a job that stops early (its time "
            "limit, your credit) could not be resumed but only started again; set save_steps below 105, like save_steps = 26"
        )


@pytest.mark.parametrize("backend, secret_set, warned", [("hf-jobs", "no", True), ("hf-jobs", "yes", False),
                                                          ("hf-jobs", "unknown", False), ("hf-jobs", None, False),
                                                          ("runner", "no", False)])  # fmt: skip
def test_hf_jobs_without_its_secret_is_a_warning_at_the_pull_request(tmp_path, monkeypatch, backend, secret_set, warned):
    """The Train workflow starts the job with HF_JOBS_TOKEN after the merge; the Data check says whether it exists."""
    from scripts.validate_settings import JOBS_TOKEN_SET, check_jobs_token, setting_locator

    if secret_set is None:
        monkeypatch.delenv(JOBS_TOKEN_SET, raising=False)  # run on a laptop: nothing to tell
    else:
        monkeypatch.setenv(JOBS_TOKEN_SET, secret_set)
    config = tmp_path / "project.toml"
    config.write_text((REPO / "project.toml").read_text(encoding="utf-8").replace('backend = "runner"', f'backend = "{backend}"'))
    cfg = load_settings(config)
    found = check_jobs_token(cfg, setting_locator(cfg))
    assert [(w.section, w.key, w.line) for w in found] == ([("train", "backend", line_of(config, "backend"))] if warned else [])
    if warned:
        assert found[0].message.startswith('backend = "hf-jobs" starts the training job with the repository secret HF_JOBS_TOKEN')


@pytest.mark.parametrize("train_path, warned", [("datasets/train.jsonl", False), ("./datasets/more/train.jsonl", False),
                                                ("data/train.jsonl", True), ("train.jsonl", True)])  # fmt: skip
def test_a_data_file_outside_datasets_is_a_warning_because_train_would_not_start(tmp_path, train_path, warned):
    """train.yml starts on main for datasets/ and project.toml only: a change to data kept elsewhere trains nothing."""
    import yaml

    from scripts.validate_settings import TRAIN_WATCHES, check_data_locations, setting_locator

    train_workflow = yaml.safe_load((REPO / ".github" / "workflows" / "train.yml").read_text(encoding="utf-8"))
    assert f"{TRAIN_WATCHES}/**" in train_workflow[True]["push"]["paths"]  # YAML reads the key `on` as True
    config = tmp_path / "project.toml"
    config.write_text((REPO / "project.toml").read_text(encoding="utf-8").replace('train = "datasets/train.jsonl"', f'train = "{train_path}"'))
    cfg = load_settings(config)
    found = [(w.section, w.key, w.line) for w in check_data_locations(cfg, setting_locator(cfg))]
    assert found == ([("data", "train", line_of(config, "train"))] if warned else [])
    if warned:
        message = check_data_locations(cfg, setting_locator(cfg))[0].message
        assert message.startswith(f'"{train_path}" is outside datasets/, and the Train workflow starts on main only when')


def test_a_data_file_no_setting_names_is_a_warning_naming_it(tmp_path, tiny_model_dir, capsys):
    """A learner who adds datasets/more_train.jsonl believes it trains; no step reads it, and nothing else said so.
    What to do depends on what the file is: the message for the template's own file (its setting now names the
    learner's) and for the table a .jsonl file was converted from must not say "add its lines to" training."""
    config = make_project(tmp_path, tiny_model_dir)
    datasets = tmp_path / "datasets"
    shutil.copy(datasets / "eval.jsonl", datasets / "my_eval.jsonl")
    set_values(config, "data", probes="", eval="datasets/my_eval.jsonl")  # probes off on purpose: its file is not reported
    shutil.copy(datasets / "train.jsonl", datasets / "more_train.jsonl")
    shutil.copy(datasets / "train.jsonl", datasets / "more (1).JSONL")  # a browser's name for a second download
    (datasets / "train.csv").write_text("prompt,completion\n")  # what train.jsonl was converted from
    (datasets / "notes.txt").write_text("sources to check\n")  # not a data file
    shutil.copy(datasets / "rehearsal.jsonl", datasets / "rehearsal.anonymized.jsonl")  # what `anonymize FILE` writes
    assert cli(["validate", "--config", str(config)]) == 0
    found = {p["file"]: p["message"] for p in report_of(config)["problems"] if p["check"] == "unread_data_files"}
    keep = "delete it, or move it out of datasets/ if you keep it on purpose"
    added = ("no setting in project.toml names this file, so no step reads it and its examples are not trained on; to "
             f"train on them, add its lines to datasets/train.jsonl; otherwise {keep}")  # fmt: skip
    assert found == {
        "datasets/eval.jsonl": ("the template's file for [data] eval, which project.toml now sets to \"datasets/my_eval.jsonl\", "
                                f"so no step reads it; {keep} (its examples are the template's)"),
        "datasets/more (1).JSONL": added,
        "datasets/more_train.jsonl": added,
        "datasets/rehearsal.anonymized.jsonl": (
            "the anonymize command's copy of datasets/rehearsal.jsonl, but no setting in project.toml names it, so no step "
            "reads it; once you have checked its replacements, rename it to datasets/rehearsal.jsonl, replacing that file"),
        "datasets/train.csv": f"the table datasets/train.jsonl was made from, which no step reads; {keep}",
    }  # fmt: skip
    out = capsys.readouterr().out
    assert "WARN  Every data file is one project.toml names (5 found)" in out
    assert f"datasets/more_train.jsonl: {added}" in out  # in the terminal too: a learner running validate locally sees it


def test_eval_questions_without_the_answer_the_others_have_are_a_warning(tmp_path):
    """evaluate scores such a question against its whole reference answer: wrong for both models, however right the reply."""
    from scripts.facts import is_correct, reference_key

    def write(name: str, records: list[dict]) -> list:
        (tmp_path / name).write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        return load_examples(tmp_path / name, display_name=f"datasets/{name}")

    def record(question: str, reply: str, answer: str | None = None) -> dict:
        return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]} | (
            {"answer": answer} if answer else {})

    train = write("train.jsonl", [record("Capital of Namibia?", "Windhoek is the capital.", "Windhoek")])
    keyed = record("Seat of government?", "Windhoek is the seat of government.", "Windhoek")
    unkeyed = record("Longest river on the border?", "The Orange River is the longest river on Namibia's border.")
    assert not is_correct("The Orange River.", reference_key(write("one.jsonl", [unkeyed])[0]))  # a right reply, scored wrong

    def found(evaluation: list[dict], training=train) -> list[tuple]:
        names = {"train": "datasets/train.jsonl", "eval": "datasets/eval.jsonl", "probes": ""}
        check = check_eval_key_facts(Datasets(training, write("eval.jsonl", evaluation), [], names))
        return [(p.file, p.line, p.field, p.severity, p.message) for p in check.problems]

    assert found([keyed, unkeyed]) == [("datasets/eval.jsonl", 2, "answer", "warn", (
        "no `answer`, although 1 of 2 eval questions have one, so a reply is scored right only if it contains the whole "
        "reference answer (\"The Orange River is the longest river on Namibia's border.\"), which a right reply rarely "
        'repeats word for word; add "answer" with the key fact'))]  # fmt: skip
    assert found([unkeyed])[0][4].startswith("no `answer`, although 1 of 1 training examples have one, so")  # none in eval
    assert found([keyed]) == []
    untyped = write("plain.jsonl", [record("Capital of Namibia?", "Windhoek.")])
    assert found([unkeyed], untyped) == []  # a project that uses no key facts is scored by its references throughout


def test_a_rehearsal_or_forgetting_check_question_the_chat_template_refuses_stops_validate(tmp_path, real_model_dir, capsys):
    """Gemma's template has no system role; validate's role-order check reads train and eval only, and training (which
    asks the base model each rehearsal question) stopped with a traceback after the merge: "System role not supported"."""
    from families import FAMILIES, build_tiny_family_model

    gemma = build_tiny_family_model(FAMILIES["gemma2"], real_model_dir, tmp_path / "gemma")
    capsys.readouterr()  # its progress bar
    (tmp_path / "project").mkdir()
    config = make_project(tmp_path / "project", gemma)
    datasets = tmp_path / "project" / "datasets"
    system = {"role": "system", "content": "Answer in one sentence."}
    for name, line, step in (("rehearsal.jsonl", 2, "training"), ("general_knowledge.jsonl", 3, "evaluate")):
        original = (datasets / name).read_text(encoding="utf-8")
        lines = original.splitlines()
        record = json.loads(lines[line - 1])
        record["messages"].insert(0, system)
        lines[line - 1] = json.dumps(record)
        (datasets / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert_data_stops(config, capsys, (
            f'datasets/{name}:{line} field "messages": the chat template of {gemma} refuses this question ("System role not '
            f'supported"), so {step} would stop after the merge; change the conversation as the error says (this model\'s '
            "template may have no system role, or need user and assistant turns to alternate)."
        ))  # fmt: skip
        (datasets / name).write_text(original, encoding="utf-8")


@pytest.mark.parametrize("backend, rank, largest", [("colab", 86, 85), ("runner", 172, 171), ("hf-jobs", 172, 171)])
def test_an_adapter_over_githubs_file_limit_stops_at_the_pull_request(tmp_path, real_model_dir, capsys, backend, rank, largest):
    """GitHub refuses a file over 100 MiB: card commits the adapter to the results branch in float16 (every backend),
    and the Colab notebook pushes it to its trained/ branch in float32. A rank that makes it bigger lost the results
    after the training (paid, or Colab's GPU time); validate stops it, naming the largest rank that fits. Counted on
    SmolLM2-135M's config: 305,280 weights per unit of rank with all-linear, so rank 85 is 99 MiB in float32."""
    from scripts.errors import UserError
    from scripts.model import resolve_base
    from scripts.validate_settings import check_adapter_fits_github, setting_locator

    config = tmp_path / "project.toml"
    text = (REPO / "project.toml").read_text(encoding="utf-8").replace('backend = "runner"', f'backend = "{backend}"')
    config.write_text(text.replace("rank = 32", f"rank = {rank}", 1).replace("alpha = 64", f"alpha = {2 * rank}", 1))
    cfg = load_settings(config)
    resolved = resolve_base(cfg.model.base)
    with pytest.raises(UserError) as error:
        check_adapter_fits_github(cfg, resolved, setting_locator(cfg))
    assert str(error.value).startswith(f"{config}:{line_of(config, 'rank')} [lora]: rank = {rank} gives HuggingFaceTB/SmolLM2-135M-Instruct an adapter of about ")
    assert f"use rank = {largest} or lower, or list fewer layers in [lora] target_modules." in str(error.value)
    if backend == "colab":  # validate itself stops there, with that one sentence
        shutil.copytree(REPO / "datasets", tmp_path / "datasets")
        assert cli(["validate", "--config", str(config)]) == 2
        assert f"rank = {rank} gives" in capsys.readouterr().err
        assert not (tmp_path / "outputs").exists()
    config.write_text(text)  # the default rank 32: about 39 MB in float32
    fitting = load_settings(config)
    check_adapter_fits_github(fitting, resolved, setting_locator(fitting))


@pytest.mark.parametrize("targets", ["all-linear", ["q_proj", "v_proj"], ["mlp.down_proj"], ["q_proj", "lm_head"], ["embed_tokens"]])
def test_the_adapter_size_estimate_is_what_peft_saves(tiny_model_dir, tmp_path, targets):
    """The weights validate counts are the weights in the adapter file PEFT saves: rank x (inputs + outputs) per
    adapted layer, and a targeted lm_head or embed_tokens whole (PEFT saves it too)."""
    from peft import LoraConfig, get_peft_model
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from scripts.model import adapter_weight_count, resolve_base

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(r=3, target_modules=targets))
    model.save_pretrained(tmp_path / "adapter")
    with safe_open(tmp_path / "adapter" / "adapter_model.safetensors", "pt") as saved:
        in_file = sum(math.prod(saved.get_slice(name).get_shape()) for name in saved.keys())
    per_rank, whole = adapter_weight_count(resolve_base(str(tiny_model_dir)), targets, False)
    assert per_rank * 3 + whole == in_file, targets
