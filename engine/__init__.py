"""Climber-Pilot engine: the public API the app (and the CLI) use.

>>> from engine import Recommender, Instruction, load_dataset
>>> rec = Recommender.load("assets/climber_pilot.pt", load_dataset("sample_data/lastfm"))
>>> cmp = rec.compare(rec.user_history(2), Instruction(genres={"rock"}), k=10)

Nothing here imports Streamlit; dependencies point one way (app → engine).
"""

from engine.core.instructions import EXPLICIT_POLICIES, Instruction
from engine.data import schema
from engine.data.io import load_dataset
from engine.errors import (
    CheckpointError,
    DataError,
    DeviceError,
    DistributedError,
    EngineError,
    HistoryError,
    InstructionError,
)
from engine.serving.recommender import (
    AutoResult,
    Comparison,
    Explanation,
    History,
    Recommender,
    RecResult,
)
from engine.serving.retrieval import METHOD_LABELS, METHODS

__all__ = [
    "AutoResult",
    "CheckpointError",
    "Comparison",
    "DataError",
    "DeviceError",
    "DistributedError",
    "EXPLICIT_POLICIES",
    "EngineError",
    "Explanation",
    "History",
    "HistoryError",
    "Instruction",
    "InstructionError",
    "METHODS",
    "METHOD_LABELS",
    "RecResult",
    "Recommender",
    "load_dataset",
    "schema",
]
