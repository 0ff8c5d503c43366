"""Instructions: a composed condition as a predicate over item attributes (method §4).

Category values are normalised (stripped, lower-cased) as the instruction is made.
An instruction is a conjunction of *atoms*; each atom allows a set of values of one
categorical attribute (``genre ∈ {rock}``, ``language = en``, ``explicit ∈ {false,
unknown}``). Policy rules are atoms too, so CGSA can see them as condition tokens,
while blocked artists and exclude-heard are hard filters only (they name items, not
categories). The same predicate drives the CGSA mask, the hard filter and CC@K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from engine.data.schema import ERA, EXPLICIT, GENRE, ITEM_ID, LANGUAGE, POPULARITY, UNKNOWN
from engine.errors import InstructionError

ExplicitPolicy = Literal["allow", "exclude_known", "exclude_unknown"]
EXPLICIT_POLICIES: tuple[str, ...] = ("allow", "exclude_known", "exclude_unknown")

# The attribute values each explicit policy lets through.
_EXPLICIT_ALLOWED = {
    "allow": None,
    "exclude_known": frozenset({"false", UNKNOWN}),
    "exclude_unknown": frozenset({"false"}),
}


@dataclass(frozen=True)
class Instruction:
    """What the user asks for. Empty sets mean "no constraint" on that attribute."""

    genres: frozenset[str] = field(default_factory=frozenset)
    languages: frozenset[str] = field(default_factory=frozenset)
    explicit: ExplicitPolicy = "allow"
    popularity: frozenset[str] = field(default_factory=frozenset)
    eras: frozenset[str] = field(default_factory=frozenset)
    blocked_items: frozenset[int] = field(default_factory=frozenset)
    # Leave out what the listener already heard, in every list, unless asked otherwise: a list of
    # the history's own artists is no recommendation (RecTools' ``filter_viewed`` default too).
    exclude_heard: bool = True

    def __post_init__(self) -> None:
        for name in ("genres", "languages", "popularity", "eras", "blocked_items"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = {value}
            if name != "blocked_items":  # " Rock " and "ROCK" ask for the data's "rock"; "r&b/soul" stays
                value = {_normal(v) for v in value}
            object.__setattr__(self, name, frozenset(value))
        if self.explicit not in EXPLICIT_POLICIES:
            raise InstructionError(
                f"unknown explicit policy {self.explicit!r}",
                f"use one of {', '.join(EXPLICIT_POLICIES)}",
            )

    def atoms(self) -> dict[str, frozenset[str]]:
        """The category atoms (attribute → allowed values), in a fixed order."""
        out: dict[str, frozenset[str]] = {}
        if self.genres:
            out[GENRE] = self.genres
        if self.languages:
            out[LANGUAGE] = self.languages
        allowed = _EXPLICIT_ALLOWED[self.explicit]
        if allowed is not None:
            out[EXPLICIT] = allowed
        if self.popularity:
            out[POPULARITY] = self.popularity
        if self.eras:
            out[ERA] = self.eras
        return out

    @property
    def is_empty(self) -> bool:
        return not self.atoms() and not self.blocked_items and self.exclude_heard

    @property
    def has_conditions(self) -> bool:
        """True when the instruction constrains categories (what CGSA conditions on)."""
        return bool(self.atoms())

    def describe(self) -> str:
        parts = [f"{a} ∈ {{{', '.join(sorted(v))}}}" for a, v in self.atoms().items()]
        if self.blocked_items:
            parts.append(f"{len(self.blocked_items)} blocked artist(s)")
        if not self.exclude_heard:
            parts.append("already heard allowed")
        return " ∧ ".join(parts) if parts else "no instruction"

    def to_dict(self) -> dict:
        return {
            "genres": sorted(self.genres),
            "languages": sorted(self.languages),
            "explicit": self.explicit,
            "popularity": sorted(self.popularity),
            "eras": sorted(self.eras),
            "blocked_items": sorted(int(i) for i in self.blocked_items),
            "exclude_heard": bool(self.exclude_heard),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Instruction:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise InstructionError(
                f"unknown instruction field(s): {', '.join(sorted(unknown))}",
                f"allowed fields: {', '.join(sorted(known))}",
            )
        return cls(**{k: (frozenset(v) if isinstance(v, list) else v) for k, v in d.items()})


def _normal(value: object) -> object:
    """Category values as the data spells them: stripped and lower-case (every prepared set's
    values are; ``prepare generic`` lower-cases its own). Inner spelling is kept."""
    return value.strip().lower() if isinstance(value, str) else value


def satisfies(items: pd.DataFrame, instruction: Instruction) -> np.ndarray:
    """Boolean array: which rows of ``items`` satisfy the category atoms and are not blocked."""
    ok = np.ones(len(items), dtype=bool)
    for attr, allowed in instruction.atoms().items():
        if attr not in items.columns:
            raise InstructionError(
                f"this catalogue has no '{attr}' attribute",
                "drop that part of the instruction",
            )
        ok &= items[attr].isin(allowed).to_numpy()
    if instruction.blocked_items:
        ok &= ~items[ITEM_ID].isin(instruction.blocked_items).to_numpy()
    return ok
