"""project.schema.json: a JSON Schema for project.toml, generated from the settings dataclasses in config.py.

    python -m scripts.schema           # rewrite project.schema.json after changing a setting
    python -m scripts.schema --check   # exit 1 when the committed schema differs from the dataclasses

project.toml's first line, `#:schema ./project.schema.json`, points editors at it: VS Code with
Even Better TOML (and a Codespace, which installs it from .devcontainer/) then completes keys,
shows each field's docstring, and marks a wrong type, a value out of range or an unknown key as
you type. The checks that count stay in config.py, which `load_settings` runs on every step.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Literal

from .config import SECTIONS, field_docs

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "project.schema.json"
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def field_schema(hint, metadata) -> dict:
    """The JSON Schema of one field's type, with its range or choices."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # e.g. a list of layer names, or "all-linear"
        return {"anyOf": [field_schema(choice, metadata) for choice in typing.get_args(hint)]}
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin is list:
        schema = {"type": "array", "items": field_schema(typing.get_args(hint)[0], {})}
        return {**schema, "minItems": 1} if "not_empty" in metadata else schema
    schema = {"type": JSON_TYPES[hint]}
    if hint is str and "not_empty" in metadata:
        schema["minLength"] = 1
    if "range" in metadata:
        schema["minimum"], schema["maximum"] = metadata["range"]
    return schema


def default_of(item: dataclasses.Field):
    return item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default


def section_schema(cls: type) -> dict:
    hints, docs = typing.get_type_hints(cls), field_docs(cls)
    properties = {
        item.name: {"description": docs[item.name], **field_schema(hints[item.name], item.metadata), "default": default_of(item)}
        for item in dataclasses.fields(cls)
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def project_schema() -> dict:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "project.toml",
        "description": "The learner's settings file; generated from scripts/config.py by `python -m scripts.schema`.",
        "type": "object",
        "properties": {name: section_schema(cls) for name, cls in SECTIONS.items()},
        "additionalProperties": False,
    }


def schema_text() -> str:
    return json.dumps(project_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if SCHEMA_FILE.is_file() and SCHEMA_FILE.read_text(encoding="utf-8") == schema_text():
            return 0
        print(f"{SCHEMA_FILE.name} differs from the settings in scripts/config.py; run `python -m scripts.schema` and commit it.")
        return 1
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"Wrote {SCHEMA_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
