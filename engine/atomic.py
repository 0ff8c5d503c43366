"""Atomic file writes: a temporary file in the target's folder, renamed over the target.

A foundation module (no engine imports). A killed process leaves the old file or the new
one, never half of either; each writer gets its own temporary name, so two never collide.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def temporary(folder: Path, name: str) -> Path:
    """A new empty file beside ``folder/name`` with a unique name (mode 0600 until renamed)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def atomic_write(path: str | Path, write: Callable[[Path], None], mode: int = 0o644) -> Path:
    """``write(tmp)`` fills a temporary file, which then replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path.parent, path.name)
    try:
        write(tmp)
        os.chmod(tmp, mode)  # mkstemp makes 0600; these files are meant to be shared
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, payload: dict) -> Path:
    return write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
