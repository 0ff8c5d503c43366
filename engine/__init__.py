"""Climber-Pilot engine: the public API the app (and the CLI) use.

>>> from engine import Recommender, Instruction, load_dataset
>>> rec = Recommender.load("assets/climber_pilot.pt", load_dataset("sample_data/lastfm"))
>>> cmp = rec.compare(rec.user_history(2), Instruction(genres={"rock"}), k=10)

Nothing here imports Streamlit; dependencies point one way (app → engine). The names are
resolved lazily (PEP 562): ``import engine.data.schema`` does not load torch or FAISS;
the first use of ``engine.Recommender`` does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name → the module that defines it
_SOURCES = {
    "EXPLICIT_POLICIES": "engine.core.instructions",
    "Instruction": "engine.core.instructions",
    "load_dataset": "engine.data.io",
    "CheckpointError": "engine.errors",
    "DataError": "engine.errors",
    "DeviceError": "engine.errors",
    "DistributedError": "engine.errors",
    "EngineError": "engine.errors",
    "HistoryError": "engine.errors",
    "InstructionError": "engine.errors",
    "AutoResult": "engine.serving.recommender",
    "Comparison": "engine.serving.recommender",
    "Explanation": "engine.serving.recommender",
    "History": "engine.serving.recommender",
    "Recommender": "engine.serving.recommender",
    "RecResult": "engine.serving.recommender",
    "ArtistIndex": "engine.serving.artists",
    "search_artists": "engine.serving.artists",
    "describe_atoms": "engine.serving.ask",
    "parse_instruction": "engine.serving.ask",
    "METHOD_LABELS": "engine.serving.retrieval",
    "METHODS": "engine.serving.retrieval",
}
_MODULES = {"schema": "engine.data.schema", "evidence": "engine.bench.evidence"}

__all__ = sorted([*_SOURCES, *_MODULES])

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time the names load on first use
    from engine.bench import evidence  # noqa: F401
    from engine.core.instructions import EXPLICIT_POLICIES, Instruction  # noqa: F401
    from engine.data import schema  # noqa: F401
    from engine.data.io import load_dataset  # noqa: F401
    from engine.errors import (  # noqa: F401
        CheckpointError,
        DataError,
        DeviceError,
        DistributedError,
        EngineError,
        HistoryError,
        InstructionError,
    )
    from engine.serving.artists import ArtistIndex, search_artists  # noqa: F401
    from engine.serving.ask import describe_atoms, parse_instruction  # noqa: F401
    from engine.serving.recommender import (  # noqa: F401
        AutoResult,
        Comparison,
        Explanation,
        History,
        Recommender,
        RecResult,
    )
    from engine.serving.retrieval import METHOD_LABELS, METHODS  # noqa: F401


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
    else:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    globals()[name] = value  # cached: the next access is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
