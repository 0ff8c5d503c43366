"""The view state: which history, which instruction, K, over-fetch, page.

One :class:`ViewState` lives in ``st.session_state``; the URL query string and the
exported JSON are two encodings of it. Everything coming from outside (a link, an
uploaded file) passes :func:`sanitize`, which drops junk with a warning instead of
failing, so a bad link still opens the app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from app.fields import FIELDS, QUERY_KEYS, QUERY_NAMES, VALUE_FIELDS, empty_instruction
from app.vocab import DEFAULT_PAGE
from engine import EXPLICIT_POLICIES, Instruction

FORMAT = "climber-pilot-studio/view"
VERSION = 1
LIST_FIELDS = VALUE_FIELDS  # the instruction fields that hold value lists
INSTRUCTION_KEYS = QUERY_KEYS  # a link naming any of these states the whole instruction
MAX_K = 100
MAX_OVERFETCH = 20
MAX_TOP_P = 5


@dataclass(frozen=True)
class Vocab:
    """What is valid in the loaded data (checked against links and uploads)."""

    genres: frozenset[str]
    languages: frozenset[str]
    popularity: frozenset[str]
    eras: frozenset[str]
    users: frozenset[int]
    items: frozenset[int]
    presets: frozenset[str]
    pages: frozenset[str]
    max_k: int = MAX_K


def normal_instruction(d: Mapping) -> dict:
    """Canonical form (sorted lists, known fields): equal instructions compare equal."""
    return Instruction.from_dict(dict(d)).to_dict()


@dataclass(frozen=True)
class ViewState:
    page: str = DEFAULT_PAGE
    source: str = "preset"  # preset | user | custom
    preset: str | None = None
    user: int | None = None
    custom: tuple[int, ...] = ()
    instruction: dict = field(default_factory=empty_instruction)
    k: int = 10
    overfetch: int = 5
    top_p: int = 3

    def with_instruction(self, **changes) -> ViewState:
        return replace(self, instruction=normal_instruction({**self.instruction, **changes}))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["custom"] = list(self.custom)
        return d


# --------------------------------------------------------------------------- validation


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (x.strip() for x in value.split(",")) if v]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _int(value) -> int | None:
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, float) and not value.is_integer():
            return None
        return int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except (TypeError, ValueError):
        return None


def _bounded(raw, name, lo, hi, default, warnings) -> int:
    if raw is None:
        return default
    v = _int(raw)
    if v is None or not lo <= v <= hi:
        warnings.append(f"{name}={raw!r} ignored (expected a whole number from {lo} to {hi})")
        return default
    return v


def _ints(raw, valid: frozenset[int], name: str, warnings: list[str]) -> list[int]:
    out, bad = [], []
    for v in _as_list(raw):
        i = _int(v)
        if i is not None and i in valid:
            out.append(i)
        else:
            bad.append(v)
    if bad:
        warnings.append(f"{name}: unknown id(s) {', '.join(map(str, bad[:5]))} ignored")
    return out


VIEW_FIELDS = ("page", "preset", "user", "custom", "source", "instruction", "k", "overfetch", "top_p")
FILE_FIELDS = ("format", "version", "dataset")  # written by to_json, not part of the view
PAGE_PARAMS = ("step",)  # a page's own place in the URL (the story step), kept beside the view


def sanitize(raw: Mapping, vocab: Vocab, default: ViewState) -> tuple[ViewState, list[str]]:
    """A valid ViewState from untrusted fields (missing ones keep ``default``'s values)."""
    w: list[str] = []
    view = _history_fields(raw, vocab, default, w)
    view = replace(view, instruction=normal_instruction(_instruction_fields(raw, vocab, view.instruction, w)))
    view = replace(view, k=_bounded(raw.get("k"), "k", 1, vocab.max_k, view.k, w),
                   overfetch=_bounded(raw.get("overfetch"), "overfetch", 1, MAX_OVERFETCH, view.overfetch, w),
                   top_p=_bounded(raw.get("top_p"), "top_p", 1, MAX_TOP_P, view.top_p, w))
    unknown = set(raw) - {*VIEW_FIELDS, *FIELDS, *QUERY_KEYS, *FILE_FIELDS, *PAGE_PARAMS}
    if unknown:
        w.append(f"unknown field(s) ignored: {', '.join(sorted(unknown)[:5])}")
    if view.source == "preset" and view.preset is None and vocab.presets:
        view = replace(view, preset=default.preset)
    if view.source == "user" and view.user is None:
        view = replace(view, source=default.source)
    if view.source == "custom" and not view.custom:
        view = replace(view, source=default.source)
    return view, w


def _history_fields(raw: Mapping, vocab: Vocab, view: ViewState, w: list[str]) -> ViewState:
    """Page and history source (preset, user, custom items) from ``raw``."""
    page = raw.get("page")
    if page is not None:
        if str(page) in vocab.pages:
            view = replace(view, page=str(page))
        else:
            w.append(f"page={page!r} ignored (unknown page)")
    if raw.get("preset") not in (None, ""):
        if str(raw["preset"]) in vocab.presets:
            view = replace(view, source="preset", preset=str(raw["preset"]))
        else:
            w.append(f"preset={raw['preset']!r} ignored (no such preset for this data)")
    named = bool(raw.get("source") or raw.get("preset"))  # a named source wins over the implied one
    if raw.get("user") not in (None, ""):
        u = _int(raw["user"])
        if u is not None and u in vocab.users:
            view = replace(view, user=u, **({} if named else {"source": "user"}))
        else:
            w.append(f"user={raw['user']!r} ignored (not a user of this data)")
    if raw.get("custom") not in (None, "", []):
        ids = _ints(raw["custom"], vocab.items, "custom history", w)
        if ids:
            view = replace(view, custom=tuple(ids), **({} if named else {"source": "custom"}))
    src = raw.get("source")
    if src is not None:
        if src in ("preset", "user", "custom"):
            view = replace(view, source=str(src))
        else:
            w.append(f"source={src!r} ignored")
    return view


def _instruction_fields(raw: Mapping, vocab: Vocab, current: dict, w: list[str]) -> dict:
    """The instruction from top-level fields (links) and a nested ``instruction`` object (files)."""
    ins = dict(current)
    nested = raw.get("instruction") if isinstance(raw.get("instruction"), Mapping) else {}
    if raw.get("instruction") is not None and not isinstance(raw.get("instruction"), Mapping):
        w.append("instruction ignored (not an object)")
    merged = {**{k: raw[k] for k in (*FIELDS, *QUERY_NAMES.values()) if k in raw}, **nested}
    for name in LIST_FIELDS:
        if name in merged:
            allowed = getattr(vocab, name)
            values = [str(v) for v in _as_list(merged[name])]
            bad = [v for v in values if v not in allowed]
            if bad:
                w.append(f"{name}: unknown value(s) {', '.join(bad[:5])} ignored")
            ins[name] = sorted({v for v in values if v in allowed})
    if "explicit" in merged:
        if merged["explicit"] in EXPLICIT_POLICIES:
            ins["explicit"] = merged["explicit"]
        else:
            w.append(f"explicit={merged['explicit']!r} ignored (use one of {', '.join(EXPLICIT_POLICIES)})")
    blocked = merged.get("blocked_items", merged.get(QUERY_NAMES["blocked_items"]))
    if blocked is not None:
        ins["blocked_items"] = sorted(set(_ints(blocked, vocab.items, "blocked artists", w)))
    if "exclude_heard" in merged:
        v = merged["exclude_heard"]
        flag = {"1": True, "true": True, "0": False, "false": False}.get(str(v).lower()) if not isinstance(v, bool) else v
        if flag is None:
            w.append(f"exclude_heard={v!r} ignored (use true or false)")
        else:
            ins["exclude_heard"] = flag
    return ins


# --------------------------------------------------------------------------- encodings


def to_query(view: ViewState) -> dict[str, str]:
    """Query-string fields (only what differs from an empty instruction, plus the basics)."""
    q: dict[str, str] = {"page": view.page, "source": view.source}
    if view.preset:
        q["preset"] = view.preset
    if view.user is not None:
        q["user"] = str(view.user)
    if view.custom:
        q["custom"] = ",".join(map(str, view.custom))
    ins = view.instruction
    for name in LIST_FIELDS:
        if ins.get(name):
            q[name] = ",".join(ins[name])
    if ins.get("explicit", "allow") != "allow":
        q["explicit"] = ins["explicit"]
    if ins.get("blocked_items"):
        q[QUERY_NAMES["blocked_items"]] = ",".join(map(str, ins["blocked_items"]))
    if ins.get("exclude_heard"):
        q["exclude_heard"] = "true"
    q.update(k=str(view.k), overfetch=str(view.overfetch), top_p=str(view.top_p))
    return q


def history_complete(view: ViewState) -> bool:
    """The active history source has what it needs (a preset key, a user, or custom items)."""
    return bool((view.source == "preset" and view.preset) or (view.source == "user" and view.user is not None)
                or (view.source == "custom" and view.custom))


def _with_history_of(view: ViewState, default: ViewState) -> ViewState:
    if history_complete(view):
        return view
    return replace(view, source=default.source, preset=default.preset, user=default.user, custom=default.custom)


def from_query(params: Mapping[str, str], vocab: Vocab, default: ViewState) -> tuple[ViewState, list[str]]:
    """A link that names its history (source/preset/user/custom) names all of it; if what it names is
    unusable, the default history is shown (with a warning from :func:`sanitize`)."""
    start = default
    if any(k in params for k in ("source", "preset", "user", "custom")):
        start = replace(start, preset=None, user=None, custom=())
    if any(k in params for k in INSTRUCTION_KEYS):  # a link with an instruction states all of it
        start = replace(start, instruction=empty_instruction())
    view, warnings = sanitize(dict(params), vocab, start)
    return _with_history_of(view, default), warnings


def to_json(view: ViewState, dataset: str = "") -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "dataset": dataset, **view.to_dict()},
                      indent=2, sort_keys=True)


def from_json(text: str | bytes, vocab: Vocab, default: ViewState, dataset: str = "") -> tuple[ViewState, list[str]]:
    """Parse an exported view; raises ``ValueError`` (with a readable message) if it is not one."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"this file is not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError("this file is not a Climber-Pilot Studio view (export one from the Case study page)")
    warnings = []
    if raw.get("version") != VERSION:
        warnings.append(f"file has format version {raw.get('version')}, this app writes {VERSION}")
    if dataset and raw.get("dataset") not in (None, "", dataset):
        warnings.append(f"exported on data set {raw.get('dataset')!r}, now showing {dataset!r}")
    view, more = sanitize(raw, vocab, replace(default, preset=None, user=None, custom=()))
    return _with_history_of(view, default), warnings + more


# --------------------------------------------------------------------------- session

VIEW_KEY = "view"


def get_view() -> ViewState:
    import streamlit as st

    return st.session_state[VIEW_KEY]


def set_view(view: ViewState) -> None:
    import streamlit as st

    st.session_state[VIEW_KEY] = view


def init_widget(key: str, value) -> None:
    """Seed a widget from the view the first time it is drawn (or after a page change)."""
    import streamlit as st

    if key not in st.session_state:
        st.session_state[key] = value


def forget_widgets(prefix: str) -> None:
    """Drop widget values so they are re-seeded from the view (after an import or a preset)."""
    import streamlit as st

    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def sync_query_params(view: ViewState, extra: Mapping[str, str] | None = None) -> None:
    """Keep the address bar equal to the view (plus a page's ``extra`` place), so copying the URL shares it."""
    import streamlit as st

    wanted = {**to_query(view), **(extra or {})}
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
