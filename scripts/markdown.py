"""Text made safe for the markdown the steps write (reports, cards, pull-request bodies)."""

from __future__ import annotations

import re


def one_line(text) -> str:
    """The text with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())


def table_cell(text, limit: int | None = None, empty: str = "(empty)") -> str:
    """Text safe inside a markdown table cell: one line, `|` escaped, cut to `limit` characters."""
    text = one_line(text).replace("|", "\\|")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or empty


def quoted(text: str) -> str:
    """Learner data and model answers made inert in a GitHub comment or pull-request body.

    Markdown tables stay; HTML tags (tracking pixels, hidden text), images and @mentions (which notify
    whoever has that name) do not: the same three rules as the data report's comment (comment-report.yml).
    """
    no_tags = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)  # a tag, comment or <url> starts so; "p < 0.001" stays
    return no_tags.replace("![", "!\\[").replace("@", "@\u200b")
