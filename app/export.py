"""A self-contained case-study HTML page, like the paper's Figure 4 (method §7), laid out as a short deck.

Pure: figures, lists and texts in, one HTML string out. One screen per section (the listener's
artists first), limits stated as measured facts. plotly.js is embedded once, inline, so the file
opens offline and can be mailed as is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime

import plotly.graph_objects as go

from app import lists

PAGE_CSS = """
<style>
html{scroll-snap-type:y proximity}
body{font-family:Inter,Segoe UI,Helvetica,Arial,sans-serif;color:#1b1f2a;margin:0;line-height:1.45;background:#f3f5fa}
.slide{min-height:100vh;box-sizing:border-box;padding:36px 56px;scroll-snap-align:start;background:#fff;
 border-bottom:6px solid #f3f5fa;max-width:1800px;margin:0 auto}
h1{font-size:40px;margin:0 0 6px}h2{font-size:30px;margin:0 0 14px}
.sub{color:#5b6275;margin:0 0 22px;font-size:18px}.lead{font-size:22px;font-weight:600;margin:0 0 18px}
.artists{display:flex;flex-wrap:wrap;gap:8px 10px;margin:10px 0 22px}
.artists span{font-size:20px;font-weight:600;background:#eef1f8;border-radius:999px;padding:4px 14px}
.cards{display:grid;gap:14px;grid-template-columns:repeat(auto-fit,minmax(240px,1fr))}
.box{background:#f3f5fa;border-radius:8px;padding:12px 16px;font-size:18px}.note{font-size:15px;color:#5b6275}
.facts{font-size:18px}.facts li{margin:4px 0}
footer{font-size:14px;color:#5b6275;padding:18px 56px;max-width:1800px;margin:0 auto}
</style>
"""


@dataclass
class Section:
    title: str
    cards: list[tuple[str, object, bool]]  # (card title, RecResult, is_reference)
    caption: str = ""
    plain_ref: bool = False  # the reference list has no instruction (no CC, no match bars)


@dataclass
class CaseStudy:
    title: str
    history_text: str
    instruction_text: str
    sections: list[Section]
    figures: list[tuple[go.Figure, str]] = field(default_factory=list)  # (figure, caption)
    footnote: str = ""
    link: str = ""
    artists: list[str] = field(default_factory=list)  # the listener's recent artists (the opening screen)
    facts: list[str] = field(default_factory=list)  # what was measured, including the limits


def card_footnote(card: dict, synthetic: bool, dataset: str, model: str, device: str) -> str:
    """Data card in two sentences: what the data is, coverage, licence, model, device."""
    counts = card.get("counts", {})
    cov = card.get("coverage", {})
    parts = [f"Data: {dataset}" + (" (generated; no real listeners)" if synthetic else "")
             + (f", {counts.get('users', '?'):,} users, {counts.get('items', '?'):,} artists, "
                f"{counts.get('interactions', '?'):,} interactions" if counts else "") + "."]
    if not synthetic:
        parts.append("Listening history = the Last.fm tag-assignment timeline (HetRec 2011).")
    if cov:
        parts.append("Label coverage (artists): " + ", ".join(f"{a} {v.get('items', 0):.0%}" for a, v in cov.items())
                     + ".")
    if card.get("licence"):
        parts.append(f"Licence: {card['licence'].rstrip('. ')}.")
    parts.append(f"Model: {model}; device: {device}.")
    return " ".join(parts)


def _figure_html(fig: go.Figure, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs="inline" if first else False,
                       config={"displaylogo": False, "responsive": True})


def case_study_html(cs: CaseStudy, generated: datetime | None = None) -> str:
    """One screen per section: the listener, each group of lists, each figure, the measured facts."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    esc = html.escape
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>{esc(cs.title)}</title>", PAGE_CSS, lists.CSS, "</head><body>",
           f"<section class='slide'><h1>{esc(cs.title)}</h1><p class='sub'>Climber-Pilot Studio · {when}</p>",
           f"<p class='lead'>{esc(cs.history_text)}</p>"]
    if cs.artists:
        out.append("<div class='artists'>" + "".join(f"<span>{esc(a)}</span>" for a in cs.artists) + "</div>")
    out.append(f"<div class='box'><b>Instruction:</b> {esc(cs.instruction_text)}</div></section>")
    first = True
    for sec in cs.sections:
        out.append(f"<section class='slide'><h2>{esc(sec.title)}</h2>")
        if sec.caption:
            out.append(f"<p class='lead'>{esc(sec.caption)}</p>")
        shared = lists.shared_map({t: r for t, r, _ in sec.cards})
        out.append("<div class='cards'>" + "".join(lists.list_html(t, r, shared, ref, r.note, plain=ref and sec.plain_ref)
                                                   for t, r, ref in sec.cards) + "</div>")
        out.append(lists.LEGEND + "</section>")
    for fig, caption in cs.figures:  # each figure carries its own title
        out.append("<section class='slide'>" + _figure_html(fig, first))
        first = False
        if caption:
            out.append(f"<p class='note'>{esc(caption)}</p>")
        out.append("</section>")
    if cs.facts:
        out.append("<section class='slide'><h2>What was measured</h2><ul class='facts'>"
                   + "".join(f"<li>{esc(f)}</li>" for f in cs.facts) + "</ul></section>")
    if cs.link:
        out.append(f"<footer>Reopen this view: <a href='{esc(cs.link)}'>{esc(cs.link)}</a></footer>")
    out.append(f"<footer>{esc(cs.footnote)}</footer></body></html>")
    return "\n".join(out)
