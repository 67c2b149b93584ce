"""Jinja syntax left in a rendered file: what the template itself leaves, not what a value says.

A learner's limitation may say "{{name}}", and a model's reply or an eval question may hold "{%": that
text must reach the card and the Space as written. What must not is a tag the template itself left
broken. So the check renders the template a second time with every printed value's markers broken
up (Jinja's `finalize` hook sees each value just before it is written): any marker still there came
from the template.
"""

from __future__ import annotations

MARKERS = ("{{", "{%", "{#")


def leftover_syntax(template, context: dict) -> tuple[int, str] | None:
    """(line, text of that line) of the first Jinja marker the template leaves when rendered with `context`; None if none."""
    checking = template.environment.overlay(finalize=_broken_up)  # an overlay keeps its own compiled templates
    text = checking.get_template(template.name).render(**context)
    for number, line in enumerate(text.splitlines(), start=1):
        if any(marker in line for marker in MARKERS):
            return number, line.strip()
    return None


def _broken_up(value):
    """A printed value with "{{", "{%" and "{#" broken up ("{ {"), so the check above does not count it."""
    if isinstance(value, str):
        for marker in MARKERS:
            value = value.replace(marker, f"{marker[0]} {marker[1]}")
    return value
