"""Instructions in plain English: ``parse_instruction("clean 2000s hip-hop, nothing by Eminem", items)``.

The text is read left to right, matching the longest known phrase at each position
(:mod:`engine.serving.ask_words`): genres and their synonyms, languages (name, adjective,
endonym or ISO code), eras in any spelling, explicit policy, popularity, "new to me", and
negations. After a negation ("not", "no", "without", "except", "nothing by", …) the words
up to the next full stop, "but", "only", or a comma followed by a new request name
artists to block: an exact (normalised) full name wins, else the closest name for small
typos (rapidfuzz); collaboration entries crediting the artist are blocked with it.

Only values the catalogue has are produced. Nothing is dropped silently: what cannot be
expressed ("no rap": an instruction lists what to keep, it cannot exclude a genre), values
the catalogue lacks, approximations ("pop punk" → punk), typo matches and every word that
was not understood are returned as notes.
"""

from __future__ import annotations

import re

import pandas as pd

from engine.core.instructions import Instruction
from engine.data.schema import ERA, GENRE, LANGUAGE, POPULARITY, UNKNOWN
from engine.serving.artists import ArtistIndex, index_for
from engine.serving.ask_words import (
    AMBIGUOUS_CODES,
    APPROVALS,
    LANGUAGE_CONTEXT,
    LANGUAGE_WORDS,
    Meaning,
    Token,
    era_label,
    phrase_table,
    split,
)

_ATTR = {"genres": GENRE, "languages": LANGUAGE, "eras": ERA, "popularity": POPULARITY}
_TABLE = phrase_table()
_LONGEST = max(len(k) for k in _TABLE)
_YEAR = re.compile(r"^(19[0-9]{2}|20[0-3][0-9])$")
_CONTENT = frozenset({"genre", "language", "era", "explicit", "explicit_word", "popularity", "new", "positive"})
_BREAKS = frozenset({";", ".", "!", "?"})
_SOFT = frozenset({",", "/", "+"})


def parse_instruction(text: str, catalogue_items: pd.DataFrame | None = None, *,
                      index: ArtistIndex | None = None) -> tuple[Instruction, list[str]]:
    """An :class:`Instruction` from plain English, plus notes on everything not taken literally.

    ``catalogue_items`` is the items table (genre, language, era, popularity_tier, name):
    its values are the only ones produced and its names are what blocks are matched
    against (pass ``index`` to reuse a prepared :class:`ArtistIndex`).
    """
    if catalogue_items is None and index is None:
        raise ValueError("parse_instruction needs the catalogue's items table")
    return _Parser(catalogue_items, index).run(text)


def describe_atoms(instruction: Instruction, names: dict[int, str] | None = None) -> list[str]:
    """One line per part of an instruction, for people ("genre: hip-hop", "blocked: Eminem (#475)")."""
    d = instruction.to_dict()
    out = [f"{label}: {', '.join(d[f])}" for f, label in
           (("genres", "genre"), ("languages", "language"), ("eras", "era"), ("popularity", "popularity"))
           if d[f]]
    if d["explicit"] != "allow":
        out.append(f"explicit: {d['explicit']}")
    if d["blocked_items"]:
        out.append("blocked: " + ", ".join(f"{(names or {}).get(i, '?')} (#{i})" for i in d["blocked_items"]))
    if not d["exclude_heard"]:
        out.append("already heard allowed: yes")
    return out


class _Parser:
    def __init__(self, items: pd.DataFrame | None, index: ArtistIndex | None) -> None:
        self.index = index if index is not None else index_for(items)
        self.vocab = {f: (frozenset(items[a].astype(str).unique()) - {UNKNOWN}
                          if items is not None and a in items.columns else frozenset())
                      for f, a in _ATTR.items()}
        self.values: dict[str, list[str]] = {f: [] for f in _ATTR}
        self.explicit: tuple[str, str] | None = None  # (policy, the words that set it)
        self.blocked: dict[int, None] = {}
        self.exclude_heard = Instruction.exclude_heard  # the default: heard artists left out
        self.notes: list[str] = []
        self.unknown: list[str] = []

    # ------------------------------------------------------------------ matching

    def longest(self, toks: list[Token], i: int) -> tuple[int, Meaning | None]:
        for n in range(min(_LONGEST, len(toks) - i), 0, -1):
            m = _TABLE.get(tuple(t.norm for t in toks[i:i + n]))
            if m is not None:
                return n, m
        return 0, None

    def artist_at(self, toks: list[Token], i: int) -> tuple[int, list[int]]:
        """The longest span from ``i`` whose words are exactly a catalogue name: (length, rows)."""
        for n in range(min(8, len(toks) - i), 0, -1):
            span = toks[i:i + n]
            if any(t.norm in _BREAKS for t in span) or span[-1].norm in _SOFT or span[0].norm in _SOFT:
                continue
            rows = self.index.exact.get(" ".join(t.norm for t in span if t.norm not in (",", "/", "+")))
            if rows:
                return n, list(rows)
        return 0, []

    def code_at(self, toks: list[Token], i: int) -> str | None:
        t = toks[i]
        if t.norm not in LANGUAGE_WORDS and t.norm not in self.vocab["languages"]:
            return None
        if t.norm in AMBIGUOUS_CODES:
            context = i > 0 and toks[i - 1].norm in LANGUAGE_CONTEXT
            return t.norm if context or (t.text.isupper() and len(t.text) == 2) else None
        return t.norm

    # ------------------------------------------------------------------ the scan

    def run(self, text: str) -> tuple[Instruction, list[str]]:
        toks = split(text)
        i, neg, cue, last_era, pending_range = 0, False, "", None, False
        while i < len(toks):
            n, m = self.longest(toks, i)
            an, rows = self.artist_at(toks, i)
            if an > n and neg:
                self.block(rows, _words(toks[i:i + an]))
                i += an
                continue
            if an > n and (an > 1 or toks[i].text[:1].isupper()):
                self.artist_hint(toks[i:i + an], rows)
                i += an
                continue
            code = self.code_at(toks, i)
            if code and (m is None or (i > 0 and toks[i - 1].norm in LANGUAGE_CONTEXT) or toks[i].text.isupper()):
                m, n = Meaning("language", (("languages", code),)), 1
            if m is None and _YEAR.match(toks[i].norm):
                year = int(toks[i].norm)
                label = era_label(year // 10 * 10)
                m, n = Meaning("era", (("eras", str(year // 10 * 10)),),
                               f"'{year}' read as the {label or str(year // 10 * 10) + 's'} (eras are decades)"), 1
            if m is None:
                j = i + 1
                while j < len(toks) and self.longest(toks, j)[1] is None and not self.code_at(toks, j) \
                        and not _YEAR.match(toks[j].norm):
                    j += 1
                self.block_fuzzy(toks[i:j], cue) if neg else self.not_understood(toks[i:j])
                i = j
                continue
            words = _words(toks[i:i + n])
            kind = m.kind
            if kind == "stop" or kind == "positive":
                neg = False
            elif kind == "neg":
                neg, cue = True, words
            elif kind == "comma":
                if neg and self.starts_request(toks, i + 1):
                    neg = False
            elif kind == "range":
                pending_range = last_era is not None
            elif kind == "modifier":
                self.notes.append(f"'{words}' ignored: eras are whole decades")
            elif kind == "era":
                year = int(m.atoms[0][1])
                years = [year]
                if pending_range and last_era is not None:
                    step = 10 if year >= last_era else -10
                    years = list(range(last_era + step, year + step, step))
                self.add_era(years, words, neg, cue, m.note)
                last_era, pending_range = year, False
            elif kind in ("genre", "language", "popularity"):
                self.add_values(m, words, neg, cue)
            elif kind == "explicit":
                policy = m.atoms[0][1]
                if neg:
                    policy = "allow" if policy != "allow" else "exclude_known"
                self.set_explicit(policy, f"{cue} {words}" if neg else words)
            elif kind == "explicit_word":
                if neg:
                    self.set_explicit("exclude_known", f"{cue} {words}")
                else:
                    k = self.approval(toks, i + n)
                    if k:
                        self.set_explicit("allow", _words(toks[i:i + n + k]))
                        n += k
                    else:
                        self.notes.append(f"'{words}': an instruction cannot ask for explicit artists only; "
                                          "explicit content is allowed (the default)")
            elif kind == "heard":
                if neg:
                    self.exclude_heard = True
                else:
                    self.notes.append(f"'{words}': an instruction cannot keep only artists already heard; ignored")
            elif kind == "new":
                if neg:
                    self.notes.append(f"'{cue} {words}': cannot ask for only artists already heard; ignored")
                else:
                    self.exclude_heard = True
            i += n
        return self.result()

    def starts_request(self, toks: list[Token], i: int) -> bool:
        """After a comma in a negation: does a new request (not another artist to block) begin?"""
        while i < len(toks) and _TABLE.get((toks[i].norm,), Meaning("")).kind in ("filler", "conj"):
            i += 1
        if i >= len(toks):
            return False
        n, m = self.longest(toks, i)
        an, _ = self.artist_at(toks, i)
        return bool(m is not None and m.kind in _CONTENT and an <= n) or bool(self.code_at(toks, i))

    def approval(self, toks: list[Token], i: int) -> int:
        """"explicit [lyrics] is fine": how many tokens after ``i`` complete an approval (0 if none)."""
        for k in range(min(3, len(toks) - i)):
            if toks[i + k].norm in APPROVALS:
                return k + 1
            if toks[i + k].norm not in ("is", "are", "lyrics", "content", "totally", "perfectly", "be", "all"):
                return 0
        return 0

    # ------------------------------------------------------------------ effects

    def add_values(self, m: Meaning, words: str, neg: bool, cue: str) -> None:
        if neg and m.kind == "popularity":
            wanted = {v for _, v in m.atoms}
            keep = sorted(self.vocab["popularity"] - wanted)
            self.values["popularity"] += keep
            self.notes.append(f"'{cue} {words}' read as popularity {' or '.join(keep) or 'nothing'}")
            return
        if neg:
            what = {"genre": "a genre", "language": "a language"}[m.kind]
            self.notes.append(f"'{cue} {words}': an instruction cannot exclude {what} (it lists the ones to keep); "
                              "ignored")
            return
        for field, value in m.atoms:
            if value in self.vocab[field]:
                self.values[field].append(value)
            else:
                self.notes.append(f"'{words}': no {_ATTR[field].replace('_tier', '')} '{value}' in this "
                                  "catalogue; ignored")
        if m.note:
            self.notes.append(m.note)

    def add_era(self, years: list[int], words: str, neg: bool, cue: str, note: str) -> None:
        if neg:
            self.notes.append(f"'{cue} {words}': an instruction cannot exclude an era (it lists the ones to keep); "
                              "ignored")
            return
        for year in years:
            label = era_label(year)
            if label in self.vocab["eras"]:
                self.values["eras"].append(label)
            else:
                self.notes.append(f"'{words}': no artists from the {year}s in this catalogue; ignored"
                                  if len(years) == 1 else f"no artists from the {year}s in this catalogue")
        if note:
            self.notes.append(note)

    def set_explicit(self, policy: str, words: str) -> None:
        if self.explicit is not None and self.explicit[0] != policy:
            self.notes.append(f"'{words}' overrides '{self.explicit[1]}' (explicit: {policy})")
        self.explicit = (policy, words)

    def block(self, rows: list[int], words: str, score: float | None = None) -> None:
        ix = self.index
        extra = [r for row in rows for r in ix.collaborations(row) if r not in rows]
        for r in (*rows, *extra):
            self.blocked[int(ix.ids[r])] = None
        main = ", ".join(f"{ix.names[r]} (#{ix.ids[r]})" for r in rows)
        how = f" for '{words}' (closest name, similarity {score:.0f})" if score is not None else ""
        more = f" and {len(set(extra))} collaboration entr{'y' if len(set(extra)) == 1 else 'ies'} crediting them" \
            if extra else ""
        self.notes.append(f"blocked {main}{more}{how}")

    def block_fuzzy(self, toks: list[Token], cue: str) -> None:
        words = _words(toks)
        hit = self.index.closest(words)
        if hit is not None:
            self.block([hit[0]], words, hit[1])
        else:
            self.notes.append(f"'{cue} {words}': no artist in the catalogue matches '{words}'; nothing blocked")

    def artist_hint(self, toks: list[Token], rows: list[int]) -> None:
        words = _words(toks)
        self.notes.append(f"'{words}' is an artist ({self.index.names[rows[0]]}): an instruction can only block "
                          f"artists (say \"not {words}\"); add them to the history to hear more like them")

    def not_understood(self, toks: list[Token]) -> None:
        self.unknown += [t.text for t in toks if t.norm not in _SOFT]

    def result(self) -> tuple[Instruction, list[str]]:
        ins = Instruction(**{f: frozenset(v) for f, v in self.values.items()},
                          explicit=self.explicit[0] if self.explicit else "allow",
                          blocked_items=frozenset(self.blocked), exclude_heard=self.exclude_heard)
        notes = list(dict.fromkeys(self.notes))
        if self.unknown:
            notes.append("not understood (ignored): " + ", ".join(f"'{w}'" for w in dict.fromkeys(self.unknown)))
        return ins, notes


def _words(toks: list[Token]) -> str:
    return " ".join(t.text for t in toks)
