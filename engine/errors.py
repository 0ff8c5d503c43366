"""Typed errors of the engine.

Every error a user can trigger derives from :class:`EngineError` and carries a
message that names the problem and what to do about it, so the app (and the CLI)
can show it as a friendly message instead of a traceback.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class: a problem the user can act on. ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message if not hint else f"{message} — {hint}")
        self.message = message
        self.hint = hint


class DataError(EngineError):
    """A data file is missing, malformed or inconsistent (names file, row, problem)."""


class CheckpointError(EngineError):
    """A checkpoint is corrupt, of another format version, or for another catalogue."""


class HistoryError(EngineError):
    """A listening history the model cannot use (empty, unknown items, ...)."""


class InstructionError(EngineError):
    """An instruction that is malformed or that no catalogue item satisfies."""


class DeviceError(EngineError):
    """A device was requested that this machine does not have."""


class DistributedError(EngineError):
    """A multi-process (``torchrun``) launch that cannot work as asked."""
