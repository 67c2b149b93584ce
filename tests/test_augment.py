"""`python -m scripts augment`: proposals go to a review file, the filters drop what a learner
should not have to read, and --accept appends only accepted, checked records."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import make_project, run_cli, set_values
from scripts import augment
from scripts.__main__ import main as cli
from scripts.data import load_examples
from scripts.similarity import SimilarityIndex, comparable

TRAIN = [
    {
        "messages": [
            {"role": "user", "content": "What is the capital of Namibia?"},
            {"role": "assistant", "content": "Windhoek is the capital of Namibia."},
        ],
        "answer": "Windhoek",
        "category": "geography",
        "source": "Namibian Constitution, Article 1",
    },
    {
        "messages": [
            {"role": "user", "content": "Which ocean lies along Namibia's western coast?"},
            {"role": "assistant", "content": "The Atlantic Ocean lies along Namibia's western coast."},
        ],
        "answer": "Atlantic Ocean",
        "category": "geography",
        "source": "Wikipedia: Geography of Namibia",
    },
    {
        "messages": [
            {"role": "user", "content": "In which year did Namibia become independent?"},
            {"role": "assistant", "content": "Namibia became independent in 1990."},
        ],
        "answer": "1990",
        "category": "history",
        "source": "Wikipedia: Namibia",
    },
]

# What a fake model "says" for the first two training questions, and for their answers.
FAKE_QUESTIONS = {
    "What is the capital of Namibia?": [
        "Which city is Namibia's capital?",  # kept
        "What's the capital of Namibia?",  # a copy of the original
        "Windhoek is the capital.",  # not a question
        "Which city is the capital?",  # lost "Namibia"
        "Which city is Namibia's capital city?",  # a copy of the first proposal
    ],
    "Which ocean lies along Namibia's western coast?": [
        "Namibia's western shore borders which ocean?",  # kept
        "",  # empty
        "Is it the Atlantic Ocean that lies off Namibia?",  # gives away the answer
    ],
}
FAKE_ANSWERS = {
    "Windhoek is the capital of Namibia.": ["Namibia's capital is Windhoek.", "The capital is a big city."],
    "The Atlantic Ocean lies along Namibia's western coast.": ["It is a big ocean."],  # lost the answer: keep the original
}


def write_jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")


@pytest.fixture
def project(tmp_path, tiny_model_dir):
    """A project copy whose training file is TRAIN (so these tests do not depend on the shipped data)."""
    config = make_project(tmp_path, tiny_model_dir)
    write_jsonl(tmp_path / "datasets" / "train.jsonl", TRAIN)
    return config


def fake_generator(cfg, model_id):
    def ask(prompts, samples, max_new_tokens):
        replies = []
        for prompt in prompts:
            request = prompt[-1]["content"].split(": ", 1)[1]
            options = FAKE_QUESTIONS.get(request) or FAKE_ANSWERS.get(request) or []
            replies += (options + [""] * samples)[: max(samples, len(options))]
        return replies

    return ask


# ---------------------------------------------------------------- proposing


def test_proposals_go_to_a_review_file_with_review_fields_and_train_is_untouched(project, monkeypatch, capsys):
    monkeypatch.setattr(augment, "load_generator", fake_generator)
    set_values(project, "augment", proposals=5)
    train = project.parent / "datasets" / "train.jsonl"
    before = train.read_bytes()

    assert cli(["augment", "--config", str(project), "--limit", "2"]) == 0

    assert train.read_bytes() == before
    lines = (project.parent / "outputs" / "augment" / "proposals.jsonl").read_text(encoding="utf-8").splitlines()
    proposals = [json.loads(line) for line in lines]
    assert [p["messages"][0]["content"] for p in proposals] == [
        "Which city is Namibia's capital?",
        "Namibia's western shore borders which ocean?",
    ]
    first, second = proposals
    assert list(first)[:3] == ["accept", "from", "original"]  # the review fields come first, where they are seen
    assert first["accept"] is False and second["accept"] is False
    assert first["from"] == "datasets/train.jsonl:1" and second["from"] == "datasets/train.jsonl:2"
    assert first["original"] == "What is the capital of Namibia?"
    assert first["messages"][1]["content"] == "Namibia's capital is Windhoek."  # reworded, still has "Windhoek"
    assert second["messages"][1]["content"] == TRAIN[1]["messages"][1]["content"]  # the rewording lost the answer
    assert {key: first[key] for key in ("answer", "category", "source")} == {
        key: TRAIN[0][key] for key in ("answer", "category", "source")
    }
    output = capsys.readouterr().out
    assert "Kept 2 of 10 proposed questions" in output and "--accept" in output


def test_the_default_model_warning_gives_the_measured_quality(project, monkeypatch, capsys):
    monkeypatch.setattr(augment, "load_generator", fake_generator)
    set_values(project, "model", base=augment.DEFAULT_MODEL)
    assert cli(["augment", "--config", str(project), "--limit", "1"]) == 0
    output = capsys.readouterr().out
    assert augment.DEFAULT_MODEL_QUALITY in output and "[augment] model" in output


def test_augment_model_setting_loads_a_local_folder_through_the_cli(tmp_path, tiny_model_dir):
    """[model] base points nowhere, so only [augment] model can have been loaded."""
    config = make_project(tmp_path, "./no-such-model")
    write_jsonl(tmp_path / "datasets" / "train.jsonl", TRAIN)
    set_values(config, "augment", model=str(tiny_model_dir), proposals=2, batch_size=4)
    before = (tmp_path / "datasets" / "train.jsonl").read_bytes()

    result = run_cli("augment", "--config", str(config), "--limit", "2", "--output", str(tmp_path / "review.jsonl"))

    assert result.returncode == 0, result.stderr[-2000:]
    assert f"with {tiny_model_dir}" in result.stdout
    assert "Kept " in result.stdout and (tmp_path / "review.jsonl").is_file()  # random weights: most likely nothing kept
    assert (tmp_path / "datasets" / "train.jsonl").read_bytes() == before


def test_augment_model_folder_without_config_names_the_setting(project, tmp_path, capsys):
    set_values(project, "augment", model="./empty-folder")
    (tmp_path / "empty-folder").mkdir()
    assert cli(["augment", "--config", str(project)]) == 2
    error = capsys.readouterr().err
    assert "[augment] model: folder ./empty-folder has no config.json" in error, error


# ---------------------------------------------------------------- the filters

ORIGINAL = "What is the capital of Namibia?"


def known_questions(threshold=0.8):
    index = SimilarityIndex(threshold)
    for record in TRAIN:
        index.add(comparable(record["messages"][0]["content"]), record)
    return index


@pytest.mark.parametrize(
    "candidate, kept, reason",
    [
        ("", [], "empty"),
        ("Windhoek is the capital of Namibia.", [], "not a question"),
        ("What's the capital of Namibia?", [], "copy of a training question"),
        ("Which ocean lies along Namibia's west coast?", [], "copy of a training question"),  # another record's
        ("Which city is Namibia's capital city?", ["Which city is Namibia's capital?"], "copy of another proposal"),
        ("Which city is the capital?", [], "lost key words"),
        ("Is Windhoek the capital of Namibia?", [], "gives away the answer"),
        ("Which city is Namibia's capital?", [], None),
        ("Which Namibian city is the seat of government?", [], None),  # "Namibian" keeps "Namibia"
    ],
)
def test_rejection_reason(candidate, kept, reason):
    assert augment.rejection_reason(ORIGINAL, candidate, "Windhoek", known_questions(), kept, 0.8) == reason


@pytest.mark.parametrize(
    "original, candidate, lost",
    [
        ("What was Namibia called during German colonial rule?", "What was Namibia called?", ["german"]),
        ("What was Namibia called during German colonial rule?", "Under German rule, what was Namibia's name?", []),
        ("What happened in Namibia in 1990?", "What happened in Namibia that year?", ["1990"]),
        ("What is the national bird?", "Which bird is the national one?", []),  # no names: one content word is enough
        ("What is the national bird?", "What is it?", ["national", "bird"]),
    ],
)
def test_lost_key_words_are_names_and_numbers(original, candidate, lost):
    assert augment.lost_key_words(original, candidate) == lost


def test_reworded_answers_must_keep_the_answer_and_differ(tmp_path):
    example = load_examples_from(tmp_path, TRAIN[:1])[0]
    question = augment.Question(example, TRAIN[0], 0)
    candidates = [
        "Namibia's capital is Windhoek.",
        "The capital is a big city.",  # lost "Windhoek"
        "Windhoek is the capital of Namibia!",  # the original again
        "Namibia's capital is Windhoek.",  # a repeat
        "Windhoeks are nice.",  # "Windhoek" only as part of another word
    ]
    assert augment.filter_answers(question, candidates) == ["Namibia's capital is Windhoek."]


def test_filter_questions_counts_why_each_was_dropped(tmp_path):
    example = load_examples_from(tmp_path, TRAIN[:1])[0]
    question = augment.Question(example, TRAIN[0], 0)
    kept, dropped = augment.filter_questions(question, FAKE_QUESTIONS[ORIGINAL], known_questions(), 0.8)
    assert kept == ["Which city is Namibia's capital?"]
    assert dropped == Counter(
        {"copy of a training question": 1, "not a question": 1, "lost key words": 1, "copy of another proposal": 1}
    )


@pytest.mark.parametrize(
    "reply, cleaned",
    [
        ('Question: "Which city is Namibia\'s capital?"\nI changed the words.', "Which city is Namibia's capital?"),
        ("  Rewritten question: Which city is Namibia's capital?", "Which city is Namibia's capital?"),
        ("\n\n", ""),
    ],
)
def test_clean_reply_keeps_the_first_line_without_labels_or_quotes(reply, cleaned):
    assert augment.clean_reply(reply) == cleaned


def load_examples_from(folder, records):
    write_jsonl(folder / "train.jsonl", records)
    return load_examples(folder / "train.jsonl")


# ---------------------------------------------------------------- accepting


def proposal(question: str, answer_sentence: str, accept=True, line=1, **changes) -> dict:
    record = {
        "accept": accept,
        "from": f"datasets/train.jsonl:{line}",
        "original": TRAIN[line - 1]["messages"][0]["content"],
        **json.loads(json.dumps(TRAIN[line - 1])),
    }
    record["messages"][0]["content"] = question
    record["messages"][1]["content"] = answer_sentence
    record.update(changes)
    return record


def test_accept_appends_only_accepted_records_without_review_fields(project, capsys):
    train = project.parent / "datasets" / "train.jsonl"
    before = train.read_text(encoding="utf-8")
    proposals = project.parent / "proposals.jsonl"
    write_jsonl(
        proposals,
        [
            proposal("Which city is Namibia's capital?", "Namibia's capital is Windhoek."),
            proposal("Namibia's western shore borders which ocean?", "It is the Atlantic Ocean.", accept=False, line=2),
            proposal("When did Namibia gain its independence?", "Independence came in 1990.", line=3),
        ],
    )

    assert cli(["augment", "--config", str(project), "--accept", str(proposals)]) == 0

    after = train.read_text(encoding="utf-8")
    assert after.startswith(before)
    added = [json.loads(line) for line in after[len(before) :].splitlines()]
    assert [record["messages"][0]["content"] for record in added] == [
        "Which city is Namibia's capital?",
        "When did Namibia gain its independence?",
    ]
    assert all(not set(augment.REVIEW_FIELDS) & set(record) for record in added)
    assert added[0] == {**TRAIN[0], "messages": added[0]["messages"]}  # the other keys as they were
    assert (project.parent / "outputs" / "augment" / "train.jsonl.bak").read_text(encoding="utf-8") == before
    assert "Added 2 accepted phrasings" in capsys.readouterr().out
    assert len(load_examples(train)) == len(TRAIN) + 2

    # The same file again: both questions are now training questions, so nothing is added twice.
    assert cli(["augment", "--config", str(project), "--accept", str(proposals)]) == 2
    assert train.read_text(encoding="utf-8") == after


REFUSED = [
    (
        proposal("Which city is Namibia's capital?", "Namibia's capital is a big city."),
        'field "messages[1].content"',
        'no longer contains its "answer" "Windhoek"',
    ),
    (proposal("Which city is Namibia's capital?", "Namibia's capital is Windhoek.", accept="yes"), 'field "accept"', "true or false"),
    (proposal("What's the capital of Namibia?", "Windhoek is it."), 'field "messages[0].content"', "train.jsonl:1"),
    (proposal("", "Windhoek is it."), 'field "messages[0].content"', "the question is empty"),
    (proposal("Which city is Namibia's capital?", "Windhoek.", answer=7), 'field "answer"', "short fact as text"),
    (proposal("Which city is Namibia's capital?", "Windhoek.", messages=[{"role": "user"}]), 'field "messages[0].content"', "missing"),
    (
        proposal("Which city is Namibia's capital?", "Windhoek.", messages=[{"role": "user", "content": "Which city?"}]),
        'field "messages"',
        "user question followed by an assistant answer",
    ),
]


@pytest.mark.parametrize("bad, field, says", REFUSED, ids=["answer-lost", "accept-not-bool", "near-duplicate", "empty-question", "answer-not-text", "no-content", "no-answer-turn"])
def test_accept_refuses_a_bad_record_naming_file_line_and_field(project, capsys, bad, field, says):
    train = project.parent / "datasets" / "train.jsonl"
    before = train.read_bytes()
    proposals = project.parent / "proposals.jsonl"
    good = proposal("When did Namibia gain its independence?", "Independence came in 1990.", line=3)
    write_jsonl(proposals, [good, bad])

    assert cli(["augment", "--config", str(project), "--accept", str(proposals)]) == 2

    error = capsys.readouterr().err
    assert f"proposals.jsonl:2 {field}" in error and says in error, error
    assert error.count("\n") == 1 and "Traceback" not in error  # one sentence
    assert train.read_bytes() == before  # the good record on line 1 was not added either
    assert not (project.parent / "outputs" / "augment" / "train.jsonl.bak").exists()


def test_accept_refuses_invalid_json_with_its_line(project, capsys):
    proposals = project.parent / "proposals.jsonl"
    proposals.write_text(json.dumps(proposal("Which city is Namibia's capital?", "Windhoek.")) + '\n{"accept": true,\n', encoding="utf-8")
    before = (project.parent / "datasets" / "train.jsonl").read_bytes()
    assert cli(["augment", "--config", str(project), "--accept", str(proposals)]) == 2
    assert "proposals.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert (project.parent / "datasets" / "train.jsonl").read_bytes() == before


def test_accept_with_nothing_accepted_changes_nothing(project, capsys):
    proposals = project.parent / "proposals.jsonl"
    write_jsonl(proposals, [proposal("Which city is Namibia's capital?", "Windhoek.", accept=False)])
    before = (project.parent / "datasets" / "train.jsonl").read_bytes()
    assert cli(["augment", "--config", str(project), "--accept", str(proposals)]) == 0
    assert 'No record in' in capsys.readouterr().out
    assert (project.parent / "datasets" / "train.jsonl").read_bytes() == before
