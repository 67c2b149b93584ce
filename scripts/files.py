"""File helpers every step shares: hashing, and writing a file or a folder completely or not at all."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import UserError, where


def read_learner_text(path: Path, name: str) -> str:
    """The text of a file the learner writes (project.toml, a data file), without a byte-order mark.

    A UserError naming the line when it is not UTF-8: Windows Notepad's "Unicode" is UTF-16, its "ANSI" a
    Windows code page; Python would stop with a traceback on either.
    """
    data = Path(path).read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # the byte-order marks of UTF-16
        raise UserError(
            f'{where(name, 1)}: saved as UTF-16 (what Windows Notepad calls "Unicode"), which this template cannot '
            'read; save it again with the encoding "UTF-8".'
        )
    try:
        return data.decode("utf-8-sig")  # -sig drops a UTF-8 byte-order mark
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UserError(
            f'{where(name, line)}: not valid UTF-8 text (an editor saved it in another encoding, such as Notepad\'s '
            '"ANSI"); save the file again with the encoding "UTF-8".'
        ) from None


def text_lines(text: str) -> list[str]:
    """The lines of a text as an editor numbers them: split at each line end (\\n, Windows' \\r\\n, old Macs' \\r).

    str.splitlines also splits at characters that JSON and TOML allow inside a string (U+2028 LINE SEPARATOR,
    U+0085, form feed), which text pasted from a web page or a PDF carries: it would cut a record in two and
    shift the number of every line after it.
    """
    return re.split(r"\r\n|\r|\n", re.sub(r"(\r\n|\r|\n)\Z", "", text)) if text else []


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks so big model files never sit in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def replace_folder(partial: Path, target: Path) -> None:
    """Put the finished folder `partial` where `target` is: readers see the old folder or the new one, never half."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(partial, target)
    shutil.rmtree(old, ignore_errors=True)


def save_figure(figure, path: Path) -> None:
    """Save a matplotlib figure as PNG completely or not at all (rendered in memory, then written atomically)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file completely or not at all: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, 0o644)  # mkstemp makes files private to this user; results are for everyone to read
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
