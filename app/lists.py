"""Result lists as HTML cards and tables: shared by the pages and the case-study export.

Pure functions (no Streamlit). Marks: a green bar = the artist satisfies the
instruction; ◆ = also in the unconditioned list; “heard” = already in the history.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from app.vocab import EXPLICIT_SHORT, language_name
from engine.data.schema import EXPLICIT, GENRE, ITEM_ID, LANGUAGE, NAME, UNKNOWN

CSS = """
<style>
.cp-list{border:1px solid #e3e6ee;border-radius:10px;padding:10px 10px 4px;background:#fff;height:100%}
.cp-head{font-weight:650;font-size:15px;margin-bottom:4px}
.cp-chips{display:flex;flex-wrap:wrap;gap:4px;margin-bottom:6px}
.cp-chip{font-size:11.5px;padding:1px 7px;border-radius:999px;background:#eef1f8;color:#2a3142;white-space:nowrap}
.cp-chip.good{background:#dff3e6;color:#17603a}.cp-chip.bad{background:#fbe3e1;color:#8a2a22}
.cp-chip.warn{background:#fff1d6;color:#7a5200}
.cp-items{margin:0;padding:0}
.cp-item{display:flex;gap:6px;align-items:flex-start;padding:2px 6px;margin:2px 0;border-left:4px solid #d5d8e0;
 border-radius:4px;background:#fafbfd}
.cp-body{flex:1;min-width:0}
.cp-note{font-size:12.5px;color:#7a5200;margin-bottom:4px}.cp-tag.cp-also{background:#e6ecff;color:#2c47a8}
.cp-item.match{border-left-color:#2e9e5b}
.cp-rank{font-variant-numeric:tabular-nums;color:#6b7385;min-width:20px;font-size:14px;padding-top:2px}
.cp-name{font-weight:600;font-size:16.5px;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.cp-meta{font-size:12.5px;color:#5b6275;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;line-height:1.3}
.cp-tag{display:inline-block;font-size:12px;padding:0 6px;border-radius:999px;background:#eef1f8;color:#4a5266;margin:0 3px 0 0}
.cp-shared{color:#3358d4;margin-left:3px}
.cp-empty{font-size:12.5px;color:#6b7385;padding:6px}
.cp-legend{font-size:12px;color:#5b6275;margin-top:6px}
</style>
"""

LEGEND = ("<div class='cp-legend'><span style='color:#2e9e5b'>▌</span> satisfies the instruction · "
          "<span style='color:#9aa0ad'>▌</span> does not · <span class='cp-shared'>◆</span> also in the "
          "unconditioned list · <span class='cp-tag'>heard</span> already in the history · a label left out "
          "is unknown for that artist</div>")


def result_rows(items: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader needs, with readable values."""
    df = pd.DataFrame({
        "rank": items["rank"].astype(int),
        "artist": items[NAME].astype(str),
        "genre": items[GENRE].astype(str).replace(UNKNOWN, "genre unknown") if GENRE in items else "",
        "language": (items[LANGUAGE].astype(str).replace(UNKNOWN, "language unknown").map(language_name)
                     if LANGUAGE in items else ""),
        "explicit": items[EXPLICIT].map(lambda v: EXPLICIT_SHORT.get(str(v), str(v))) if EXPLICIT in items else "",
        "score": items["score"].astype(float).round(3) if "score" in items else float("nan"),
        "matches": items["complies"].astype(bool),
        "in_unconditioned": items["in_unconditioned"].astype(bool),
        "heard": items["heard"].astype(bool) if "heard" in items else False,
        ITEM_ID: items[ITEM_ID].astype(int),
    })
    return df.reset_index(drop=True)


CHIP_TIPS = {"CC@": "CC@K, condition compliance: share of the K slots holding an artist that satisfies the instruction",
             "overlap": "share of this list also in the unconditioned list"}


def chip_html(text: str, tone: str = "") -> str:
    tip = next((t for k, t in CHIP_TIPS.items() if k in text), "")
    title = f" title='{html.escape(tip)}'" if tip else ""
    return f"<span class='cp-chip {tone}'{title}>{html.escape(text)}</span>"


def chips(res, is_reference: bool = False, show_cc: bool = True) -> list[tuple[str, str]]:
    """CC@K, n returned of K, overlap with the unconditioned list, latency."""
    out = []
    if show_cc:
        tone = "good" if res.cc >= 0.8 else ("bad" if res.cc < 0.5 else "warn")
        out.append((f"CC@{res.k} {res.cc:.0%}", tone))
    out.append((f"{res.n_returned} of {res.k} returned", "" if res.n_returned == res.k else "warn"))
    if is_reference:
        out.append(("reference list", ""))
    elif res.overlap is not None:
        out.append((f"{res.overlap:.0%} overlap", ""))
    out.append((f"{res.latency_ms:.1f} ms", ""))
    return out


def shared_map(results: dict) -> dict[int, list[str]]:
    """item id → labels of the lists that contain it."""
    out: dict[int, list[str]] = {}
    for label, res in results.items():
        for i in res.items[ITEM_ID]:
            out.setdefault(int(i), []).append(label)
    return out


def _elsewhere(title: str, inside: list[str]) -> str:
    """For the reference list: which other lists also hold the artist."""
    others = [t for t in inside if t != title]
    if not others:
        return ""
    short = [o.split(": ", 1)[-1] for o in others]
    text = "also in " + ", ".join(short) if len(others) <= 2 else f"in {len(others)} other lists"
    return f"<span class='cp-tag cp-also'>{html.escape(text)}</span>"


def list_html(title: str, res, shared: dict[int, list[str]] | None = None, is_reference: bool = False,
              note: str = "", plain: bool = False) -> str:
    """One result list as an HTML card (escaped: artist names are data).

    ``plain``: no instruction applies to this list (no CC chip, no match bars).
    """
    rows = result_rows(res.items)
    chip_row = "".join(chip_html(t, tone) for t, tone in chips(res, is_reference, show_cc=not plain))
    # "also in …" tags on the reference list only when few lists are compared (Figure 4, Auto).
    n_lists = len({t for titles in (shared or {}).values() for t in titles})
    items = []
    for r in rows.itertuples(index=False):
        inside = (shared or {}).get(int(getattr(r, ITEM_ID)), [])
        tip = html.escape("In: " + ", ".join(inside)) if inside else ""
        mark = ("<span class='cp-shared' title='also in the unconditioned list'>◆</span>"
                if r.in_unconditioned and not is_reference else "")
        tags = ("<span class='cp-tag'>heard</span>" if r.heard else "") + (
            _elsewhere(title, inside) if is_reference and len(shared or {}) and n_lists <= 4 else "")
        # labels as compact chips; an unknown label is left out (the legend says so) instead of repeated
        meta = "".join(f"<span class='cp-tag'>{html.escape(x)}</span>" for x in (r.genre, r.language, r.explicit)
                       if x and not str(x).endswith("unknown"))
        cls = "cp-item" + (" match" if r.matches and not plain else "")
        items.append(
            f"<div class='{cls}' title='{tip}' data-item='{getattr(r, ITEM_ID)}'>"
            f"<span class='cp-rank'>{r.rank}</span><div class='cp-body'><div class='cp-name'>"
            f"{html.escape(r.artist)}{mark}</div><div class='cp-meta'>{meta}{tags}</div></div></div>")
    body = "".join(items) if items else "<div class='cp-empty'>Nothing left in this list.</div>"
    note_html = f"<div class='cp-note'>{html.escape(note)}</div>" if note else ""
    return (f"<div class='cp-list' data-method='{html.escape(title)}'><div class='cp-head'>{html.escape(title)}</div>"
            f"<div class='cp-chips'>{chip_row}</div>{note_html}<div class='cp-items'>{body}</div></div>")


def long_table(results: dict, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """All lists in one long table (method, rank, artist, …) for sorting and download."""
    frames = []
    for n, (name, res) in enumerate(results.items()):
        df = result_rows(res.items)
        df.insert(0, "list", labels[n] if labels else name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def list_diff(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Item-by-item difference of two result lists: entered / left / moved / same, in B's order."""
    ra = dict(zip(a[ITEM_ID].astype(int), a["rank"].astype(int), strict=True))
    rb = dict(zip(b[ITEM_ID].astype(int), b["rank"].astype(int), strict=True))
    names = {**dict(zip(a[ITEM_ID].astype(int), a[NAME], strict=True)),
             **dict(zip(b[ITEM_ID].astype(int), b[NAME], strict=True))}
    rows = []
    for i in [*rb, *[x for x in ra if x not in rb]]:
        x, y = ra.get(i), rb.get(i)
        if x is None:
            status, change = "entered", f"new at #{y}"
        elif y is None:
            status, change = "left", f"was #{x}"
        elif x == y:
            status, change = "same", "="
        else:
            status, change = "moved", f"#{x} → #{y} ({'↑' if y < x else '↓'}{abs(x - y)})"
        rows.append({ITEM_ID: i, "artist": names[i], "rank_a": x, "rank_b": y, "status": status,
                     "change": change})
    df = pd.DataFrame(rows, columns=[ITEM_ID, "artist", "rank_a", "rank_b", "status", "change"])
    return df.astype({"rank_a": float, "rank_b": float})


# --------------------------------------------------------------------------- projector-sized lists

BIG_CSS = """
<style>
.sl-card{border:1px solid #e3e6ee;border-radius:10px;padding:8px 12px;background:#fff}
.sl-head{font-weight:700;font-size:19px;margin-bottom:2px}
.sl-sub{font-size:15px;color:#5b6275;margin-bottom:4px}
.sl-row{display:flex;gap:8px;align-items:baseline;padding:1px 6px;border-left:5px solid #d5d8e0;margin:2px 0;
 border-radius:3px;background:#fafbfd}
.sl-row.match{border-left-color:#2e9e5b}.sl-rank{min-width:24px;color:#6b7385;font-size:15px}
.sl-name{font-size:19px;font-weight:600;line-height:1.35;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sl-mark{color:#3358d4;font-size:15px}.sl-empty{font-size:17px;color:#8a2a22;padding:4px 6px}
.sl-headline{font-size:28px;font-weight:700;line-height:1.25;margin:0 0 8px;color:#1b1f2a}
</style>
"""


def big_list_html(title: str, res, k: int, plain: bool = False, reference: bool = False) -> str:
    """A list for the projector: names ≥ 18 px, one line per artist, green bar = satisfies the instruction,
    ◆ = also in the unconstrained list; the sub-line states returned of K and matching."""
    rows = result_rows(res.items)
    n_match = int(rows["matches"].sum())
    sub = f"{len(rows)} of {k} returned" + ("" if plain else f" · {n_match} match")
    if res.overlap is not None and not reference:
        sub += f" · {res.overlap:.0%} shared with unconstrained"
    body = []
    for r in rows.itertuples(index=False):
        cls = "sl-row" + (" match" if r.matches and not plain else "")
        mark = "<span class='sl-mark' title='also in the unconstrained list'>◆</span>" if (
            r.in_unconditioned and not reference) else ""
        body.append(f"<div class='{cls}' data-item='{getattr(r, ITEM_ID)}'><span class='sl-rank'>{r.rank}</span>"
                    f"<span class='sl-name'>{html.escape(r.artist)}</span>{mark}</div>")
    if len(rows) < k:
        body.append(f"<div class='sl-empty'>{k - len(rows)} empty slot(s): nothing left after filtering.</div>")
    return (f"<div class='sl-card' data-method='{html.escape(title)}'><div class='sl-head'>{html.escape(title)}</div>"
            f"<div class='sl-sub'>{html.escape(sub)}</div>{''.join(body)}</div>")


def headline_html(text: str) -> str:
    """The step's headline (escaped; acronyms explained on hover)."""
    from app.glossary import abbr_html

    return f"<div class='sl-headline' data-testid='story-headline'>{abbr_html(text)}</div>"
