"""Two file helpers every step shares: hashing, and swapping a finished folder into place."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


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
