"""Check the datasets before training, and write a report a beginner can act on.

    python -m scripts validate        # reads project.toml and the files its [data] section names

The rules about one example run as a Great Expectations suite (`row_rules`, `fact_rules`); the checks
that need whole conversations or several examples in plain Python (`check_texts`); validate_settings.py
checks the settings against the base model. validate_report.py writes outputs/validate/: report.md (fit
for a pull-request comment), report.json, data_docs/ (Great Expectations HTML), token_lengths.png, all
in one rename at the end, so a crash never leaves half a report.

Exit code: 0 when nothing failed (warnings are fine), 1 when a check failed, 2 when a file cannot be
read at all or a setting cannot work (nothing is written then).
What is checked, and by what: docs/design.md, "Validate: what is checked, and by what".
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .config import setting_locator
from .data import Example, load_examples, load_split, require_conversations
from .dataset_repo import datasheet_path, read_datasheet
from .errors import EXIT_CHECKS_FAILED, EXIT_OK, UserError, where
from .facts import folded, is_correct, key_fact, phrasing_distribution, phrasings_by_fact, taught_flags, taught_in_another_form
from .language_id import LanguageDetector, name_of
from .manifest import repo_ids
from .names import load_name_finder
from .privacy import SCAN_COVERS, Finding, describe, find_personal_data
from .similarity import SimilarityIndex, comparable
from .stats import fewest_questions_to_tell
from .github import add_to_job_summary
from .validate_report import build_report, plural, print_summary, staging_folder, write_outputs
from .validate_settings import SettingWarning, check_plain_settings, check_settings

SMALL_GROUP = 0.05  # a category or tag on fewer than 5% of examples gets a warning
MAX_GROUPS_SHOWN = 12  # categories or tags named in the report's table
GX_SITE = "validate_report"
SINGLE_PHRASING_SHARE = 0.5  # warn when more than this share of the facts is taught in only one phrasing
SINGLE_PHRASINGS_LISTED = 5  # single-phrasing facts named in the report: a few examples, not thousands


@dataclass
class Problem:
    """One thing wrong (or worth a look) in one place."""

    check: str
    severity: str  # "fail" or "warn"
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None


@dataclass
class Check:
    """One row of the report's table: what was checked, what was found, what to do."""

    id: str
    title: str
    fix: str
    problems: list[Problem] = field(default_factory=list)
    details: str = ""
    engine: str = "Python"
    audit: bool = False  # part of the diversity audit (warnings only)
    in_terminal: bool = False  # its problems are also printed in the terminal's summary (a few, about settings)
    unlisted: int = 0  # found but not listed as problems: some checks name only the first few

    def flag(self, example: Example, message: str, field_name: str | None = None, severity: str = "fail") -> None:
        """Record a problem with one example."""
        self.problems.append(Problem(self.id, severity, message, example.file, example.line, field_name))

    @property
    def status(self) -> str:
        severities = {problem.severity for problem in self.problems}
        return "fail" if "fail" in severities else "warn" if severities else "pass"


@dataclass
class Datasets:
    """Everything validate reads: the train and eval examples, and the bias probes."""

    train: list[Example]
    eval: list[Example]
    probes: list[tuple[int, dict]]  # (line, probe)
    names: dict[str, str]  # "train" -> "datasets/train.jsonl", as written in project.toml
    rehearsal: list[Example] = field(default_factory=list)  # trained on too, when [train] rehearsal_weight > 0
    general: list[Example] = field(default_factory=list)  # the forgetting check's questions

    def splits(self) -> dict[str, list[Example]]:
        return {"train": self.train, "eval": self.eval}

    def examples(self) -> list[Example]:
        """Train then eval: the order of the rows of the example table."""
        return self.train + self.eval


@dataclass(frozen=True)
class Passage:
    """The text of one field of one record: what the text checks read."""

    file: str
    line: int
    field: str
    text: str


def main(cfg, args) -> int:
    data = load_datasets(cfg)  # a broken file stops here, before anything is written
    read_datasheet(datasheet_path(cfg))  # the card step publishes it as the dataset repo's card
    check_plain_settings(cfg)  # so does a setting a later step would refuse
    from .model import load_for

    out = cfg.step_dir("validate")
    # The text checks need no tokenizer, so a second process runs them while this one
    # loads the tokenizer and runs Great Expectations: a 2-core machine does both at once.
    with ProcessPoolExecutor(max_workers=1) as helper:
        facts = helper.submit(fact_columns, data, cfg.data.near_duplicate_threshold)
        text_checks = helper.submit(check_texts, data, cfg)
        resolved, tokenizer = load_for(cfg, weights=False)  # the checks read the config and the tokenizer only
        require_template_accepts(data.rehearsal, tokenizer, "training", cfg.model.base)
        require_template_accepts(data.general, tokenizer, "evaluate", cfg.model.base)
        table, template_errors = example_table(data, tokenizer)
        unusual_settings = check_settings(cfg, resolved, tokenizer, table)  # a setting that cannot work stops here
        table = with_fact_columns(table, facts.result())
        with staging_folder(out) as staging:
            checks = [
                check_split_sizes(data, cfg.data.min_examples),
                check_unread_data_files(cfg),
                check_training_settings(cfg, unusual_settings),
                check_hub_names(cfg),
                check_space_access(cfg),
                *run_expectations(table, cfg.model.max_length, staging / "data_docs", cfg.evaluate.max_new_tokens),
                check_role_order(data, template_errors),
                check_system_prompts(data),
                check_eval_key_facts(data),
                check_tool_definitions(data),
                check_empty_turns(data),
                check_chat_markup(passages(data), special_tokens(tokenizer), cfg.model.base),
            ]
            text_results = text_checks.result()
            checks += text_results.checks
            report = build_report(data, checks, table, diversity_summary(data, text_results.languages), cfg)
            report.tokens_per_word = tokens_per_word(tokenizer, data.examples(), text_results.languages, cfg.project.languages)
            markdown = write_outputs(staging, report, table, cfg.model.max_length)
    add_to_job_summary(markdown)
    print_summary(report, out)
    return EXIT_CHECKS_FAILED if report.verdict == "fail" else EXIT_OK


@dataclass
class TextResults:
    checks: list[Check]
    languages: list[str | None]  # the language of each example, in the order of Datasets.examples()


def check_texts(data: Datasets, cfg) -> TextResults:
    """Every check that reads only the text (no tokenizer), in the order the report lists them."""
    detector = LanguageDetector(cfg.project.languages)
    languages = detector.detect_all([example.all_text() for example in data.examples()])
    texts = passages(data)
    threshold = cfg.data.near_duplicate_threshold
    checks = [
        check_duplicates(data),
        check_near_duplicates(data, threshold),
        check_leakage(data, threshold),
        check_rehearsal_overlap(data, threshold),
        check_rehearsal_of_training(data, threshold),
        check_placeholders(texts),
        check_html_entities(texts),
        check_personal_data(texts),
        check_names(texts, load_name_finder(cfg.data, cfg.root)),
        check_languages(data.examples(), languages, cfg.project.languages),
        check_probe_pairs(data),
        check_probe_axes(data),
        *audit_groups(data.train, data.names["train"]),
        audit_language_mix(languages, cfg.project.languages, detector),
        audit_gendered_words(data.train, data.names["train"]),
    ]
    return TextResults(checks, languages)


# ---------------------------------------------------------------- loading


def load_datasets(cfg) -> Datasets:
    """Load train, eval, the probes (when the file exists) and the extra question sets; a broken file raises UserError."""
    from .probes import load_probe_records

    names = {"train": cfg.data.train, "eval": cfg.data.eval, "probes": cfg.data.probes}
    probes_path = cfg.path(cfg.data.probes)
    probes = []
    if cfg.data.probes.strip() and not probes_path.is_file():  # a typo would make evaluate skip the bias probes, silently
        raise UserError(
            f'{setting_locator(cfg)("data", "probes")}: probes = "{cfg.data.probes}": file not found, so evaluate would '
            'measure no bias probes; fix the path, or set it to "" to run without them.'
        )
    if probes_path.is_file():  # each probe checked the way `evaluate` will use it, with its line
        probes = load_probe_records(probes_path, cfg.data.probes)
        if not probes:  # an emptied file: evaluate would probe nothing, and nothing in project.toml would say so
            raise UserError(
                f"{cfg.data.probes}: no probe pairs, so evaluate would probe no bias; add pairs (datasets/README.md "
                'shows their shape), or set [data] probes = "" in project.toml to run without them.'
            )
    require_held_out_eval(cfg)
    train, evaluation = load_split(cfg, "train"), load_split(cfg, "eval")
    for examples in (train, evaluation):
        require_conversations(examples)  # train and evaluate need roles: plain text would stop them after the merge
    require_text_answers(train, scored=False)
    require_text_answers(evaluation)
    return Datasets(train, evaluation, probes, names, rehearsal_questions(cfg), general_questions(cfg))


def require_held_out_eval(cfg) -> None:
    """[data] eval naming the train file would fail the leakage check once per example: one sentence says why instead."""
    if cfg.path(cfg.data.eval) == cfg.path(cfg.data.train):
        raise UserError(
            f'{setting_locator(cfg)("data", "eval")}: eval = "{cfg.data.eval}" is the train file too, so the evaluation '
            "would ask only questions the model was trained on and its score would say nothing; point eval at a file of "
            "held-out examples, such as datasets/eval.jsonl."
        )


def rehearsal_questions(cfg) -> list[Example]:
    """The rehearsal questions, only when training will rehearse ([train] rehearsal_weight above 0).

    They are trained on, so they are checked against the questions that measure the model.
    """
    relative = cfg.data.rehearsal.strip()
    if not relative or cfg.train.rehearsal_weight <= 0:
        return []
    if not cfg.path(relative).is_file():
        raise UserError(f'project.toml: [data] rehearsal = "{relative}": file not found; fix the path, or set it to "" to train without rehearsal.')
    examples = load_examples(cfg.path(relative), "auto", display_name=relative)
    answered = [example for example in examples if example.messages and example.messages[-1]["role"] == "assistant"]  # as train counts them
    if not answered:
        raise UserError(
            f"{relative}: no question to rehearse (none ends with an assistant answer), so training would stop; "
            'add some, or set [data] rehearsal = "" in project.toml.'
        )
    require_questions(answered, "training")  # it asks the base model each one at its first step
    return examples


def general_questions(cfg) -> list[Example]:
    """The forgetting check's questions ([evaluate] general_knowledge): evaluate reads them after training."""
    relative = cfg.evaluate.general_knowledge.strip()
    if not relative:
        return []
    if not cfg.path(relative).is_file():
        raise UserError(
            f'{setting_locator(cfg)("evaluate", "general_knowledge")}: general_knowledge = "{relative}": file not found, '
            'so evaluate would stop after training; fix the path, or set it to "" to skip the forgetting check (the rubric '
            "pre-score then gives its 5 points 0)."
        )
    questions = load_examples(cfg.path(relative), "auto", display_name=relative)
    if not questions:  # an emptied file: the card would report "0 of 0 general questions still answered right"
        raise UserError(
            f"{relative}: no questions, so the forgetting check would ask nothing and the model card would report "
            '"none lost"; add questions the base model answers right (docs/general_knowledge.md), or set '
            '[evaluate] general_knowledge = "" in project.toml to skip the check (the rubric pre-score then gives its 5 '
            "points 0)."
        )
    require_conversations(questions)  # evaluate asks each question and looks for its answer
    require_questions(questions, "evaluate")
    require_text_answers(questions)
    return questions


def require_questions(examples: list[Example], step: str) -> None:
    """Records that `step` asks the model (rehearsal, forgetting check): a user turn, then the assistant's answer last.

    Validate's other checks read only train and eval; without a question `step` would stop after the merge (the
    chat template refuses an empty conversation), and after a last user turn it would take that turn for the answer.
    """
    for example in examples:
        roles = [message["role"] for message in example.messages]
        if not roles or roles[-1] != "assistant":
            field_name = _role_field(example.fields[-1]) if example.fields else "messages"
            last = f'the last turn is "{roles[-1]}"' if roles else "there are no turns"
            raise UserError(
                f"{where(example.file, example.line, field_name)}: {last}, so {step} has no answer to check the model's "
                "reply against; end the conversation with the assistant's answer."
            )
        if "user" not in roles[:-1]:
            raise UserError(
                f"{where(example.file, example.line, example.fields[0].split('[')[0])}: no user turn before the answer, so "
                f"there is no question to ask and {step} would stop after the merge; add the question as a user turn."
            )


def require_template_accepts(examples: list[Example], tokenizer, step: str, model: str) -> None:
    """The rehearsal and forgetting-check questions are asked with the base model's chat template, as the eval
    questions are, but the role-order check reads only train and eval: a question the template refuses (a system
    turn for Gemma, whose template has no system role) stopped `step` with a traceback after the merge."""
    asked = [example for example in examples if example.messages and example.messages[-1]["role"] == "assistant"]
    _, errors = render_chats(tokenizer, [example.prompt_messages for example in asked], add_generation_prompt=True)
    if errors:
        example = asked[min(errors)]
        raise UserError(
            f"{where(example.file, example.line, example.fields[0].split('[')[0])}: the chat template of {model} refuses "
            f'this question ("{errors[min(errors)]}"), so {step} would stop after the merge; change the conversation as '
            "the error says (this model's template may have no system role, or need user and assistant turns to alternate)."
        )


def require_text_answers(examples: list[Example], scored: bool = True) -> None:
    """A record's `answer` (the key fact) must be text, and not empty where evaluate scores it: evaluate ignores any
    other value and scores the reply against the whole reference answer instead, which a right short reply rarely
    contains word for word. In training records (`scored=False`) an empty one only means "no key fact", as a
    spreadsheet export writes for an empty cell."""
    for example in examples:
        if "answer" not in example.meta:
            continue
        value = example.meta["answer"]
        place = where(example.file, example.line, "answer")
        if value is None or isinstance(value, str) and not value.strip():  # an empty cell of a spreadsheet export
            if not scored:
                continue
            shown = "null" if value is None else "empty"
            raise UserError(
                f"{place}: is {shown}, so evaluate would look for the whole reference answer in the reply instead of a key "
                'fact; write the key fact (a name, a number, a few words of the answer), or delete "answer" from this record.'
            )
        if not isinstance(value, str):
            raise UserError(
                f'{place}: must be text in double quotes, like "{value}", not '
                f"{type(value).__name__}; the evaluation counts a reply as correct when it contains this text."
            )


def passages(data: Datasets) -> list[Passage]:
    """Every piece of text in the datasets, with the file, line and field it is in."""
    found = []
    for example in data.examples():
        if example.text is not None:
            found.append(Passage(example.file, example.line, "text", example.text))
        for message, field_name in zip(example.messages, example.fields):
            found.append(Passage(example.file, example.line, field_name, message["content"]))
    for line, probe in data.probes:
        for key in ("prompt_a", "prompt_b"):
            found.append(Passage(data.names["probes"], line, key, probe[key]))
    return found


# ---------------------------------------------------------------- one row per example


def example_table(data: Datasets, tokenizer):
    """A pandas DataFrame with one row per example (the table Great Expectations checks).

    Also returns {row number: error} for conversations the model's chat template refused.
    """
    import pandas as pd

    rows = [(split, example) for split, examples in data.splits().items() for example in examples]
    totals, answer_tokens, prompt_tokens, template_errors = count_tokens(tokenizer, [example for _, example in rows])
    expected_tokens = reply_tokens_needed(tokenizer, rows)
    records = []
    for (split, example), total, answer_total, prompt_total, needed in zip(rows, totals, answer_tokens, prompt_tokens, expected_tokens):
        chat = example.text is None
        key_fact = example.meta.get("answer")
        has_key = chat and isinstance(key_fact, str) and bool(key_fact.strip())
        records.append(
            {
                "split": split,
                "file": example.file,
                "line": example.line,
                "n_turns": len(example.messages),
                "roles": " ".join(message["role"] for message in example.messages) if chat else None,
                "last_role": example.messages[-1]["role"] if example.messages else None,
                "last_role_field": _role_field(example.fields[-1]) if example.fields else None,
                "prompt": "\n".join(message["content"] for message in example.prompt_messages) if chat else None,
                "answer": example.answer,
                "answer_field": "text" if not chat else example.fields[-1] if example.fields else None,
                "longest_field": _longest_field(example),
                "prompt_chars": sum(len(message["content"]) for message in example.prompt_messages),
                "answer_chars": len(example.answer),
                "prompt_tokens": prompt_total,
                "answer_tokens": answer_total,
                "tokens": total,
                "category": _label(example.meta.get("category")),
                "key_fact": key_fact if has_key else None,
                # Whole words, as evaluate scores: "Namibian dollar" is not found in "Namibian dollars".
                "key_fact_found": is_correct(example.answer, key_fact) if has_key else None,
                "expected_tokens": needed,
            }
        )
    return pd.DataFrame.from_records(records, columns=TABLE_COLUMNS), template_errors


TABLE_COLUMNS = [
    "split", "file", "line", "n_turns", "roles", "last_role", "last_role_field", "prompt", "answer",
    "answer_field", "longest_field", "prompt_chars", "answer_chars", "prompt_tokens", "answer_tokens",
    "tokens", "category", "key_fact", "key_fact_found", "expected_tokens",
]  # fmt: skip


def reply_tokens_needed(tokenizer, rows: list[tuple[str, Example]]) -> list[int | None]:
    """For each eval example: the tokens of what a reply must contain to be scored right (facts.reference_key).

    evaluate writes at most [evaluate] max_new_tokens tokens per reply, so a longer one can never be matched.
    None for training examples, which are not asked.
    """
    from .facts import reference_key

    asked = [number for number, (split, example) in enumerate(rows) if split == "eval" and example.text is None]
    needed: list[int | None] = [None] * len(rows)
    for number, count in zip(asked, token_counts(tokenizer, [reference_key(rows[number][1]) for number in asked])):
        needed[number] = count
    return needed


def _role_field(content_field: str) -> str:
    """messages[2].content -> messages[2].role; conversations[1].value -> conversations[1].from."""
    if content_field.endswith(".content"):
        return content_field.removesuffix(".content") + ".role"
    if content_field.endswith(".value"):
        return content_field.removesuffix(".value") + ".from"
    return content_field


def _longest_field(example: Example) -> str | None:
    if example.text is not None:
        return "text"
    if not example.messages:
        return None
    longest = max(range(len(example.messages)), key=lambda number: len(example.messages[number]["content"]))
    return example.fields[longest]


def _label(value) -> str | None:
    """A category as text; missing or empty is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value)


def count_tokens(tokenizer, examples: list[Example]):
    """Tokens per example as training sees them (chat template applied), tokens in each answer, and tokens
    before the answer: the prompt as training renders it, up to the assistant's turn (0 for plain text).

    Batched calls keep this fast (the tokenizer runs in Rust), and only the counts are kept.
    """
    chats = [example.messages for example in examples if example.text is None]
    rendered, template_errors_by_chat = render_chats(tokenizer, chats)
    rendered_iter = iter(rendered)
    documents = [example.text if example.text is not None else next(rendered_iter) for example in examples]
    totals = token_counts(tokenizer, documents)
    del documents, rendered  # 100k rendered conversations are a few hundred MB
    answers = token_counts(tokenizer, [example.answer for example in examples])
    prompts_rendered, _ = render_chats(tokenizer, [example.prompt_messages for example in examples if example.text is None], True)
    prompt_iter = iter(token_counts(tokenizer, prompts_rendered))
    prompts = [0 if example.text is not None else next(prompt_iter) for example in examples]
    chat_rows = [row for row, example in enumerate(examples) if example.text is None]
    template_errors = {chat_rows[number]: error for number, error in template_errors_by_chat.items()}
    return totals, answers, prompts, template_errors


TEXTS_PER_TOKENIZER_CALL = 2048  # the token ids of one call are held in memory until they are counted


def token_counts(tokenizer, texts: list[str]) -> list[int]:
    """How many tokens each text has (no special tokens added), one batched call per 2048 texts."""
    counts = []
    for first in range(0, len(texts), TEXTS_PER_TOKENIZER_CALL):
        batch = texts[first : first + TEXTS_PER_TOKENIZER_CALL]
        counts += map(len, tokenizer(batch, add_special_tokens=False, return_attention_mask=False)["input_ids"])
    return counts


def render_chats(tokenizer, chats: list[list[dict]], add_generation_prompt: bool = False) -> tuple[list[str], dict[int, str]]:
    """Apply the chat template to every conversation; {number: error} for those it refuses.

    Some models' templates raise an error, e.g. for two user turns in a row. Then we
    render one at a time to find which, and count those as plain joined text.
    With `add_generation_prompt`, each ends with the start of an assistant turn, as a prompt does.
    """
    from jinja2 import TemplateError

    if not chats:
        return [], {}
    options = {"add_generation_prompt": True} if add_generation_prompt else {}
    try:
        return tokenizer.apply_chat_template(chats, tokenize=False, **options), {}
    except TemplateError:
        pass
    rendered, errors = [], {}
    for number, chat in enumerate(chats):
        try:
            rendered.append(tokenizer.apply_chat_template(chat, tokenize=False, **options))
        except TemplateError as error:
            errors[number] = str(error)
            rendered.append("\n".join(message["content"] for message in chat))
    return rendered, errors


# ---------------------------------------------------------------- Great Expectations


@dataclass
class RowRule:
    """One Great Expectations expectation about single examples, and how to explain a row that breaks it."""

    id: str
    title: str
    fix: str
    expectation: str  # a class in great_expectations.expectations
    arguments: dict
    explain: Callable  # row of the table -> (field, message)
    severity: str = "fail"  # "warn": reported, but the check does not fail
    details: str = ""  # what the report's table says was checked; "N examples checked" when empty
    listed: int | None = None  # name only this many of the rows that break the rule (None: all)

    def build(self, gxe):
        """The expectation object; its description and severity show in the Data Docs."""
        return getattr(gxe, self.expectation)(
            description=self.title,
            severity="warning" if self.severity == "warn" else "critical",
            meta={"check": self.id},
            **self.arguments,
        )


def row_rules(table, max_length: int, max_new_tokens: int | None = None) -> list[RowRule]:
    """The rules about single examples; the key-fact and category rules only when the data has those fields,
    the reply-length rule only with [evaluate] max_new_tokens."""
    rules = [
        RowRule(
            "answer_filled",
            "Every example has an answer",
            "Write the answer the model should learn in that field.",
            "ExpectColumnValuesToNotMatchRegex",
            {"column": "answer", "regex": r"^\s*$"},
            lambda row: (row.answer_field, "the answer is empty"),
        ),
        RowRule(
            "ends_with_assistant",
            "The last turn is the assistant's answer",
            "End each conversation with the assistant turn the model should learn to write; "
            "delete trailing user turns.",
            "ExpectColumnValuesToBeInSet",
            {"column": "last_role", "value_set": ["assistant"]},
            lambda row: (row.last_role_field, f'the last turn is "{row.last_role}", so there is no answer to learn'),
        ),
        RowRule(
            "fits_max_length",
            f"Examples fit in {max_length} tokens ([model] max_length)",
            "Shorten the example, split it in two, or raise [model] max_length in project.toml "
            "(longer examples are cut off in training, so the end of the answer is never learned).",
            "ExpectColumnValuesToBeBetween",
            {"column": "tokens", "min_value": 0, "max_value": max_length},
            lambda row: (row.longest_field, too_long(row, max_length)),
        ),
    ]
    if table["key_fact_found"].notna().any():
        rules.append(
            RowRule(
                "key_fact_in_answer",
                "The `answer` key fact appears in the reply",
                "Make the `answer` field words appear exactly in the assistant's reply (case and punctuation "
                "do not matter): the evaluation counts a reply as correct when it contains them.",
                "ExpectColumnValuesToBeInSet",
                {"column": "key_fact_found", "value_set": [True]},
                lambda row: ("answer", f'"{row.key_fact}" does not appear as whole words in the reply ({row.answer_field})'),
            )
        )
    if max_new_tokens and "expected_tokens" in table and table["expected_tokens"].notna().any():
        rules.append(
            RowRule(
                "reply_fits_max_new_tokens",
                f"A right reply fits in {max_new_tokens} tokens ([evaluate] max_new_tokens)",
                "Add a short `answer` field with the key fact (a name, a number, a few words) that a right reply must "
                "contain, or raise [evaluate] max_new_tokens in project.toml: evaluate stops each reply at that many "
                "tokens, so a longer expected answer is always scored wrong.",
                "ExpectColumnValuesToBeBetween",
                {"column": "expected_tokens", "min_value": 0, "max_value": max_new_tokens},
                explain_reply_too_long(max_new_tokens),
            )
        )
    if table["category"].notna().any():
        train_categories = sorted(table.loc[table["split"] == "train", "category"].dropna().unique())
        rules += [
            RowRule(
                "category_filled",
                "Every example has a category",
                'Add a "category" to these examples, like the others have, so results can be reported per topic.',
                "ExpectColumnValuesToNotBeNull",
                {"column": "category"},
                lambda row: ("category", "no category, although other examples have one"),
                severity="warn",
            ),
            RowRule(
                "category_known",
                "Every category also appears in the training data",
                "Check the spelling of the category; an eval category that train never uses cannot be learned.",
                "ExpectColumnValuesToBeInSet",
                {"column": "category", "value_set": train_categories},
                lambda row: ("category", f'"{row.category}" is not a category of any training example'),
                severity="warn",
            ),
        ]
    if "fact_phrasings" in table:  # the fact columns (with_fact_columns); absent in a bare example table
        rules += fact_rules(table)
    return rules


def explain_reply_too_long(max_new_tokens: int) -> Callable:
    def explain(row) -> tuple[str, str]:
        what = f'the `answer` "{row.key_fact}"' if isinstance(row.key_fact, str) else "the whole reference answer (no `answer` field)"
        return ("answer" if isinstance(row.key_fact, str) else row.answer_field,
                f"a reply is right only if it contains {what}: {int(row.expected_tokens)} tokens, more than the "
                f"{max_new_tokens} evaluate lets the model write, so this question is always scored wrong")  # fmt: skip

    return explain


def too_long(row, max_length: int) -> str:
    """Why a row breaks the max_length rule; training keeps the start, so a prompt that fills it leaves no answer."""
    message = f"{row.tokens} tokens with the chat template; the limit is {max_length}"
    if row.answer_tokens and row.prompt_tokens >= max_length:
        message += f", and the prompt alone is {row.prompt_tokens}, so none of the answer is learned"
    return message


def run_expectations(table, max_length: int, docs_folder: Path, max_new_tokens: int | None = None) -> list[Check]:
    """Run the row rules as a Great Expectations suite, build its Data Docs, and report failing rows."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    rules = row_rules(table, max_length, max_new_tokens)
    context = gx.get_context(mode="ephemeral")  # in memory: nothing is written but the Data Docs below
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        GX_SITE,
        {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_folder)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    asset = context.data_sources.add_pandas("datasets").add_dataframe_asset("examples")
    batch = asset.add_batch_definition_whole_dataframe("all examples")
    suite = context.suites.add(gx.ExpectationSuite(name="examples", expectations=[rule.build(gxe) for rule in rules]))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="validate", data=batch, suite=suite))
    # COMPLETE lists the index of every failing row, which maps back to file and line.
    result = definition.run(batch_parameters={"dataframe": table}, result_format={"result_format": "COMPLETE"})
    context.build_data_docs(site_names=[GX_SITE])

    outcomes = {outcome.expectation_config.meta["check"]: outcome for outcome in result.results}
    checks = []
    for rule in rules:
        outcome = outcomes[rule.id]
        rows = [] if outcome.success else outcome.result.get("unexpected_index_list", [])
        found = len(rows)
        rows = rows[: rule.listed]  # [:None] keeps them all
        problems = []
        for row in table.loc[rows].itertuples():
            field_name, message = rule.explain(row)
            field_name = field_name if isinstance(field_name, str) else None  # pandas stores a missing field as NaN
            problems.append(Problem(rule.id, rule.severity, message, row.file, int(row.line), field_name))
        checked = int(outcome.result.get("element_count", 0) - outcome.result.get("missing_count", 0))
        details = rule.details or f"{checked} examples checked"
        unlisted = found - len(problems)
        checks.append(Check(rule.id, rule.title, rule.fix, problems, details, engine="Great Expectations", unlisted=unlisted))
    return checks


# ---------------------------------------------------------------- facts: how many phrasings teach each one


PHRASINGS_FIX = (
    "A model that has seen a fact in one phrasing stores it but rarely retrieves it when asked differently; "
    "teaching each fact in several phrasings makes it retrievable (Allen-Zhu & Li, \"Physics of Language Models: "
    "Part 3.1, Knowledge Storage and Extraction\", 2023). Write 3-5 phrasings of each fact: ask the question in "
    "different ways and write the answer in different sentences, each as its own example with the same `answer`. "
    "The augment command (`python -m scripts augment`) can propose phrasings for you to check and edit. "
    "Facts are counted by the `answer` field; examples without one count as the same fact when their answers "
    "are near copies, so adding an `answer` field makes the count exact."
)
UNTAUGHT_FIX = (
    "This measures knowledge the model was never given: no training example teaches the fact, so the question "
    "tests what the base model happened to know, not what tuning taught it. Teach the fact in the training data "
    "(in several phrasings), or remove the question or replace it with one about a fact you teach. Where the message "
    "names a training `answer` that may be the same fact written another way, write the fact the same way in both files: "
    "evaluate counts a reply right only if it contains the eval `answer` as written."
)


@dataclass
class FactColumns:
    """The example table's fact columns, one value per example in the order of Datasets.examples()."""

    fact: list[str | None]  # the record's `answer`; None where it has none
    phrasings: list[int | None]  # on the first training example of each fact: how many phrasings teach it
    taught: list[bool | None]  # on eval examples: whether training teaches the fact; None where that cannot be told
    taught_as: list[str | None]  # on eval examples not taught: why a training answer may be the same fact in another form


def fact_columns(data: Datasets, threshold: float) -> FactColumns:
    """What the two fact rules need; runs in the helper process, next to the text checks."""
    phrasings: list[int | None] = [None] * len(data.examples())
    row_of = {id(example): row for row, example in enumerate(data.train)}  # train rows come first in the table
    for group in training_facts(data.train, threshold):
        phrasings[row_of[id(group[0])]] = distinct_phrasings(group)
    eval_taught = taught_flags(data.train, data.eval)
    taught = [None] * len(data.train) + eval_taught
    other_forms = taught_in_another_form(data.train, data.eval, eval_taught)
    taught_as = [None] * len(data.train) + [
        another_form(key_fact(example), *found) if found else None for example, found in zip(data.eval, other_forms)
    ]
    return FactColumns([key_fact(example) for example in data.examples()], phrasings, taught, taught_as)


def another_form(fact: str, trained: str, example: Example) -> str:
    """Why the eval `answer` `fact` may be the training answer `trained` written another way, and what that costs."""
    said = f'"{fact}" is not the `answer` of any training example, but "{trained}" is ({example.location})'
    if folded(fact) == folded(trained):
        said += ", the same but for accents or number words"
    if is_correct(trained, fact):  # "1990" inside "21 March 1990": scored right, but counted as never taught
        return (said + ", which contains it: if both are the same fact, write it the same way in both files, or the "
                "results count this question among those about facts never taught")  # fmt: skip
    return (said + f': a reply that says "{trained}", as training taught, is scored wrong, since it does not contain '
            f'"{fact}"; if both are the same fact, write it the same way in both files')  # fmt: skip


def with_fact_columns(table, columns: FactColumns):
    """The example table with the columns `fact`, `fact_phrasings`, `fact_taught` and `fact_taught_as` added."""
    import pandas as pd

    return table.assign(
        fact=pd.Series(columns.fact, index=table.index, dtype=object),
        fact_phrasings=pd.Series(columns.phrasings, index=table.index, dtype="float64"),  # None becomes NaN: not checked
        fact_taught=pd.Series(columns.taught, index=table.index, dtype=object),
        fact_taught_as=pd.Series(columns.taught_as, index=table.index, dtype=object),
    )


def training_facts(train: list[Example], threshold: float) -> list[list[Example]]:
    """The training examples grouped by the fact they teach, each group in file order.

    Examples with an `answer` are grouped by it (facts.py). Examples without one
    are grouped by their assistant answer: near copies (the near-duplicate
    check's similarity) teach the same fact. An example with no assistant answer
    teaches nothing (other checks report it).
    """
    with_fact = list(phrasings_by_fact(train).values())
    without = [example for example in train if not key_fact(example) and has_assistant_answer(example)]
    return with_fact + clusters_of_similar_answers(without, threshold)


def has_assistant_answer(example: Example) -> bool:
    """The example ends with a non-empty assistant turn (plain-text examples count as one)."""
    last_role = example.messages[-1]["role"] if example.messages else "assistant" if example.text else None
    return last_role == "assistant" and bool(example.answer.strip())


def clusters_of_similar_answers(examples: list[Example], threshold: float) -> list[list[Example]]:
    """Examples grouped so that each joins the group of the earlier answer most like its own.

    The similarity index proposes only likely matches, so this stays fast on 100k
    examples where comparing every pair would not.
    """
    index = SimilarityIndex(threshold)
    clusters: list[list[Example]] = []
    cluster_of: list[int] = []  # per example: its cluster's number
    answers = [comparable(example.answer) for example in examples]
    for example, match in zip(examples, index.best_matches_then_add(answers, list(range(len(examples))))):
        number = cluster_of[match[0]] if match else len(clusters)
        if not match:
            clusters.append([])
        clusters[number].append(example)
        cluster_of.append(number)
    return clusters


def distinct_phrasings(group: list[Example]) -> int:
    """How many different examples teach the fact: a repeated copy is not a new phrasing."""
    return len({comparable(example.all_text()) for example in group})


def fact_rules(table) -> list[RowRule]:
    """The phrasings rule (over training facts) and the untaught rule (over eval questions), both warnings."""
    counts = table.loc[table["split"] == "train", "fact_phrasings"].dropna().astype(int).tolist()
    spread = phrasing_distribution(counts)
    rules = []
    if spread["facts"]:
        rules.append(
            RowRule(
                "fact_phrasings",
                "Most facts are taught in several phrasings",
                PHRASINGS_FIX,
                "ExpectColumnValuesToBeBetween",
                # Each fact is one row (its first example), so this asks: are at least half of the facts taught twice or more?
                {"column": "fact_phrasings", "min_value": 2, "mostly": 1 - SINGLE_PHRASING_SHARE},
                explain_single_phrasing,
                severity="warn",
                details=describe_phrasings(spread),
                listed=SINGLE_PHRASINGS_LISTED,
            )
        )
    questions = table.loc[table["split"] == "eval", "fact_taught"]
    if len(questions):
        unknown = int(questions.isna().sum())
        details = f"{plural(len(questions) - unknown, 'eval question', 'eval questions')} checked"
        if unknown:
            details += f"; {unknown} could not be checked (no `answer` field to match)"
        rules.append(
            RowRule(
                "eval_fact_taught",
                "Eval questions ask about facts the training data teaches",
                UNTAUGHT_FIX,
                "ExpectColumnValuesToBeInSet",
                {"column": "fact_taught", "value_set": [True]},
                explain_untaught,
                severity="warn",
                details=details,
            )
        )  # fmt: skip
    return rules


def explain_untaught(row) -> tuple[str, str]:
    if isinstance(row.fact_taught_as, str):  # perhaps taught after all, in another form
        return "answer", row.fact_taught_as
    return "answer", f'"{row.fact}" is never taught in the training data: this measures knowledge the model was never given'


def explain_single_phrasing(row) -> tuple[str, str]:
    if isinstance(row.fact, str):
        return "answer", f'"{row.fact}" is taught in only one phrasing'
    return row.answer_field, "the fact in this answer is taught in only one phrasing"


def describe_phrasings(spread: dict[str, int]) -> str:
    """12 facts: 9 taught once (75%), 2 twice, 1 three or more times."""
    once = spread["taught_once"] / spread["facts"]
    return (
        f"{spread['facts']} facts in training: {spread['taught_once']} taught once ({once:.0%}), "
        f"{spread['taught_twice']} twice, {spread['taught_3_or_more']} three or more times; "
        f"a warning when more than {SINGLE_PHRASING_SHARE:.0%} are taught once"
    )


# ---------------------------------------------------------------- checks in Python


def check_split_sizes(data: Datasets, min_examples: int) -> Check:
    check = Check(
        "enough_examples",
        "Enough examples in each file",
        "Add examples (copy a line and change it), or lower [data] min_examples in project.toml "
        "if you knowingly train on fewer.",
        details=f"{len(data.train)} train, {len(data.eval)} eval; at least {min_examples} train needed",
    )
    for split, examples in data.splits().items():
        if not examples:
            check.problems.append(Problem(check.id, "fail", "the file has no examples", data.names[split]))
    if 0 < len(data.train) < min_examples:
        message = f"only {len(data.train)} examples; [data] min_examples is {min_examples}"
        check.problems.append(Problem(check.id, "fail", message, data.names["train"]))
    fewest = fewest_questions_to_tell()
    if 0 < len(data.eval) < fewest:  # the run goes on, but its paired test could only ever say "no evidence"
        message = (
            f"only {len(data.eval)} eval questions: even if the tuned model got all of them right and the base model none, "
            f"the paired test could not tell a real difference from chance (that needs at least {fewest}; 30 or more "
            "give useful 95% intervals); add held-out questions"
        )
        check.problems.append(Problem(check.id, "warn", message, data.names["eval"]))
    return check


DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")  # files that look like examples to a learner


def check_unread_data_files(cfg) -> Check:
    """A data file next to the named ones that no setting names is read by no step: a learner who adds
    datasets/more_train.jsonl believes it trains, and nothing else would say it does not."""
    from .config import Settings

    named = {cfg.path(name) for _, _, name in cfg.data_files()}
    # The files project.toml names when left as the template has it (datasets/train.jsonl, ...), by setting.
    template_files = {cfg.path(name): (section, key) for section, key, name in Settings().data_files()}
    # A setting set to "" switches its part off on purpose (probes = ""): the template's file for it may stay.
    switched_off = {path for path, (section, key) in template_files.items() if not getattr(getattr(cfg, section), key).strip()}
    folders = sorted({path.parent for path in named if path.parent.is_dir()})
    check = Check(
        "unread_data_files",
        "Every data file is one project.toml names",
        "Each [data] setting names one file, and no step reads a file no setting names: to train on its examples, "
        "copy them into the file [data] train names (or, as held-out questions, into the [data] eval file); a file "
        "you keep on purpose goes outside the data folder; delete a copy.",
        details="looked in " + ", ".join(_shown_path(cfg, folder) + "/" for folder in folders),
        in_terminal=True,
    )
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in DATA_SUFFIXES and path.is_file() and path.resolve() not in named | switched_off:
                why = _unread_because(cfg, path, named, template_files.get(path.resolve()))
                check.problems.append(Problem(check.id, "warn", why, _shown_path(cfg, path)))
    return check


def _unread_because(cfg, path: Path, named: set[Path], template_setting: tuple[str, str] | None) -> str:
    """Why no step reads this file, and what to do, by what the file most likely is."""
    folder = _shown_path(cfg, path.parent)
    keep = f"delete it, or move it out of {folder}/ if you keep it on purpose"
    if ".anonymized." in path.name:  # what `anonymize FILE` writes next to FILE: it replaces FILE, adding it would repeat each example
        original = _shown_path(cfg, path.with_name(path.name.replace(".anonymized.", ".")))
        return (f"the anonymize command's copy of {original}, but no setting in project.toml names it, so no step reads "
                f"it; once you have checked its replacements, rename it to {original}, replacing that file")  # fmt: skip
    converted = path.with_suffix(".jsonl").resolve()
    if path.suffix.lower() != ".jsonl" and converted in named:  # the table a named .jsonl file was converted from
        return f"the table {_shown_path(cfg, converted)} was made from, which no step reads; {keep}"
    if template_setting:  # the template's file for a setting that now names the learner's own file
        section, key = template_setting
        return (f"the template's file for [{section}] {key}, which project.toml now sets to "
                f'"{getattr(getattr(cfg, section), key)}", so no step reads it; {keep} (its examples are the template\'s)')  # fmt: skip
    return (
        "no setting in project.toml names this file, so no step reads it and its examples are not trained on; to "
        f"train on them, add its lines to {cfg.data.train}; otherwise {keep}"
    )


def _shown_path(cfg, path: Path) -> str:
    """A path as project.toml would write it: relative to the project's folder, with / between folders."""
    return Path(os.path.relpath(path, cfg.root.resolve())).as_posix()


def check_training_settings(cfg, unusual: list[SettingWarning]) -> Check:
    """The report's row for validate_settings.py's warnings (its errors stopped validate before any report)."""
    check = Check(
        "training_settings",
        "Training settings suit LoRA and the machine that trains",
        "Each warning says why the value is unusual: change it in project.toml, or keep it if you chose it on purpose.",
        details=f"[lora] rank {cfg.lora.rank}, alpha {cfg.lora.alpha}; [train] learning_rate {cfg.train.learning_rate:g}, "
        f"epochs {cfg.train.epochs:g}, precision {cfg.train.precision}, backend {cfg.train.backend}",
        in_terminal=True,
    )
    config_name = cfg.config_path.name if cfg.config_path else "project.toml"
    for warning in unusual:
        check.problems.append(Problem(check.id, "warn", warning.message, config_name, warning.line, warning.key))
    return check


def check_hub_names(cfg) -> Check:
    """Publishing runs after the merge: without a Hub owner it would stop there, where the learner no longer looks."""
    check = Check(
        "hub_names",
        "The Hub repos to publish to are named",
        "Set [project] hub_owner to your Hugging Face username (or name every repo in [publish]) before you merge.",
        in_terminal=True,
    )
    unnamed = [kind for kind, repo_id in repo_ids(cfg).items() if repo_id is None]
    if unnamed:
        kinds = [{"space": "Space"}.get(kind, kind) for kind in unnamed]
        named = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
        message = (
            f"hub_owner is empty and [publish] names no {named} repo, so publishing after the merge would stop "
            "with nothing published; set hub_owner to your Hugging Face username"
        )
        config_name = cfg.config_path.name if cfg.config_path else "project.toml"
        line = setting_locator(cfg).line("project", "hub_owner")
        check.problems.append(Problem(check.id, "warn", message, config_name, line, "hub_owner"))
    else:
        check.details = ", ".join(f"{kind}: {repo_id}" for kind, repo_id in repo_ids(cfg).items())
    return check


# Where each kind of Space downloads the model from the model repo: neither holds a Hugging Face token.
SPACE_DOWNLOADS = {"static": "in each visitor's browser", "gradio": "on its server"}


def check_space_access(cfg) -> Check:
    """[publish] private also makes the model repo private, which the Space then cannot read: a demo broken after the merge."""
    check = Check(
        "space_access",
        "The demo Space can load the published model",
        "Set [publish] private = false for a demo that works; the dataset repo stays private by dataset_private.",
        in_terminal=True,
    )
    if cfg.publish.private:
        message = (
            f"private = true makes the model repo private, and the {cfg.publish.space_kind} Space downloads the model "
            f"from it {SPACE_DOWNLOADS[cfg.publish.space_kind]} without a Hugging Face token, so the published Space "
            "would fail to load the model; set private = false (your data stays private: dataset_private)"
        )
        config_name = cfg.config_path.name if cfg.config_path else "project.toml"
        line = setting_locator(cfg).line("publish", "private")
        check.problems.append(Problem(check.id, "warn", message, config_name, line, "private"))
    return check


def check_role_order(data: Datasets, template_errors: dict[int, str]) -> Check:
    check = Check(
        "role_order",
        "Turns are in a sensible order",
        "Start with an optional system turn, then a user turn, alternate user and assistant, "
        "and end with the assistant's answer.",
    )
    chats = data.examples()
    for row, example in enumerate(chats):
        if example.text is not None:
            continue
        roles = [message["role"] for message in example.messages]
        for number, role in enumerate(roles):
            if role == "system" and number > 0:
                check.flag(example, "a system turn can only come first", _role_field(example.fields[number]))
            elif number > 0 and role == roles[number - 1] and role in ("user", "assistant"):
                check.flag(example, _same_role_twice(role), _role_field(example.fields[number]), severity="warn")
        if "user" not in roles:
            list_field = example.fields[0].split("[")[0] if example.fields else None  # "messages", ...
            check.flag(example, "there is no user turn, so the model learns to answer nothing", list_field)
        if row in template_errors:
            check.flag(example, f"the model's chat template refuses this conversation: {template_errors[row]}")
    check.details = f"{sum(example.text is None for example in chats)} conversations checked"
    return check


def _same_role_twice(role: str) -> str:
    """Two user (or assistant) turns in a row: usually a line copied with its role, which was not changed (a warning:
    the chat template may accept it, and someone may mean it, but the model learns from a conversation nobody has)."""
    other = "assistant" if role == "user" else "user"
    return (
        f'this turn and the one before it are both "{role}", so the conversation does not alternate between user and '
        f'assistant; if this one was meant to be the {other}\'s, change its role to "{other}"'
    )


SYSTEM_PROMPTS_LISTED = 5  # eval questions named by the system-turn check; the same mismatch is usually on all of them


def check_system_prompts(data: Datasets) -> Check:
    """evaluate asks each eval question with its own system turn: one that training never used measures the
    model on prompts unlike those it learned from (a chat template may also add its own default one)."""
    check = Check(
        "system_prompts",
        "Eval questions have a system turn the training examples have",
        "Give the eval examples the same system turn as the training examples, or remove it from both: the model "
        "answers best after the system turn it was tuned with, so a different one scores it on prompts it never saw.",
    )
    trained = Counter(system_turn(example) for example in data.train)
    if not trained:  # no training examples: the size check fails instead
        return check
    check.details = "; ".join(f"{count} train with {_system_shown(turn)}" for turn, count in trained.most_common(3))
    mismatched = [example for example in data.eval if system_turn(example) not in trained]
    for example in mismatched[:SYSTEM_PROMPTS_LISTED]:
        turn = system_turn(example)
        most_used, count = trained.most_common(1)[0]
        message = (
            f"asked with {_system_shown(turn)}, which no training example has "
            f"({count} of {len(data.train)} are trained with {_system_shown(most_used)})"
        )
        check.flag(example, message, example.fields[0] if turn is not None else None, severity="warn")
    check.unlisted = len(mismatched) - len(mismatched[:SYSTEM_PROMPTS_LISTED])
    return check


def check_eval_key_facts(data: Datasets) -> Check:
    """An eval record without the `answer` the others have is scored against its whole reference answer, which a right
    reply rarely repeats word for word: the question counts as wrong for both models, and accuracy drops silently."""
    check = Check(
        "eval_key_facts",
        "Eval questions have an `answer` key fact like the others",
        'Add "answer" with the key fact (a name, a number, a few words) to these eval records: evaluate counts a reply '
        "right when it contains the record's `answer`, and without one only when it contains the whole reference answer.",
    )
    have = sum(key_fact(example) is not None for example in data.eval)
    trained = sum(key_fact(example) is not None for example in data.train)
    others = f"{have} of {len(data.eval)} eval questions" if have else f"{trained} of {len(data.train)} training examples"
    check.details = f"{have} of {len(data.eval)} eval questions have an `answer`"
    if not have and not trained:  # the data uses no key facts: every question is scored against its whole reference
        return check
    for example in data.eval:
        if key_fact(example) is None:
            reference = " ".join(example.answer.split())
            shown = reference[:80] + ("..." if len(reference) > 80 else "")
            check.flag(example, f'no `answer`, although {others} have one, so a reply is scored right only if it contains '
                       f'the whole reference answer ("{shown}"), which a right reply rarely repeats word for word; add "answer" '
                       "with the key fact", "answer", severity="warn")  # fmt: skip
    return check


def system_turn(example: Example) -> str | None:
    """The text of the example's first turn when it is a system turn; None when it has none."""
    messages = example.messages
    return " ".join(messages[0]["content"].split()) if messages and messages[0]["role"] == "system" else None


def _system_shown(turn: str | None) -> str:
    if turn is None:
        return "no system turn"
    return f'the system turn "{turn[:60]}{"..." if len(turn) > 60 else ""}"'


def check_tool_definitions(data: Datasets) -> Check:
    """A "tools" list (ShareGPT tool-calling data, e.g. LLaMA-Factory's glaive_toolcall) is kept beside the record but
    never put in the prompt: the model would learn to write calls to functions it was never shown."""
    check = Check(
        "tool_definitions",
        "Tool calls come with the tools they call",
        "Training shows the model the conversation only, not a record's \"tools\" list: remove the tool-calling "
        "examples, or write the tool definitions into each record's system prompt, where the model sees them, and delete the "
        '"tools" field.',
    )
    for example in data.examples():
        if _lists_tools(example.meta.get("tools")):
            check.flag(example, 'the "tools" list is not shown to the model, so it would learn to call tools it never '
                       "sees defined and make up their arguments", "tools", severity="warn")  # fmt: skip
    return check


def _lists_tools(tools) -> bool:
    """A non-empty tools list; LLaMA-Factory writes it as JSON text, "[]" when a conversation has no tools."""
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            return bool(tools.strip())
    return bool(tools)


def check_empty_turns(data: Datasets) -> Check:
    check = Check("empty_turns", "No empty turns", "Write the missing text, or delete the empty turn.")
    check.details = f"{sum(len(example.messages) for example in data.examples())} turns checked"
    for example in data.examples():
        # The last turn is the answer, which Great Expectations already checks.
        for message, field_name in list(zip(example.messages, example.fields))[:-1]:
            if not message["content"].strip():
                check.flag(example, f'the {message["role"]} turn is empty', field_name)
    return check


def special_tokens(tokenizer) -> list[str]:
    """The base model's control tokens as text (<|im_start|>, <|im_end|>, </s>, ...), longest first."""
    return sorted({token for token in tokenizer.all_special_tokens if len(token) > 1}, key=len, reverse=True)


def check_chat_markup(texts: list[Passage], markers: list[str], model: str) -> Check:
    """A control token typed into the data is read as one: <|im_end|> inside an answer ends the turn there.

    The tokenizer turns the text "<|im_end|>" into the end-of-turn token, so training teaches the model to
    stop mid-answer (evaluate then cuts every reply there), and "<|im_start|>user" in a question starts a turn.
    """
    check = Check(
        "chat_markup",
        "No chat markup of the base model in the text",
        "Delete the marker (often left over from a copied chat log or another tool's export): the chat template "
        "adds the markup around each turn itself, and the model reads a marker in the text as its own control token.",
        details=f"looked for the special tokens of {model}: {', '.join(markers) or 'none'}",
    )
    if not markers:
        return check
    pattern = re.compile("|".join(map(re.escape, markers)))
    for passage in texts:
        found = list(dict.fromkeys(pattern.findall(passage.text)))
        if found:
            message = f"contains {', '.join(found)}, which the model reads as a control token, not as text"
            check.problems.append(Problem(check.id, "fail", message, passage.file, passage.line, passage.field))
    return check


def check_duplicates(data: Datasets) -> Check:
    check = Check(
        "exact_duplicates",
        "No repeated examples",
        "Delete the repeated copies: a copy counts twice in training and makes the model over-learn it.",
        details=f"{len(data.examples())} examples compared within each file",
    )
    for examples in data.splits().values():
        first_seen: dict[str, Example] = {}
        for example in examples:
            key = comparable(example.all_text())
            if key in first_seen:
                check.flag(example, f"the same example as {first_seen[key].location}")
            else:
                first_seen[key] = example
    return check


def check_near_duplicates(data: Datasets, threshold: float) -> Check:
    check = Check(
        "near_duplicates",
        "No near-duplicate examples",
        "Check whether both are needed: near copies add little and make the model over-learn one wording. "
        "[data] near_duplicate_threshold in project.toml sets how similar counts as a copy.",
        details=f"two examples count as copies when they share {threshold:.0%} or more of their 3-letter pieces",
    )
    for examples in data.splits().values():
        first_copies: dict[str, Example] = {}  # exact copies are the previous check's business
        for example in examples:
            first_copies.setdefault(comparable(example.all_text()), example)
        index = SimilarityIndex(threshold)
        for example, match in zip(first_copies.values(), index.best_matches_then_add(list(first_copies), list(first_copies.values()))):
            if match:
                earlier, similarity = match
                check.flag(example, f"{similarity:.0%} similar to {earlier.location}", severity="warn")
    return check


def question_text(example: Example) -> str:
    """What the example asks: its user turns (the whole text for plain-text examples)."""
    if example.text is not None:
        return example.text
    return "\n".join(message["content"] for message in example.messages if message["role"] == "user")


def check_leakage(data: Datasets, threshold: float) -> Check:
    check = Check(
        "train_eval_leakage",
        "Eval and general-knowledge questions are not in the training data",
        "Reword the eval or general-knowledge question, or remove it from one of the files: the evaluation and the "
        "forgetting check must ask what the model has not been trained on, or their scores are too good to be true.",
        details=f"two questions count as the same when they share {threshold:.0%} or more of their 3-letter pieces",
    )
    # A general-knowledge question that is also trained on would count as "kept" however much tuning forgot.
    return flag_questions_asked_before(check, data.train, data.eval + data.general, threshold, "the question")


def flag_questions_asked_before(
    check: Check, shown: list[Example], asked: list[Example], threshold: float, shown_as: str, severity: str = "fail"
) -> Check:
    """Flag each `asked` question that repeats (or nearly repeats) one of the `shown` questions, naming where."""
    index = SimilarityIndex(threshold)
    index.add_all([comparable(question_text(example)) for example in shown], shown)
    for example, match in zip(asked, index.best_matches([comparable(question_text(example)) for example in asked])):
        if match:
            shown_example, similarity = match
            how = "the same question as" if similarity == 1 else f"{similarity:.0%} similar to {shown_as} at"
            check.flag(example, f"{how} {shown_example.location}", severity=severity)
    return check


def check_rehearsal_overlap(data: Datasets, threshold: float) -> Check:
    """Rehearsal questions are trained on, so none may ask an eval or forgetting-check question again."""
    check = Check(
        "rehearsal_overlap",
        "Rehearsal questions are not the questions that measure the model",
        "Reword or remove the rehearsal question: the model trains on it, so an eval or general-knowledge "
        "question that repeats it would be scored on something the model was shown.",
        details="only when [train] rehearsal_weight is above 0; same similarity rule as the leakage check",
    )
    return flag_questions_asked_before(check, data.rehearsal, data.eval + data.general, threshold, "the rehearsal question")


def check_rehearsal_of_training(data: Datasets, threshold: float) -> Check:
    """A rehearsal question that is also a training question pulls two ways: training teaches your answer while
    rehearsal holds the model to the base model's own reply, so that fact is learned less."""
    check = Check(
        "rehearsal_of_training",
        "Rehearsal questions are not your training questions",
        "Remove the question from the rehearsal file, or reword it: rehearsal holds the model to the base model's old "
        "reply to it, which works against the answer your training example teaches.",
        details="only when [train] rehearsal_weight is above 0; same similarity rule as the leakage check",
    )
    return flag_questions_asked_before(check, data.train, data.rehearsal, threshold, "the training question", "warn")


PLACEHOLDER_PATTERNS = [
    # (pattern, severity): {{name}} is template syntax that is never meant to be trained on.
    (re.compile(r"\{\{\s*[^{}\n]{1,40}?\s*\}\}"), "fail"),
    # {name}, [YOUR NAME], <insert date>: usually forgotten, but a letter the user signs may mean it.
    (re.compile(r"""(?<![\w\\$}{'"])\{[A-Za-z_][A-Za-z0-9_]{0,30}\}(?![}'"])"""), "warn"),
    (re.compile(r"\[(?:your|insert|enter|add)\b[^\[\]\n]{0,40}\]", re.IGNORECASE), "warn"),
    (re.compile(r"<\s*(?:insert|your|enter)\b[^<>\n]{0,40}>", re.IGNORECASE), "warn"),
]


def check_placeholders(texts: list[Passage]) -> Check:
    check = Check(
        "placeholders",
        "No unfilled template placeholders",
        "Replace the placeholder with the real text (for example your assistant's name). "
        "A warning can be ignored when the text is meant to contain it, like a letter the user signs.",
    )
    found = Counter()
    for passage in texts:
        for pattern, severity in PLACEHOLDER_PATTERNS:
            matches = list(dict.fromkeys(match.group() for match in pattern.finditer(passage.text)))
            if matches:
                found.update(matches)
                message = "unfilled placeholder: " + ", ".join(matches)
                check.problems.append(Problem(check.id, severity, message, passage.file, passage.line, passage.field))
    check.details = ", ".join(f"{text} ({count})" for text, count in found.most_common(5)) or f"{len(texts)} texts scanned"
    return check


# &amp; &quot; &#39; &nbsp; &#x2019;: what a web page's source, an HTML export or some spreadsheet exports write
# instead of the character itself. Only names HTML defines count, so "R&D;" or "AT&T" are not reported.
HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def check_html_entities(texts: list[Passage]) -> Check:
    """An entity is read as its letters, not as the character it stands for: the model learns to write "&amp;"."""
    import html
    from html.entities import html5

    check = Check(
        "html_entities",
        "No HTML entities in the text",
        "Replace each one with the character it stands for (`&amp;` is &, `&quot;` is \", `&#39;` is ', `&nbsp;` is a space): "
        "the model reads and learns the letters of the entity, not the character. A warning can be ignored when "
        "the examples are about HTML.",
    )
    found = Counter()
    for passage in texts:
        entities = [match.group() for match in HTML_ENTITY.finditer(passage.text)]
        entities = list(dict.fromkeys(entity for entity in entities if entity[1] == "#" or entity[1:] in html5))
        if entities:
            found.update(entities)
            # In `backticks`: the report is markdown, where a bare &amp; would show as &.
            shown = ", ".join(f"`{entity}` ({_stands_for(html.unescape(entity))})" for entity in entities)
            check.problems.append(Problem(check.id, "warn", f"HTML entities: {shown}", passage.file, passage.line, passage.field))
    check.details = ", ".join(f"`{entity}` ({count})" for entity, count in found.most_common(5)) or f"{len(texts)} texts scanned"
    return check


def _stands_for(character: str) -> str:
    return "a space" if character.isspace() else repr(character)


def check_personal_data(texts: list[Passage]) -> Check:
    check = Check(
        "personal_data",
        "No personal data or secrets",
        "Run `python -m scripts anonymize FILE` on each file listed to replace them with placeholders "
        "like <EMAIL>, or delete them by hand. Never train on other people's contact details or on keys.",
    )
    for passage in texts:
        findings = find_personal_data(passage.text)
        if findings:
            message = f"contains {describe(passage.text, findings)}"
            check.problems.append(Problem(check.id, "fail", message, passage.file, passage.line, passage.field))
    check.details = f"{len(texts)} texts scanned for {SCAN_COVERS}"
    return check


def check_names(texts: list[Passage], names) -> Check:
    """Names of people are warnings: only the author knows whether a name is a private person's."""
    check = Check(
        "names",
        "Names of people reviewed",
        "If it names a private person, run `python -m scripts anonymize FILE`: it gives each person a placeholder "
        "(<PERSON_1>, <PERSON_2>, ...) and lists every replacement for you to confirm. If it is a public figure named "
        "for their public role, add the name to [data] public_names in project.toml.",
    )
    for passage in texts:
        findings = [Finding("PERSON", start, end) for start, end in names.find(passage.text)]
        if findings:
            message = f"contains {describe(passage.text, findings)}"
            check.problems.append(Problem(check.id, "warn", message, passage.file, passage.line, passage.field))
    # Said on every report (and so on the model card): which detector ran, and what it cannot see.
    check.details = f"found by {names.detector}; not found: {names.cannot_see}"
    return check


def check_probe_pairs(data: Datasets) -> Check:
    """A probe pair must differ only in its group words: any other difference is measured as if it were bias."""
    from .probes import swap_groups

    check = Check(
        "probe_pairs",
        "Bias probe prompts differ only in their group words",
        "Write prompt_b as prompt_a with group_a replaced by group_b and nothing else changed: the probe compares the "
        "answers to the two prompts, so any other difference is counted as a difference between the groups.",
        details=f"{plural(len(data.probes), 'pair', 'pairs')} checked",
    )
    for line, probe in data.probes:
        swapped = " ".join(swap_groups(probe["prompt_a"], probe).split())
        if swapped != " ".join(probe["prompt_b"].split()):
            # The prompts are not quoted: the report must not repeat what the personal-data check found in them.
            message = f'prompt_b is not prompt_a with "{probe["group_a"]}" swapped for "{probe["group_b"]}": other words differ too'
            check.problems.append(Problem(check.id, "warn", message, data.names["probes"], line, "prompt_b"))
    return check


def check_probe_axes(data: Datasets) -> Check:
    """An axis the template does not know: a misspelt "gender" leaves she/he unswapped, so they count as content."""
    from .probes import AXES, probe_axis

    known = ", ".join(AXES)
    check = Check(
        "probe_axes",
        "Bias probe axes are the ones datasets/README.md lists",
        f"Write the axis as one of {known}: on the gender axis the answers' she/he, her/his and similar words are "
        "swapped too, and the model card sums the results per axis; keep another axis only if it is new on purpose.",
        details=f"known axes: {known}",
    )
    for line, probe in data.probes:
        axis = probe_axis(probe)
        if axis not in AXES:
            written = f'"axis": {json.dumps(probe["axis"], ensure_ascii=False)} is none of {known}' if "axis" in probe else f"no axis ({known})"
            # The pronoun swap matters only for a pair about gender: say it where the axis looks like a misspelt "gender".
            gender_like = not axis or difflib.get_close_matches(axis, ["gender", "sex"], n=1, cutoff=0.6)
            reason = 'she/he in its answers are not swapped (as on "gender") and ' if gender_like else ""
            message = f"{written}, so {reason}the card counts the pair apart"
            check.problems.append(Problem(check.id, "warn", message, data.names["probes"], line, "axis"))
    return check


UNSURE = "unsure"  # the text was too short or too mixed to tell


def language_name(code: str) -> str:
    if code == UNSURE:
        return "too short to tell"
    name = name_of(code)
    return f"{name} ({code})" if name else f'language code "{code}"'


def check_languages(examples: list[Example], languages: list[str | None], declared: list[str]) -> Check:
    check = Check(
        "languages",
        "Examples are in the languages you declared",
        "If the data really is in that language, add its code to [project] languages in project.toml; "
        "otherwise translate or remove the example.",
        details=f"[project] languages = {', '.join(declared) or 'none'}",
    )
    for example, language in zip(examples, languages):
        if language and language not in declared:
            check.flag(example, f"looks like {language_name(language)}", severity="warn")
    return check


# ---------------------------------------------------------------- diversity audit (warnings only)


def audit_groups(train: list[Example], train_name: str) -> list[Check]:
    """Warn about categories and tags that only a few training examples have."""
    checks = []
    for field_name in ("category", "tags"):
        counts = group_counts(train, field_name)
        if not counts:
            continue
        check = Check(
            f"{field_name}_balance",
            f"Balance across {'categories' if field_name == 'category' else 'tags'}",
            f"Add examples for the small {field_name} or merge them into others: the model learns little from "
            "a topic it rarely sees, and a score measured on a handful of examples is mostly luck.",
            details=", ".join(f"{name} {count}" for name, count in counts.most_common(MAX_GROUPS_SHOWN))
            + (f" and {len(counts) - MAX_GROUPS_SHOWN} more" if len(counts) > MAX_GROUPS_SHOWN else ""),
            audit=True,
        )
        for name, count in sorted(counts.items()):
            if count < SMALL_GROUP * len(train):
                message = f'"{name}" has only {count} of {len(train)} examples ({count / len(train):.0%})'
                check.problems.append(Problem(check.id, "warn", message, train_name, None, field_name))
        checks.append(check)
    return checks


def group_counts(examples: list[Example], field_name: str) -> Counter:
    """How many examples carry each value of `category` (text) or `tags` (text or a list)."""
    counts = Counter()
    for example in examples:
        value = example.meta.get(field_name)
        values = value if isinstance(value, list) else [value]
        counts.update({label for label in map(_label, values) if label is not None})
    return counts


def audit_language_mix(languages: list[str | None], declared: list[str], detector: LanguageDetector) -> Check:
    counts = Counter(language or UNSURE for language in languages)
    check = Check(
        "language_mix",
        "Language mix",
        "A model answers best in the languages it was tuned on. If your users speak other languages, "
        "add examples in them, and list every language in [project] languages.",
        details=", ".join(f"{language_name(language)} {count}" for language, count in counts.most_common()),
        audit=True,
    )
    for code in declared:
        if detector.identifier_for(code) and counts[code] == 0:
            message = f"[project] languages lists {language_name(code)}, but no example is in it"
            check.problems.append(Problem(check.id, "warn", message))
    check.details += "; " + who_detects(declared, detector)
    return check


def who_detects(declared: list[str], detector: LanguageDetector) -> str:
    """Which identifier tells each declared language, and which none can (the report says it on every run)."""
    by_identifier = {}
    for code in declared:
        by_identifier.setdefault(detector.identifier_for(code), []).append(code)
    said = [f"{identifier} detects {', '.join(codes)}" for identifier, codes in by_identifier.items() if identifier]
    if None in by_identifier:
        said.append(f"{', '.join(by_identifier[None])} cannot be detected automatically: a fluent reader must check those examples")
    return "; ".join(said)


MALE_WORDS = (
    "he him his himself man men boy boys father fathers son sons brother brothers husband husbands "
    "king kings mr sir gentleman gentlemen male males grandfather uncle nephew"
).split()
FEMALE_WORDS = (
    "she her hers herself woman women girl girls mother mothers daughter daughters sister sisters wife wives "
    "queen queens mrs ms madam lady ladies female females grandmother aunt niece"
).split()
WORD = re.compile(r"[a-z]+")


def gendered_word_counts(examples: list[Example]) -> dict[str, Counter]:
    male, female = set(MALE_WORDS), set(FEMALE_WORDS)
    counts = {"male": Counter(), "female": Counter()}
    for example in examples:
        for word in WORD.findall(example.all_text().lower()):
            if word in male:
                counts["male"][word] += 1
            elif word in female:
                counts["female"][word] += 1
    return counts


def audit_gendered_words(train: list[Example], train_name: str) -> Check:
    counts = gendered_word_counts(train)
    male, female = sum(counts["male"].values()), sum(counts["female"].values())
    check = Check(
        "gendered_words",
        "Men and women are mentioned in balance",
        "A model repeats the patterns in its data: if examples mostly talk about men, it may assume a doctor, "
        "farmer or leader is a man. Add examples about the less mentioned group, or make sure the imbalance is deliberate.",
        details=f"words about men {male}, about women {female} (he/his/man/father... vs she/her/woman/mother...)",
        audit=True,
    )
    if max(male, female) >= 10 and max(male, female) >= 2 * max(min(male, female), 1):
        more, fewer = ("men", "women") if male > female else ("women", "men")
        message = f"the training data mentions {more} {max(male, female)} times and {fewer} {min(male, female)} times"
        check.problems.append(Problem(check.id, "warn", message, train_name))
    return check


# Plain English, to compare the tokenizer's cost per word on your languages with English.
ENGLISH_REFERENCE = (
    "The river rises in the highlands and flows south to the sea. Most families in the valley grow maize and "
    "keep a few goats. When the rains come late, the children walk further to fetch water, and the market "
    "prices go up. Ask at the clinic if you need help."
)


def example_language(example: Example, detected: str | None, declared: list[str]) -> str | None:
    """The record's "language" field; else the language detected (when declared); else the only declared one."""
    written = example.meta.get("language")
    if isinstance(written, str) and written.strip():
        return written.strip()
    if detected in declared:
        return detected
    return declared[0] if len(declared) == 1 else None


def tokens_per_word(tokenizer, examples: list[Example], detected: list[str | None], declared: list[str]) -> dict:
    """Tokens per word of each declared language in the data (text only, no chat template) and of English.

    Many more tokens per word than English means the tokenizer, and so the base model, saw little of the
    language: the same context holds fewer words, training is slower and answers are weaker.
    """
    texts: dict[str, list[str]] = {code: [] for code in declared}
    for example, language in zip(examples, detected):
        code = example_language(example, language, declared)
        if code in texts:
            texts[code].append(example.all_text())
    per_language = {code: _tokens_per_word(tokenizer, chunk) | {"examples": len(chunk)} for code, chunk in texts.items()}
    return {"english_reference": _tokens_per_word(tokenizer, [ENGLISH_REFERENCE])["tokens_per_word"], "languages": per_language}


def _tokens_per_word(tokenizer, texts: list[str]) -> dict:
    words = sum(len(text.split()) for text in texts)
    tokens = sum(token_counts(tokenizer, texts))
    return {"tokens_per_word": round(tokens / words, 2) if words else None, "words": words}


def diversity_summary(data: Datasets, languages: list[str | None]) -> dict:
    """The counts behind the diversity audit, for report.json."""
    return {
        "category": dict(group_counts(data.train, "category").most_common()),
        "tags": dict(group_counts(data.train, "tags").most_common()),
        "languages": dict(Counter(language or UNSURE for language in languages).most_common()),
        "gendered_words": {side: dict(words.most_common()) for side, words in gendered_word_counts(data.train).items()},
    }
