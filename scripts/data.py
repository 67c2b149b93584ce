"""Load instruction-tuning files in the shapes learners bring, as chat messages.

Accepted files: JSONL (one JSON object per line) or one JSON array of objects.
A UTF-8 byte-order mark, Windows line endings and blank lines are fine.

Accepted record shapes (detected per file from the first record, or set with
`[data] format` in project.toml):

  messages           {"messages": [{"role": "user", "content": "..."}, ...]}   (OpenAI)
                     content may also be a list of parts: [{"type": "text", "text": "..."}]
  prompt_completion  {"prompt": "...", "completion": "..."}
  alpaca             {"instruction": "...", "input": "...", "output": "..."}
  sharegpt           {"conversations": [{"from": "human", "value": "..."}, ...]}
  text               {"text": "..."}   (plain text, no roles)

Every record becomes an `Example` whose `messages` use the roles system, user,
assistant and tool. Any other keys (category, source, tags, answer, ...) are
kept in `Example.meta` for the checks and the evaluation. A broken record is a
UserError naming its file, line and field (why the json module and not `datasets`:
docs/design.md, "Reading the data").
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError, where
from .files import read_learner_text, text_lines

FORMATS = ("messages", "prompt_completion", "alpaca", "sharegpt", "text")

# The key that identifies each format, checked in this order.
FORMAT_KEYS = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "prompt_completion": ("prompt", "completion"),
    "text": ("text",),
}

SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",  # the model's tool call is something it learns to write
    "observation": "tool",  # the tool's answer is context, like a user turn
    "tool": "tool",
    "function": "tool",
}
CHAT_ROLES = ("system", "user", "assistant", "tool")
# Roles other tools write in "messages", which are not typos: (whose name it is, the role to write instead).
ROLES_NAMED_ELSEWHERE = {
    "function": ("OpenAI's older name for a tool's reply", "tool"),
    "ipython": ("Llama 3's name for a tool's reply", "tool"),
    "developer": ("OpenAI's newer name for the system turn", "system"),
    "model": ("Gemma's name for the assistant turn", "assistant"),
    "human": ("ShareGPT's name for the user turn", "user"),
    "gpt": ("ShareGPT's name for the assistant turn", "assistant"),
}


@dataclass
class Example:
    """One training or evaluation example, normalised to chat messages."""

    messages: list[dict[str, str]]
    """The conversation, as {"role": ..., "content": ...} dicts; empty for plain text."""
    file: str
    """The file the example came from, as the learner would write it."""
    line: int
    """Line number of the record in the file (1-based)."""
    index: int
    """Position of the record in the file (0-based), counting records, not lines."""
    text: str | None = None
    """Plain text, for the "text" format only."""
    meta: dict = field(default_factory=dict)
    """Every other key of the record (category, source, tags, answer, ...)."""
    fields: list[str] = field(default_factory=list)
    """The record field each message came from (e.g. "output", "messages[1].content"), so checks can name it."""

    @property
    def location(self) -> str:
        return where(self.file, self.line)

    def all_text(self) -> str:
        """Everything a model would read or write for this example, joined."""
        if self.text is not None:
            return self.text
        return "\n".join(message["content"] for message in self.messages)

    @property
    def prompt_messages(self) -> list[dict[str, str]]:
        """The conversation up to the final assistant answer."""
        return self.messages[:-1]

    @property
    def answer(self) -> str:
        """The final assistant answer (the reference when evaluating)."""
        return self.messages[-1]["content"] if self.messages else (self.text or "")


def require_conversations(examples: list[Example]) -> None:
    """Training and evaluation need roles (a question and the answer to learn): raise UserError at the first plain-text record."""
    for example in examples:
        if example.text is not None:
            raise UserError(
                f"{example.location}: plain-text records cannot train a chat model; "
                'write them as {"messages": [...]} or {"prompt": ..., "completion": ...}.'
            )


MAX_ERRORS_LISTED = 20  # broken records named in one error message; the rest are counted
MAX_NESTING = 100  # levels of [ ] and { }: real records need fewer than 10, and far deeper ones crash Python's recursion


def load_examples(
    path: str | Path, data_format: str = "auto", display_name: str | None = None, from_settings: bool = False
) -> list[Example]:
    """Read a JSONL or JSON-array file and normalise every record.

    Raises one UserError naming the file, line and field of every broken record (the first 20 of them),
    so a learner fixes them all in one go. `from_settings`: `data_format` is the learner's [data] format.
    """
    name = display_name or str(path)
    if not Path(path).is_file():
        raise UserError(f"{name}: file not found; check the path in project.toml [data].")
    records, errors = _read(Path(path), name)
    examples = []
    if records:
        try:
            if data_format == "auto":
                chosen, how = detect_format(records[0][1], name, records[0][0]), "detected from the first record"
            elif from_settings:
                chosen, how = require_set_format(records[0][1], data_format, name, records[0][0]), "[data] format"
            else:
                chosen, how = data_format, "the only format this step reads"
        except UserError as error:
            errors.append((records[0][0], str(error)))
            records = []  # every record would fail the same way: one message says it
        for index, (line, record) in enumerate(records):
            try:
                examples.append(_normalise(record, chosen, name, line, index, how))
            except UserError as error:
                errors.append((line, str(error)))
    _raise_if_any(name, errors)
    return examples


def read_records(path: str | Path, display_name: str | None = None) -> list[tuple[int, dict]]:
    """(line, record) for every JSON object in a JSONL or JSON-array file, whatever its format.

    Raises UserError naming the file and line of every piece of invalid JSON, or of text that is not UTF-8.
    """
    name = display_name or str(path)
    records, errors = _read(Path(path), name)
    _raise_if_any(name, errors)
    return records


def _read(path: Path, name: str) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """The readable records, and (line, message) for each unreadable one."""
    _refuse_other_file_kinds(path, name)
    text = read_learner_text(path, name)
    if text.lstrip().startswith("["):
        return _array_records(text, name)
    records, errors = _jsonl_records(text, name)
    spread = _record_spread_over_lines(text) if errors else None
    if spread:  # every line of it would be an error of its own: one sentence says what happened instead
        first, last, break_in_text = spread
        if break_in_text:  # an Enter inside a text: a JSON array would refuse it too
            return [], [(first, (
                f"{where(name, first)}: a line break inside a text of the record on lines {first}-{last} (an Enter pressed "
                "while typing), which JSON does not allow; join its lines into one, writing \\n where the text should "
                "break."))]  # fmt: skip
        return [], [(first, (
            f"{where(name, first)}: a record spread over lines {first}-{last} (as an editor's \"Format document\" or a chat "
            "window writes JSON), but a .jsonl file holds each record on one line; put each record on one line, or make "
            'the file a JSON array: "[" before the first record, a comma between records and "]" after the last.'))]  # fmt: skip
    return records, errors


LFS_POINTER = b"version https://git-lfs.github.com/spec/"  # how every Git LFS pointer file starts


def _refuse_other_file_kinds(path: Path, name: str) -> None:
    """One sentence for a file that is not JSON text at all, saying what it is: else each line of a CSV file
    would be "not valid JSON", and a Parquet file or an Excel workbook "not valid UTF-8 text"."""
    with path.open("rb") as handle:
        start = handle.read(64)
    convert = (
        f"convert it to JSON Lines with `python -c \"import pandas as pd; pd.{{reader}}('{name}'{{options}}).to_json("
        f"'{Path(name).with_suffix('.jsonl').as_posix()}', orient='records', lines=True, force_ascii=False)\"` "
        "and point project.toml at the .jsonl file"
    )
    if start.startswith(LFS_POINTER):  # Git LFS keeps the data elsewhere; GitHub's checkout does not fetch it
        raise UserError(
            f"{where(name, 1)}: a Git LFS pointer, not the data: Git LFS keeps this file's content elsewhere (a clone "
            "of a Hub dataset made without git-lfs gives such files), and the GitHub workflows do not download it; put "
            "the real file here (the Hub's download button, or `git lfs pull` in the clone it came from), and if this "
            "repository's .gitattributes sends the file to LFS, delete that line and commit .gitattributes with it."
        )
    if start.startswith(b"PAR1"):  # the magic bytes of every Parquet file (the Hub's datasets are often Parquet)
        raise UserError(
            f"{where(name, 1)}: a Parquet file, but this template reads JSON Lines text (one JSON object per line); "
            + convert.format(reader="read_parquet", options="") + "."
        )
    if start.startswith(b"PK\x03\x04"):  # a ZIP archive: an Excel .xlsx or LibreOffice .ods workbook is one
        raise UserError(
            f"{where(name, 1)}: a ZIP archive (an Excel or LibreOffice workbook is one), but this template reads JSON "
            'Lines text; save the sheet as "CSV UTF-8", with the columns prompt and completion, point project.toml at '
            "the .csv file and run `python -m scripts validate`: it then says how to convert it."
        )
    if path.suffix.lower() in (".csv", ".tsv") and not start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        # Every cell as text, as written: else 1990 becomes a number and an empty cell (or "NA", Namibia's code) null.
        options = ", dtype=str, keep_default_na=False" + (", sep='\\t'" if path.suffix.lower() == ".tsv" else "")
        raise UserError(
            f"{where(name, 1)}: a {path.suffix[1:].upper()} table, but this template reads JSON Lines text (one JSON "
            "object per line); name its columns prompt and completion (or instruction and output), then "
            + convert.format(reader="read_csv", options=options) + "."
        )


def _record_spread_over_lines(text: str) -> tuple[int, int, bool] | None:
    """(first line, last line, whether a line break is inside a text) of the first JSON object that spans several
    lines, read from the top of the file object after object; None when none does before the first thing that is
    not a JSON object."""
    decoder = json.JSONDecoder(strict=False)  # also across an Enter pressed inside a text, which JSON itself refuses
    position = _skip_space(text, 0)
    while position < len(text) and text[position] == "{":
        try:
            _, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            return None
        first, last = text.count("\n", 0, position) + 1, text.count("\n", 0, end) + 1
        if last > first:
            return first, last, not _strict_json(text, position)
        position = _skip_space(text, end)
    return None


def _strict_json(text: str, position: int) -> bool:
    """Whether the JSON object at `position` is valid JSON as written (no raw line break inside a text)."""
    try:
        json.JSONDecoder().raw_decode(text, position)
        return True
    except (json.JSONDecodeError, RecursionError):
        return False


def _raise_if_any(name: str, errors: list[tuple[int, str]]) -> None:
    """One sentence for one broken record; a list, in line order, for several."""
    if not errors:
        return
    messages = [message for _, message in sorted(errors, key=lambda error: error[0])]
    if len(messages) == 1:
        raise UserError(messages[0])
    listed = "\n".join(f"  {message}" for message in messages[:MAX_ERRORS_LISTED])
    more = len(messages) - MAX_ERRORS_LISTED
    rest = f"\n  ... and {more} more (fix these and run the command again to see them)" if more > 0 else ""
    raise UserError(f"{name}: {len(messages)} records cannot be read; fix each line below, then run the command again:\n{listed}{rest}")


def detect_format(record: dict, name: str, line: int) -> str:
    """Name the format whose identifying keys the record has."""
    for data_format, keys in FORMAT_KEYS.items():
        if all(key in record for key in keys):
            return data_format
    found = ", ".join(sorted(record)) or "none"
    raise UserError(
        f"{where(name, line)}: cannot tell the record format from its keys ({found}); "
        'use "messages", "prompt"/"completion", "instruction"/"output", "conversations" or "text", '
        "or set [data] format in project.toml."
    )


def require_set_format(record: dict, data_format: str, name: str, line: int) -> str:
    """`data_format` when the file's first record has its keys; else one UserError for the whole file.

    [data] format applies to the train and the eval file, so a learner who sets it for an alpaca train file
    and keeps the eval file in messages would otherwise get one "missing" line per eval record.
    """
    if all(key in record for key in FORMAT_KEYS[data_format]):
        return data_format
    if data_format == "text":  # rewriting the file as plain text would not help: it cannot train a chat model
        raise UserError(
            f'{where(name, line)}: project.toml [data] format = "text" reads records as plain text without roles, which '
            'cannot train a chat model; write format = "auto" to detect each file\'s format.'
        )
    try:
        shape = f'in the "{detect_format(record, name, line)}" format'
    except UserError:
        shape = f"with the keys {', '.join(sorted(record)) or 'none'}"
    raise UserError(
        f'{where(name, line)}: project.toml [data] format = "{data_format}" is for both the train and the eval file '
        f"and needs {' and '.join(FORMAT_KEYS[data_format])} in every record, but this file's records are {shape}; "
        'write format = "auto" to detect each file\'s format, or rewrite this file in that format.'
    )


def _jsonl_records(text: str, name: str):
    """(line number, record) for each line of a JSONL file, and (line number, message) for each broken one."""
    records, errors = [], []
    for number, line in enumerate(text_lines(text), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, _checked_record(json.loads(line), name, number)))
        except json.JSONDecodeError as error:
            errors.append((number, f"{where(name, number)}: not valid JSON ({_reason(error)}); " + (_likely_cause(error) or
                                   "each line must be one complete JSON object, with double quotes around keys and text.")))
        except RecursionError:  # json parses nested brackets recursively: thousands of them overflow its stack
            errors.append((number, _too_deep(name, number)))
        except UserError as error:
            errors.append((number, str(error)))
    return records, errors  # fmt: skip


def _array_records(text: str, name: str):
    """(line number, record) for each element of a JSON array, and (line number, message) for each broken one.

    After a broken element, reading goes on at the next line that starts a record the way the
    first one does (a "{" indented no deeper), so one run names every broken record.
    """
    decoder = json.JSONDecoder()
    records, errors = [], []
    position = text.index("[") + 1
    record_column = None  # how far the first record's "{" is from the start of its line
    while True:
        position = _skip_space(text, position)
        if position >= len(text):
            if not errors:  # else the text after a broken record ran out while looking for the next one
                last = text.rstrip().count("\n") + 1
                errors.append((last, f"{where(name, last)}: the array never ends; add ] after the last record."))
            break
        if text[position] == "]":
            break
        line = text.count("\n", 0, position) + 1
        if record_column is None:
            record_column = position - (text.rfind("\n", 0, position) + 1)
        try:
            record, position = decoder.raw_decode(text, position)
            records.append((line, _checked_record(record, name, line)))
        except json.JSONDecodeError as error:
            errors.append((error.lineno, f"{where(name, error.lineno)}: not valid JSON ({_reason(error)}); " + (_likely_cause(error) or
                                         "check for a missing comma, quote or bracket near there.")))
            position = _next_record_start(text, error.pos, record_column)
            continue
        except RecursionError:
            errors.append((line, _too_deep(name, line)))
            position = _next_record_start(text, position, record_column)
            continue
        except UserError as error:
            errors.append((line, str(error)))
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            line = text.count("\n", 0, position) + 1
            errors.append((line, f"{where(name, line)}: expected a comma or ] after the record; add the missing comma."))
            if position >= len(text) or text[position] != "{":
                break  # not a missing comma between two records: nothing more can be read reliably
    return records, errors  # fmt: skip


def _reason(error: json.JSONDecodeError) -> str:
    # Some of json's messages end in "at" ("Unterminated string starting at"): one "at" is enough.
    return f"{error.msg.removesuffix(' at')} at column {error.colno}"


CURLY_QUOTES = "“”„‘’"  # what word processors and chat apps type for " and '


def _likely_cause(error: json.JSONDecodeError) -> str | None:
    """The usual beginner's cause of a JSON error, when the character it stopped at shows it; else None."""
    at = error.doc[error.pos : error.pos + 1]
    before = error.doc[: error.pos].rstrip()[-1:]
    if at and at in CURLY_QUOTES:
        return f'"{at}" is a curly quote, which JSON does not accept around keys and text; type straight double quotes (").'
    if at == "'":
        return "JSON needs double quotes around keys and text, not single quotes (a Python dict printed as it is has those: write records with json.dumps)."
    if at in ("}", "]") and before == ",":
        return f"remove the comma before {at}: JSON allows no comma after the last item."
    return None


def _next_record_start(text: str, after: int, record_column: int) -> int:
    """The position of the next "{" that starts a line at most `record_column` deep; the end of the text if none."""
    line_start = text.find("\n", after)
    while line_start != -1:
        line_start += 1
        indent = len(text[line_start:]) - len(text[line_start:].lstrip(" \t"))
        if indent <= record_column and text.startswith("{", line_start + indent):
            return line_start + indent
        line_start = text.find("\n", line_start)
    return len(text)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _checked_record(record, name: str, line: int) -> dict:
    """The record, if it is a JSON object that later steps can handle."""
    if not isinstance(record, dict):
        raise UserError(f"{where(name, line)}: each record must be a JSON object {{...}}, not {type(record).__name__}.")
    if _deeper_than(record, MAX_NESTING):
        raise UserError(_too_deep(name, line))  # pickling or copying it later would overflow Python's recursion
    return record


def _too_deep(name: str, line: int) -> str:
    return (
        f"{where(name, line)}: nested more than {MAX_NESTING} levels deep ([[[... or {{\"a\": {{\"a\": ...); "
        "a record is one object of text fields and short lists, so remove the extra brackets."
    )


def _deeper_than(value, limit: int) -> bool:
    """True when lists and objects inside `value` go more than `limit` levels deep (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _normalise(record: dict, data_format: str, name: str, line: int, index: int, how: str) -> Example:
    keys = FORMAT_KEYS[data_format]
    for key in keys:
        if key not in record:
            raise UserError(
                f'{where(name, line, key)}: missing; every record in this file is in the "{data_format}" '
                f"format ({how}), which needs {' and '.join(keys)}."
            )
    convert = {
        "messages": _from_messages,
        "sharegpt": _from_sharegpt,
        "alpaca": _from_alpaca,
        "prompt_completion": _from_prompt_completion,
        "text": _from_text,
    }[data_format]
    messages, text, used = convert(record, name, line)
    meta = {key: value for key, value in record.items() if key not in used}
    _refuse_dropped_system(meta, used, name, line)
    _refuse_misspelt_keys(meta, used, name, line)
    fields = _message_fields(record, data_format, len(messages))
    return Example(messages=messages, file=name, line=line, index=index, text=text, meta=meta, fields=fields)


# Keys the steps read besides each format's own: evaluate scores a reply by `answer` (the key fact), validate's
# balance checks and the card group examples by `category` and `tags`, and `language` names an example's language.
READ_KEYS = ("answer", "category", "tags", "language")
WHAT_IS_LOST = {
    "answer": "evaluate would score the whole reference answer instead of this key fact",
    "category": "results and the balance check would not see this example's topic",
    "tags": "the balance check would not see these tags",
    "language": "the language would be guessed instead",
}


def _refuse_dropped_system(meta: dict, used: set[str], name: str, line: int) -> None:
    """A record-level "system" beside "messages" would be dropped (ShareGPT and alpaca records have one that is read)."""
    if "system" in meta and "messages" in used:
        raise UserError(
            f'{where(name, line, "system")}: a "messages" record has no separate system prompt, so this one would be '
            'ignored; move it into messages as the first turn, {"role": "system", "content": "..."}.'
        )


def _refuse_misspelt_keys(meta: dict, used: set[str], name: str, line: int) -> None:
    """A key one letter (or only case) away from a key the steps read is a typo: kept, but never read, so silently lost."""
    known = used | set(READ_KEYS)
    for key in [key for key in meta if key not in known]:
        meant = next((word for word in sorted(known) if _one_typo_apart(key, word)), None)
        if meant:
            lost = WHAT_IS_LOST.get(meant, "the steps would leave this text out")
            raise UserError(
                f'{where(name, line, key)}: not a key this template reads, so {lost}; rename it "{meant}" '
                "(keys are case-sensitive)."
            )


@functools.lru_cache(maxsize=4096)  # a file repeats the same few keys on every record: compare each pair once
def _one_typo_apart(key: str, word: str) -> bool:
    """"Answer", "anwser", "answers", "tag", "Categories": one edit (or a swap of neighbours) from `word`, ignoring case."""
    key = key.lower().replace("_", "").replace("-", "").replace(" ", "")
    if key.endswith("ies") and key[:-3] + "y" == word:  # categories -> category
        return True
    return _edit_distance(key, word) <= 1


def _edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbouring letters that turn a into b.

    Written here because the standard library has no edit distance: difflib's similarity ratio depends on
    length (one wrong letter, "tog" for "tag", scores 0.67, as low as "lang" for "language"), and a
    dependency for twelve lines is not worth it.
    """
    if abs(len(a) - len(b)) > 1:
        return 2  # more than one apart: the only answer the caller needs
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
    return current[len(b)]


def _message_fields(record: dict, data_format: str, count: int) -> list[str]:
    """Name the record field behind each of the `count` normalised messages."""
    if data_format == "messages":
        return [f"messages[{number}].content" for number in range(count)]
    system = ["system"] if record.get("system") else []
    if data_format == "sharegpt":
        return system + [f"conversations[{number}].value" for number in range(count - len(system))]
    if data_format == "alpaca":
        pairs = range(len(record.get("history") or []))
        history = [f"history[{number}][{side}]" for number in pairs for side in (0, 1)]
        return system + history + ["instruction", "output"]
    if data_format == "prompt_completion" and isinstance(record["prompt"], list):
        prompt = [f"prompt[{number}].content" for number in range(len(record["prompt"]))]
        return prompt + [f"completion[{number}].content" for number in range(count - len(prompt))]
    if data_format == "prompt_completion":
        return ["prompt", "completion"]
    return []  # text: no messages; the field is "text"


def _text_field(value, name: str, line: int, field_name: str, allow_empty: bool = True) -> str:
    """Return a string field, or raise naming the field when it is not text."""
    if isinstance(value, str):
        return value
    if value is None and allow_empty:
        return ""
    raise UserError(f"{where(name, line, field_name)}: must be text in double quotes, not {type(value).__name__}.")


def _content(value, name: str, line: int, field_name: str) -> str:
    """A message's content: a string, or a list of text parts joined together."""
    if isinstance(value, list):
        texts = []
        for number, part in enumerate(value):
            part_name = f"{field_name}[{number}]"
            if not isinstance(part, dict):
                raise UserError(f'{where(name, line, part_name)}: each part must be an object like {{"type": "text", "text": "..."}}.')
            if part.get("type", "text") != "text":
                raise UserError(
                    f'{where(name, line, part_name)}: part type "{part.get("type")}" is not supported; '
                    "only text parts can train a text model."
                )
            # OpenAI writes {"text": ...}; LLaMA-Factory writes {"value": ...}.
            key = "text" if "text" in part else "value"
            texts.append(_text_field(part.get(key), name, line, f"{part_name}.{key}", allow_empty=False))
        return "".join(texts)
    return _text_field(value, name, line, field_name)


def _from_messages(record, name, line):
    messages = record["messages"]
    if not isinstance(messages, list):
        raise UserError(f'{where(name, line, "messages")}: must be a list of {{"role": ..., "content": ...}} objects.')
    result = []
    for number, message in enumerate(messages):
        label = f"messages[{number}]"
        if not isinstance(message, dict):
            raise UserError(f'{where(name, line, label)}: must be an object like {{"role": "user", "content": "..."}}.')
        role = message.get("role")
        if role not in CHAT_ROLES:
            whose, meant = ROLES_NAMED_ELSEWHERE.get(role, (None, None)) if isinstance(role, str) else (None, None)
            fix = f'it is {whose}, so write "{meant}"' if meant else "fix the spelling"
            raise UserError(f'{where(name, line, label + ".role")}: role {role!r} is not one of {", ".join(CHAT_ROLES)}; {fix}.')
        if "content" not in message:
            raise UserError(f'{where(name, line, label + ".content")}: missing; add "content": "..." to this message.')
        content = _content(message["content"], name, line, label + ".content")
        if not content and message.get("tool_calls"):
            content = json.dumps(message["tool_calls"], ensure_ascii=False)
        result.append({"role": role, "content": content})
    return result, None, {"messages"}


def _from_sharegpt(record, name, line):
    turns = record["conversations"]
    if not isinstance(turns, list):
        raise UserError(f'{where(name, line, "conversations")}: must be a list of {{"from": ..., "value": ...}} objects.')
    messages = []
    if record.get("system"):
        messages.append({"role": "system", "content": _text_field(record["system"], name, line, "system")})
    for number, turn in enumerate(turns):
        label = f"conversations[{number}]"
        if not isinstance(turn, dict):
            raise UserError(f'{where(name, line, label)}: must be an object like {{"from": "human", "value": "..."}}.')
        speaker = turn.get("from")
        if speaker not in SHAREGPT_ROLES:
            raise UserError(
                f'{where(name, line, label + ".from")}: {speaker!r} is not one of {", ".join(SHAREGPT_ROLES)}; fix the spelling.'
            )
        content = _text_field(turn.get("value"), name, line, label + ".value")
        messages.append({"role": SHAREGPT_ROLES[speaker], "content": content})
    return messages, None, {"conversations", "system"}


def _from_alpaca(record, name, line):
    instruction = _text_field(record["instruction"], name, line, "instruction")
    extra_input = _text_field(record.get("input"), name, line, "input")
    output = _text_field(record["output"], name, line, "output")
    messages = []
    if record.get("system"):
        messages.append({"role": "system", "content": _text_field(record["system"], name, line, "system")})
    for number, pair in enumerate(record.get("history") or []):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise UserError(f'{where(name, line, f"history[{number}]")}: must be a [question, answer] pair.')
        messages.append({"role": "user", "content": _text_field(pair[0], name, line, f"history[{number}][0]")})
        messages.append({"role": "assistant", "content": _text_field(pair[1], name, line, f"history[{number}][1]")})
    user = f"{instruction}\n\n{extra_input}" if extra_input.strip() else instruction
    messages.append({"role": "user", "content": user})
    messages.append({"role": "assistant", "content": output})
    return messages, None, {"instruction", "input", "output", "system", "history"}


def _from_prompt_completion(record, name, line):
    prompt, completion = record["prompt"], record["completion"]
    if isinstance(prompt, list):  # conversational prompt/completion, as TRL accepts
        prompt_messages, _, _ = _from_messages({"messages": prompt}, name, line)
        completion_messages, _, _ = _from_messages({"messages": completion}, name, line)
        return prompt_messages + completion_messages, None, {"prompt", "completion"}
    messages = [
        {"role": "user", "content": _text_field(prompt, name, line, "prompt")},
        {"role": "assistant", "content": _text_field(completion, name, line, "completion")},
    ]
    return messages, None, {"prompt", "completion"}


def _from_text(record, name, line):
    return [], _text_field(record["text"], name, line, "text"), {"text"}


def load_split(cfg, split: str) -> list[Example]:
    """Load the "train" or "eval" file named in project.toml [data]."""
    relative = getattr(cfg.data, split)
    return load_examples(cfg.path(relative), cfg.data.format, display_name=relative, from_settings=True)
