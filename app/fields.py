"""The instruction's fields as the app uses them, derived from :class:`engine.Instruction` (one place).

The composer, the what-if page, the URL/JSON state and the summaries all read these, so a new
Instruction field reaches every one of them (a display label is the only thing to add here).
"""

from __future__ import annotations

from dataclasses import fields

from app.vocab import language_label
from engine import Instruction

FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Instruction))
# The fields holding a set of attribute values (genres, languages, popularity, eras) ...
VALUE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Instruction) if f.type == "frozenset[str]")
# ... and the catalogue attribute each constrains (genres → genre, eras → era, ...).
ATTRIBUTE_OF: dict[str, str] = {name: next(iter(Instruction(**{name: frozenset({"?"})}).atoms()))
                                for name in VALUE_FIELDS}
# Short names in links (``?blocked=1,2``); every other field keeps its own name.
QUERY_NAMES: dict[str, str] = {"blocked_items": "blocked"}
QUERY_KEYS: tuple[str, ...] = tuple(QUERY_NAMES.get(f, f) for f in FIELDS)

LABELS: dict[str, str] = {
    "genres": "Genre(s)", "languages": "Language(s)", "explicit": "Explicit content",
    "popularity": "Popularity tier", "eras": "Era", "blocked_items": "Blocked artists",
    "exclude_heard": "Exclude already heard",
}
# How a value field reads in the one-line summary: lead word, separator, value display.
SUMMARY = {"genres": ("genre", " or ", str), "languages": ("language", " or ", language_label),
           "popularity": ("popularity", "/", str), "eras": ("era", "/", str)}
assert set(LABELS) == set(FIELDS), f"app/fields.py: give the new Instruction field(s) a label: {set(FIELDS) - set(LABELS)}"
assert set(SUMMARY) == set(VALUE_FIELDS), "app/fields.py: say how the new value field reads in a summary"


def empty_instruction() -> dict:
    """The instruction that asks for nothing, in its dict form."""
    return Instruction().to_dict()
