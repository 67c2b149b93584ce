"""The two kinds of failure a learner can meet, and how the CLI reports them.

Exit codes used by every step (see docs/design.md):
  0  success
  1  checks failed (the report says which and where)
  2  bad input or usage (one clear sentence naming file, line, field and the fix)
"""

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_BAD_INPUT = 2


class UserError(Exception):
    """A mistake in the learner's files or command line.

    The message is shown as-is, without a traceback, so it must be one sentence
    that says where the problem is and how to fix it.
    """


def where(path, line=None, field=None) -> str:
    """Format a location like `datasets/train.jsonl:12 field "messages"`."""
    text = str(path)
    if line is not None:
        text += f":{line}"
    if field:
        text += f' field "{field}"'
    return text
