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
from app.vocab import ATTENTION_VIEWS, DEFAULT_PAGE
from engine import EXPLICIT_POLICIES, Instruction

FORMAT = "climber-pilot-studio/view"
VERSION = 1
LIST_FIELDS = VALUE_FIELDS  # the instruction fields that hold value lists
INSTRUCTION_KEYS = QUERY_KEYS  # a link naming any of these states the whole instruction
MAX_K = 100
MAX_OVERFETCH = 20
MAX_TOP_P = 5
MAX_ITEMS = 200  # custom history and blocked artists: a view stays shareable (a link well under 8 KB)
MAX_CONTRASTS = 3  # case-study contrast genres
MAX_TEXT = 300  # the plain-English instruction and the case-study title
MAX_STEP = 20  # story steps (the page clamps to its own number)
MAX_LAYER = 64  # attention layer / head indices (the page clamps to the model's)
MAX_URL = 8 * 1024  # a longer link is refused by servers and browsers: offer the JSON instead
MAX_JSON = 1_000_000  # bytes of an imported view


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
    # each page's own place, so that a link or a file reopens exactly what was on screen
    ask: str = ""  # the plain-English instruction as typed (Instruction & results)
    cs_title: str = ""  # case-study title ("" = the default, built from the history)
    cs_genres: tuple[str, ...] | None = None  # case-study contrasts (None = the history's two main genres)
    cs_hard: bool = False  # case study: CGSA + hard filter
    att_view: str = "branch"  # attention heatmap (a key of app.vocab.ATTENTION_VIEWS)
    att_layer: int = 0
    att_head: str = "mean"  # "mean" or a head index
    step: int = 1  # story step (1-based)

    def with_instruction(self, **changes) -> ViewState:
        return replace(self, instruction=normal_instruction({**self.instruction, **changes}))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["custom"] = list(self.custom)
        d["cs_genres"] = None if self.cs_genres is None else list(self.cs_genres)
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


PAGE_FIELDS = ("ask", "cs_title", "cs_genres", "cs_hard", "att_view", "att_layer", "att_head", "step")
VIEW_FIELDS = ("page", "preset", "user", "custom", "source", "instruction", "k", "overfetch", "top_p", *PAGE_FIELDS)
FILE_FIELDS = ("format", "version", "dataset")  # written by to_json, not part of the view
MAX_DEPTH = 6  # a saved view nests two levels; anything much deeper is not one
_FLAGS = {"1": True, "true": True, "0": False, "false": False}


def _flag(v) -> bool | None:
    return v if isinstance(v, bool) else _FLAGS.get(str(v).strip().lower())


def _text(raw, name: str, default: str, w: list[str]) -> str:
    if raw is None:
        return default
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        w.append(f"{name} ignored (not text)")
        return default
    text = " ".join(str(raw).split())
    if len(text) > MAX_TEXT:
        w.append(f"{name} cut to {MAX_TEXT} characters")
    return text[:MAX_TEXT]


def _page_fields(raw: Mapping, vocab: Vocab, view: ViewState, w: list[str]) -> ViewState:
    """Each page's own place: the asked text, the case study, the attention heatmap, the story step."""
    changes: dict = {"ask": _text(raw.get("ask"), "ask", view.ask, w),
                     "cs_title": _text(raw.get("cs_title"), "cs_title", view.cs_title, w)}
    if "cs_genres" in raw:
        if raw["cs_genres"] is None:
            changes["cs_genres"] = None
        else:
            values = [str(v) for v in _as_list(raw["cs_genres"])]
            bad = [v for v in values if v not in vocab.genres]
            if bad:
                w.append(f"cs_genres: unknown value(s) {', '.join(bad[:5])} ignored")
            good = list(dict.fromkeys(v for v in values if v in vocab.genres))
            if len(good) > MAX_CONTRASTS:
                w.append(f"cs_genres: only the first {MAX_CONTRASTS} contrasts kept")
            changes["cs_genres"] = tuple(good[:MAX_CONTRASTS])
    if "cs_hard" in raw:
        flag = _flag(raw["cs_hard"])
        if flag is None:
            w.append(f"cs_hard={raw['cs_hard']!r} ignored (use true or false)")
        else:
            changes["cs_hard"] = flag
    if "att_view" in raw:
        if str(raw["att_view"]) in ATTENTION_VIEWS:
            changes["att_view"] = str(raw["att_view"])
        else:
            w.append(f"att_view={raw['att_view']!r} ignored (use one of {', '.join(ATTENTION_VIEWS)})")
    changes["att_layer"] = _bounded(raw.get("att_layer"), "att_layer", 0, MAX_LAYER - 1, view.att_layer, w)
    if "att_head" in raw:
        head = str(raw["att_head"]).strip()
        if head == "mean" or (_int(head) is not None and 0 <= _int(head) < MAX_LAYER):
            changes["att_head"] = head if head == "mean" else str(_int(head))
        else:
            w.append(f"att_head={raw['att_head']!r} ignored (use mean or a head number)")
    changes["step"] = _bounded(raw.get("step"), "step", 1, MAX_STEP, view.step, w)
    return replace(view, **changes)


def sanitize(raw: Mapping, vocab: Vocab, default: ViewState) -> tuple[ViewState, list[str]]:
    """A valid ViewState from untrusted fields (missing ones keep ``default``'s values)."""
    w: list[str] = []
    view = _history_fields(raw, vocab, default, w)
    view = replace(view, instruction=normal_instruction(_instruction_fields(raw, vocab, view.instruction, w)))
    view = replace(view, k=_bounded(raw.get("k"), "k", 1, vocab.max_k, view.k, w),
                   overfetch=_bounded(raw.get("overfetch"), "overfetch", 1, MAX_OVERFETCH, view.overfetch, w),
                   top_p=_bounded(raw.get("top_p"), "top_p", 1, MAX_TOP_P, view.top_p, w))
    view = _page_fields(raw, vocab, view, w)
    unknown = set(raw) - {*VIEW_FIELDS, *FIELDS, *QUERY_KEYS, *FILE_FIELDS}
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
        if len(ids) > MAX_ITEMS:
            w.append(f"custom history: only the last {MAX_ITEMS} of {len(ids)} artists kept")
            ids = ids[-MAX_ITEMS:]
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
        ids = sorted(set(_ints(blocked, vocab.items, "blocked artists", w)))
        if len(ids) > MAX_ITEMS:
            w.append(f"blocked artists: only {MAX_ITEMS} of {len(ids)} kept")
        ins["blocked_items"] = ids[:MAX_ITEMS]
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
    if not ins.get("exclude_heard", True):  # heard artists are left out unless the view says otherwise
        q["exclude_heard"] = "false"
    q.update(k=str(view.k), overfetch=str(view.overfetch), top_p=str(view.top_p))
    default = ViewState()
    for name in PAGE_FIELDS:  # a page's place only when it is not the default (short links)
        value = getattr(view, name)
        if value != getattr(default, name) or (name == "step" and view.page == "story"):
            q[name] = (",".join(value) if isinstance(value, tuple) else "true" if value is True
                       else "false" if value is False else str(value))
    return q


def link_fits(query: Mapping[str, str], base: str = "") -> bool:
    """The link is short enough for every server and browser (:data:`MAX_URL`)."""
    from urllib.parse import urlencode

    return len(base) + 1 + len(urlencode(dict(query))) <= MAX_URL


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


def _depth(obj) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        o, d = todo.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        if isinstance(o, dict):
            todo.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            todo.extend((v, d + 1) for v in o)
    return deepest


def from_json(text: str | bytes, vocab: Vocab, default: ViewState, dataset: str = "") -> tuple[ViewState, list[str]]:
    """Parse an exported view; raises ``ValueError`` (with a readable message) if it is not one."""
    if len(text) > MAX_JSON:
        raise ValueError(f"this file is {len(text):,} bytes; a saved view is a few kilobytes (at most {MAX_JSON:,})")
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"this file is not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError("this file is nested too deeply to be a saved view") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError("this file is not a Climber-Pilot Studio view (export one from the Case study page)")
    if _depth(raw) > MAX_DEPTH:
        raise ValueError("this file is nested too deeply to be a saved view")
    if raw.get("source") == "custom" and not _as_list(raw.get("custom")):
        raise ValueError("this view has a custom history with no artists in it; "
                         "add artists on the Listening history page and save the view again")
    warnings = []
    if raw.get("version") != VERSION:
        warnings.append(f"file has format version {raw.get('version')}, this app writes {VERSION}")
    if dataset and raw.get("dataset") not in (None, "", dataset):
        warnings.append(f"exported on data set {raw.get('dataset')!r}, now showing {dataset!r}")
    view, more = sanitize(raw, vocab, replace(default, preset=None, user=None, custom=()))
    if raw.get("source") == "custom" and not view.custom:
        raise ValueError("none of the artists of its custom history is in this data set "
                         f"({'; '.join(more[:1])})")
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
