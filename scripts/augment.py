"""Propose more phrasings of each training question for you to review, then add the ones you accept.

    python -m scripts augment                    # writes outputs/augment/proposals.jsonl
    python -m scripts augment --limit 10         # only for the first 10 questions (a quick look)
    python -m scripts augment --accept outputs/augment/proposals.jsonl   # adds the accepted ones to datasets/train.jsonl

A model (`[augment] model`; empty = your base model) proposes rewordings, `rejection_reason` filters
them, and the rest go to the proposals file, never into your training data: each line is a training
record plus three review fields, "accept" (false), "from" and "original". Set "accept": true on the ones
you keep; --accept appends only those, checked (`accepted_records`), and keeps the file as it was in
outputs/augment/train.jsonl.bak. Why and how: docs/design.md, "Augment: more phrasings, reviewed by a
person"; how good the bundled model is at it: bench/README.md, "Augment".
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .data import Example, detect_format, load_examples, read_records
from .errors import EXIT_OK, UserError, where
from .facts import is_correct, key_fact, normalise
from .files import write_atomic
from .similarity import SimilarityIndex, comparable, similarity

REVIEW_FIELDS = ("accept", "from", "original")
DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"

# What `python -m scripts augment` measured with the bundled model (bench/README.md, "Augment").
DEFAULT_MODEL_QUALITY = "on 30 training questions, 36 of 90 proposals passed the filters and 10 of those asked the same question correctly (28%); 7 of 28 reworded answers were right"

# Two worked examples, about other countries so that they teach the task and no Namibian fact.
QUESTION_EXAMPLES = [
    ("What is the largest city in Kenya?", "Which Kenyan city is the biggest?"),
    ("Who wrote the novel Things Fall Apart?", "Things Fall Apart was written by which author?"),
]
ANSWER_EXAMPLES = [
    ("Nairobi", "Nairobi is the largest city in Kenya.", "Kenya's biggest city is Nairobi."),
    ("Chinua Achebe", "Chinua Achebe wrote Things Fall Apart.", "Things Fall Apart is a novel by Chinua Achebe."),
]
QUESTION_SYSTEM = "You rewrite questions in other words. Reply with the rewritten question only."
ANSWER_SYSTEM = "You rewrite sentences in other words, keeping the quoted fact exactly. Reply with the rewritten sentence only."

# Words that carry no topic: question words, articles, auxiliaries, prepositions.
FUNCTION_WORDS = set(
    "a an the what which who whom whose when where why how is are was were be been do does did has have had "
    "of in on at to for from by with about into during as and or that this these those it its there their "
    "can could would should will may might much many most more one name called".split()
)


def add_arguments(parser) -> None:
    parser.add_argument("--accept", metavar="FILE", help="append the proposals marked \"accept\": true in FILE to the training file")
    parser.add_argument("--output", metavar="FILE", help="where to write proposals (default: outputs/augment/proposals.jsonl)")
    parser.add_argument("--limit", type=int, metavar="N", help="propose for the first N training questions only")


def main(cfg, args) -> int:
    if args.accept:
        return accept(cfg, Path(args.accept), args.accept)
    return propose(cfg, args)


# ---------------------------------------------------------------- proposing


@dataclass
class Question:
    """One training question-answer pair that can be reworded."""

    example: Example
    record: dict
    """The record exactly as in the training file (its other keys are kept in every proposal)."""
    question_index: int
    """Position of the last user message in record["messages"]."""

    @property
    def question(self) -> str:
        return self.example.messages[self.question_index]["content"]

    @property
    def answer(self) -> str:
        return self.example.answer


def propose(cfg, args) -> int:
    train_name = cfg.data.train
    questions, skipped = rewordable_questions(cfg.path(train_name), train_name)
    if args.limit is not None:
        questions = questions[: max(args.limit, 0)]
    if not questions:
        raise UserError(f"{train_name}: no question-answer records to reword; each needs a user turn followed by an assistant answer.")
    model_id = cfg.augment.model or cfg.model.base
    warn_about_weak_model(model_id)
    ask = load_generator(cfg, model_id)
    samples = cfg.augment.proposals if cfg.augment.temperature > 0 else 1  # greedy decoding has one answer
    print(f"Proposing {samples} phrasings for each of {len(questions)} questions in {train_name} with {model_id} ...", flush=True)
    raw_questions, raw_answers = ask_model(ask, questions, samples)
    threshold = cfg.data.near_duplicate_threshold
    known = training_questions(cfg)
    reasons: Counter = Counter()
    proposals, reworded = [], 0
    for question, candidates, answers in zip(questions, raw_questions, raw_answers):
        kept, dropped = filter_questions(question, candidates, known, threshold)
        reasons.update(dropped)
        good_answers = filter_answers(question, answers)
        for number, new_question in enumerate(kept):
            new_answer = good_answers[number] if number < len(good_answers) else question.answer
            reworded += new_answer != question.answer
            proposals.append(proposal_record(question, new_question, new_answer, train_name))
    output = Path(args.output) if args.output else cfg.step_dir("augment") / "proposals.jsonl"
    write_proposals(output, proposals)
    print_summary(output, len(questions) * samples, proposals, reworded, reasons, skipped)
    warn_about_weak_model(model_id)  # again at the end, where it is read
    return EXIT_OK


def rewordable_questions(path: Path, name: str) -> tuple[list[Question], int]:
    """The training file's question-answer records, and how many other records were skipped."""
    records = read_records(path, name)
    require_jsonl_messages(path, name, records)
    by_line = dict(records)
    questions, skipped = [], 0
    for example in load_examples(path, "messages", name):
        users = [number for number, message in enumerate(example.messages) if message["role"] == "user"]
        if not users or example.messages[-1]["role"] != "assistant" or not example.answer.strip():
            skipped += 1
            continue
        questions.append(Question(example, by_line[example.line], users[-1]))
    return questions, skipped


def require_jsonl_messages(path: Path, name: str, records: list[tuple[int, dict]]) -> None:
    """Accepted proposals are appended as JSONL lines in the "messages" format, so the file must be one."""
    if path.read_text(encoding="utf-8-sig").lstrip().startswith("["):
        raise UserError(f"{name}: augment appends lines to a JSONL file, but this is one JSON array; save it as one record per line.")
    if records and detect_format(records[0][1], name, records[0][0]) != "messages":
        raise UserError(
            f'{where(name, records[0][0])}: augment writes records in the "messages" format, but this file uses another one; '
            'convert it to {"messages": [...]} records first.'
        )


def training_questions(cfg) -> SimilarityIndex:
    """Every training question, to spot proposals that copy one ([data] near_duplicate_threshold, as validate counts copies)."""
    known = SimilarityIndex(cfg.data.near_duplicate_threshold)
    for example in load_examples(cfg.path(cfg.data.train), cfg.data.format, cfg.data.train, from_settings=True):
        known.add(comparable(last_user_turn(example)), example.location)
    return known


def last_user_turn(example: Example) -> str:
    users = [message["content"] for message in example.messages if message["role"] == "user"]
    return users[-1] if users else (example.text or "")


def warn_about_weak_model(model_id: str) -> None:
    if model_id == DEFAULT_MODEL:
        print(
            f"Note: {DEFAULT_MODEL} is a weak paraphraser: {DEFAULT_MODEL_QUALITY}. Read every proposal, or set "
            '[augment] model to a bigger instruction model (e.g. "Qwen/Qwen2.5-1.5B-Instruct") and run this on a GPU or Colab.',
            flush=True,
        )


# ---------------------------------------------------------------- the model


def load_generator(cfg, model_id: str) -> Callable[[list[list[dict]], int, int], list[str]]:
    """Load the model the way train and evaluate do (scripts/model.py); return ask(prompts, samples, max_new_tokens)."""
    import torch

    from .generation import generate_answers
    from .model import detect_hardware, load_causal_lm, load_tokenizer, resolve_base

    own_model = bool(cfg.augment.model)
    try:
        resolved = resolve_base(model_id, "main" if own_model else cfg.model.revision, cfg.root)
        # Only the base model may run code shipped with it (when you allowed that in [model]).
        tokenizer = load_tokenizer(resolved, trust_remote_code=not own_model and cfg.model.trust_remote_code)
    except UserError as error:
        if own_model:  # model.py's messages name [model] base; here the setting is [augment] model
            raise UserError(str(error).replace("[model] base", "[augment] model")) from None
        raise
    hardware = detect_hardware("auto")
    model = load_causal_lm(resolved, hardware, trust_remote_code=not own_model and cfg.model.trust_remote_code)
    model.eval()
    torch.manual_seed(cfg.augment.seed)  # the same seed and data give the same proposals (on one machine)
    batch_size, temperature = cfg.augment.batch_size, cfg.augment.temperature

    def ask(prompts: list[list[dict]], samples: int, max_new_tokens: int) -> list[str]:
        from tqdm.auto import tqdm

        with tqdm(total=len(prompts), desc="  questions", unit="q") as bar:
            return generate_answers(
                model, tokenizer, prompts, batch_size, max_new_tokens, samples, temperature, on_batch=bar.update
            )

    return ask


def ask_model(ask, questions: list[Question], samples: int) -> tuple[list[list[str]], list[list[str]]]:
    """For each question: `samples` cleaned rewordings of it, and as many of its answer (none without an `answer`)."""
    replies = ask([question_prompt(q.question) for q in questions], samples, 48)
    new_questions = [[clean_reply(r) for r in replies[i * samples : (i + 1) * samples]] for i in range(len(questions))]
    with_key = [q for q in questions if key_fact(q.example)]
    replies = ask([answer_prompt(key_fact(q.example), q.answer) for q in with_key], samples, 80) if with_key else []
    by_id = {id(q): [clean_reply(r) for r in replies[i * samples : (i + 1) * samples]] for i, q in enumerate(with_key)}
    return new_questions, [by_id.get(id(q), []) for q in questions]


def question_prompt(question: str) -> list[dict]:
    messages = [{"role": "system", "content": QUESTION_SYSTEM}]
    for before, after in QUESTION_EXAMPLES:
        messages += [{"role": "user", "content": f"Rewrite this question in other words: {before}"}, {"role": "assistant", "content": after}]
    return messages + [{"role": "user", "content": f"Rewrite this question in other words: {question}"}]


def answer_prompt(fact: str, sentence: str) -> list[dict]:
    messages = [{"role": "system", "content": ANSWER_SYSTEM}]
    for key, before, after in ANSWER_EXAMPLES:
        messages += [{"role": "user", "content": f'Rewrite this sentence in other words, keeping "{key}": {before}'}, {"role": "assistant", "content": after}]
    return messages + [{"role": "user", "content": f'Rewrite this sentence in other words, keeping "{fact}": {sentence}'}]


LABEL = re.compile(r"^(?:new |rewritten |reworded )?(?:question|sentence|answer)\s*:\s*", re.IGNORECASE)


def clean_reply(reply: str) -> str:
    """The reply's first line, without a label like "Question:" or quotes around it."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    text = LABEL.sub("", lines[0]) if lines else ""
    return text.strip().strip('"*“”').strip()


# ---------------------------------------------------------------- the filters


def filter_questions(question: Question, candidates: list[str], known: SimilarityIndex, threshold: float) -> tuple[list[str], Counter]:
    """The candidates worth showing you, in order, and a count of why the others were dropped."""
    kept: list[str] = []
    dropped: Counter = Counter()
    fact = key_fact(question.example)
    for candidate in candidates:
        reason = rejection_reason(question.question, candidate, fact, known, kept, threshold)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(candidate)
    return kept, dropped


def rejection_reason(original: str, candidate: str, fact: str | None, known: SimilarityIndex, kept: list[str], threshold: float) -> str | None:
    """Why a proposed question is dropped, or None to keep it. The rules, in order:

    empty; not a question (no "?" at the end); a copy of a training question (the original or
    any other: `threshold` = [data] near_duplicate_threshold, the similarity validate warns at);
    a copy of a proposal already kept; lost key words (see `lost_key_words`); gives away the
    answer (contains the record's `answer`, which the original does not: it would teach nothing).
    """
    if not candidate:
        return "empty"
    if not candidate.endswith("?"):
        return "not a question"
    if similarity(original, candidate) >= threshold or known.best_match(comparable(candidate)):
        return "copy of a training question"
    if any(similarity(candidate, other) >= threshold for other in kept):
        return "copy of another proposal"
    if lost_key_words(original, candidate):
        return "lost key words"
    if fact and is_correct(candidate, fact) and not is_correct(original, fact):
        return "gives away the answer"
    return None


def lost_key_words(original: str, candidate: str) -> list[str]:
    """The original question's key words that the candidate lacks.

    Key words are the names and numbers in the question (a capitalised word other than the
    first, or a word with a digit): they say what the question is about and have no synonyms,
    so every one must stay. A key word counts as kept when a candidate word starts with it
    ("Namibia" in "Namibian"). Other words may change: finding other words is the point.
    A question without names or numbers must keep at least one of its content words.
    """
    words = original.split()
    names = [normalise(word) for number, word in enumerate(words) if (number > 0 and word[:1].isupper()) or any(c.isdigit() for c in word)]
    names = [word.split()[0] for word in names if word]  # "Namibia's" normalises to "namibia s"
    candidate_words = normalise(candidate).split()
    kept = lambda word: any(other.startswith(word) for other in candidate_words)  # noqa: E731
    if names:
        return [word for word in names if not kept(word)]
    content = [word for word in normalise(original).split() if word not in FUNCTION_WORDS]
    return [] if not content or any(kept(word) for word in content) else content


def filter_answers(question: Question, candidates: list[str]) -> list[str]:
    """Reworded answers that still contain the record's `answer` and differ from the original sentence."""
    fact = key_fact(question.example)
    good = []
    for candidate in candidates:
        if not fact or not is_correct(candidate, fact):
            continue  # lost the fact: the proposal keeps the original answer sentence instead
        if comparable(candidate) in (comparable(question.answer), *map(comparable, good)):
            continue
        good.append(candidate)
    return good


def proposal_record(question: Question, new_question: str, new_answer: str, train_name: str) -> dict:
    """A complete training record (the original's other keys kept) with the review fields first."""
    record = copy.deepcopy(question.record)
    record["messages"][question.question_index]["content"] = new_question
    record["messages"][-1]["content"] = new_answer
    review = {"accept": False, "from": f"{train_name}:{question.example.line}", "original": question.question}
    return {**review, **record}


def write_proposals(output: Path, proposals: list[dict]) -> None:
    if output.exists():  # it may hold your review of an earlier run
        backup = output.with_name(output.name + ".bak")
        shutil.copy2(output, backup)
        print(f"Kept the previous proposals in {backup}")
    write_atomic(output, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in proposals))


def print_summary(output: Path, asked: int, proposals: list[dict], reworded: int, reasons: Counter, skipped: int) -> None:
    why = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common()) or "none"
    print(f"Kept {len(proposals)} of {asked} proposed questions (dropped: {why}); wrote {output}.")
    print(f"{reworded} of them have a reworded answer; the others keep the original answer sentence.")
    if skipped:
        print(f"Skipped {skipped} records that are not a question followed by an answer.")
    print(
        f'Next: read each proposal in {output}, fix it or leave it, set "accept": true on the ones that ask the same '
        f"question correctly, then run: python -m scripts augment --accept {output}"
    )


# ---------------------------------------------------------------- accepting


def accept(cfg, path: Path, name: str) -> int:
    train_name = cfg.data.train
    train_path = cfg.path(train_name)
    if not path.is_file():
        raise UserError(f"{name}: file not found; give the proposals file that `python -m scripts augment` wrote.")
    records = read_records(train_path, train_name)
    require_jsonl_messages(train_path, train_name, records)
    accepted = accepted_records(cfg, path, name)
    if not accepted:
        print(f'No record in {name} has "accept": true; nothing added to {train_name}.')
        return EXIT_OK
    backup = cfg.step_dir("augment") / (train_path.name + ".bak")
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(train_path, backup)
    text = train_path.read_bytes().decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    if text and not text.endswith("\n"):
        text += newline
    first_line = text.count("\n") + 1  # the text ends in a newline here: count lines as an editor does
    text += "".join(json.dumps(record, ensure_ascii=False) + newline for record in accepted)
    write_atomic(train_path, text)
    print(
        f"Added {len(accepted)} accepted phrasings to {train_name} (lines {first_line}-{first_line + len(accepted) - 1}); "
        f"the file as it was is in {backup}. Next: python -m scripts validate"
    )
    return EXIT_OK


def accepted_records(cfg, path: Path, name: str) -> list[dict]:
    """The records marked "accept": true, without the review fields, after checking each one.

    Refused (a UserError naming file, line and field): an "accept" that is not true or false;
    a record that is not a user question followed by an assistant answer; an answer that no
    longer contains the record's `answer`; a question that copies a training question or an
    earlier accepted one ([data] near_duplicate_threshold, as validate counts copies).
    """
    known = training_questions(cfg)
    raw = dict(read_records(path, name))
    accepted = []
    for example in load_examples(path, "messages", name):  # names the line and field of a broken record
        record = raw[example.line]
        if not is_accepted(record, name, example.line):
            continue
        check_accepted(example, name, known)
        known.add(comparable(last_user_turn(example)), example.location)
        accepted.append({key: value for key, value in record.items() if key not in REVIEW_FIELDS})
    return accepted


def is_accepted(record: dict, name: str, line: int) -> bool:
    value = record.get("accept", False)
    if not isinstance(value, bool):
        raise UserError(f'{where(name, line, "accept")}: must be true or false (no quotes); got {json.dumps(value)}.')
    return value


def check_accepted(example: Example, name: str, known: SimilarityIndex) -> None:
    """Raise a UserError naming the line and field when an accepted record cannot be added."""
    roles = [message["role"] for message in example.messages]
    last = len(roles) - 1
    if "user" not in roles or roles[-1] != "assistant":
        raise UserError(f'{where(name, example.line, "messages")}: needs a user question followed by an assistant answer; restore both messages.')
    question_number = max(number for number, role in enumerate(roles) if role == "user")
    question = example.messages[question_number]["content"]
    if not question.strip():
        raise UserError(f'{where(name, example.line, f"messages[{question_number}].content")}: the question is empty; write it, or set "accept": false.')
    if not example.answer.strip():
        raise UserError(f'{where(name, example.line, f"messages[{last}].content")}: the answer is empty; write it, or set "accept": false.')
    fact = example.meta.get("answer")
    if fact is not None and (not isinstance(fact, str) or not fact.strip()):
        raise UserError(f'{where(name, example.line, "answer")}: must be the short fact as text, like "Windhoek"; fix it or remove the key.')
    if fact and not is_correct(example.answer, fact):
        raise UserError(
            f'{where(name, example.line, f"messages[{last}].content")}: the answer no longer contains its "answer" {json.dumps(fact)}; '
            f'put "{fact}" back into the answer sentence, or set "accept": false.'
        )
    match = known.best_match(comparable(question))
    if match:
        location, score = match
        how = "the same question as" if score == 1 else f"{score:.0%} similar to the question at"
        raise UserError(
            f'{where(name, example.line, f"messages[{question_number}].content")}: {how} {location}, so it teaches nothing new; '
            'reword it further, or set "accept": false.'
        )
