"""Plain words: the glossary, acronyms spelled out on hover and at their first use on a page."""

from __future__ import annotations

import html
import re

import streamlit as st

# term → (spelled out, one sentence in plain words)
TERMS = {
    "CGSA": ("condition-guided sparse attention",
             "The fine-tuned model reads the instruction as condition tokens and, in its last layer, looks only at "
             "history artists that satisfy it, so the list follows the instruction and stays personal."),
    "TAMIP": ("time-aware multi-item prediction",
              "Pre-training that predicts several later artists at once and hides what was logged just before "
              "the target, so the model does not only guess the very next artist."),
    "NIP": ("next-item prediction", "The usual pre-training: predict only the very next artist."),
    "MIP": ("multi-item prediction", "Predict several later artists at once, without the time-aware mask."),
    "post-hoc filter": ("retrieve, then filter",
                        "Retrieve K × over-fetch artists without the instruction, drop those that do not satisfy "
                        "it, keep the first K: the list can come back short."),
    "pre-filter": ("filter, then retrieve",
                   "Search only among the artists that satisfy the instruction, with the unconditioned query."),
    "CC@K": ("condition compliance at K", "Share of the K list slots holding an artist that satisfies the "
                                          "instruction (an empty slot counts as a miss)."),
    "HR@K": ("hit rate at K", "Share of listeners whose true next artist is in the top K."),
    "Δτ": ("delta tau, the time-aware window",
           "During TAMIP training, history items logged within Δτ before the target are hidden."),
    "condition token": ("the instruction as an input",
                        "A learned vector per instruction value (e.g. genre = rock) that the model can always "
                        "attend to."),
}
ACRONYMS = ("CGSA", "TAMIP", "NIP", "MIP", "CC@K", "HR@K", "Δτ")
_PATTERN = re.compile(r"(?<![\w@])(CGSA|TAMIP|NIP|MIP|CC@\d+|HR@\d+|CC@K|HR@K|Δτ)(?![\w])")


def _term(token: str) -> str:
    return re.sub(r"@\d+", "@K", token)


def abbr_html(text: str) -> str:
    """Escape ``text`` and put every acronym in an ``<abbr>`` with its meaning on hover."""
    def one(m: re.Match) -> str:
        full, plain = TERMS[_term(m.group(1))]
        return f"<abbr title='{html.escape(full + ': ' + plain)}'>{m.group(1)}</abbr>"

    return _PATTERN.sub(one, html.escape(text))


def used(text: str) -> list[str]:
    """The glossary acronyms in ``text``, in order of first use."""
    out = []
    for m in _PATTERN.finditer(text):
        t = _term(m.group(1))
        if t not in out:
            out.append(t)
    return out


def spelled(text: str) -> str:
    """One line spelling out every acronym of ``text``: "CGSA = condition-guided sparse attention · …"."""
    return " · ".join(f"{t} = {TERMS[t][0]}" for t in used(text))


def footnote(text: str) -> None:
    line = spelled(text)
    if line:
        st.caption(line)


def sidebar() -> None:
    """The glossary, reachable from every page (sidebar)."""
    with st.sidebar.expander("Glossary", icon=":material/menu_book:"):
        for term, (full, plain) in TERMS.items():
            st.markdown(f"**{term}** ({full}): {plain}")
