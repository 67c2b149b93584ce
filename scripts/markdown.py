"""Text made safe for the markdown the steps write (reports, cards, pull-request bodies)."""

from __future__ import annotations


def one_line(text) -> str:
    """The text with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())


def table_cell(text, limit: int | None = None, empty: str = "(empty)") -> str:
    """Text safe inside a markdown table cell: one line, `|` escaped, cut to `limit` characters."""
    text = one_line(text).replace("|", "\\|")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or empty
