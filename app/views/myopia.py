"""Page 5 · Myopia: NIP / MIP / TAMIP horizon curves, and one user's held-out items."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from app import captions, evidence_figures, figures, loader, services, state, ui
from engine import Instruction, evidence
from engine.data.schema import GENRE, ITEM_ID, NAME

MAIN_MODEL = "TAMIP + CGSA"
ctx = services.context()
view = state.get_view()

st.title("Myopia: does the model look beyond the next item?")
st.caption("Retrieve once at the cut, then check the artist s = 1, 2, … 10 steps later: a myopic model only "
           "finds the next one. In the paper (Fig. 3) TAMIP (time-aware multi-item prediction) keeps finding "
           "later ones better than NIP and MIP (next- and multi-item prediction).")

models = {name.upper(): loader.load_variant(ctx.sources, name) for name in ("nip", "mip", "tamip")}
stand_in = models["TAMIP"][0] is None
if stand_in:  # no pre-trained TAMIP checkpoint: the main model stands in, under its own name
    del models["TAMIP"]
    models[MAIN_MODEL] = (ctx.rec, "")
available = {n: r for n, (r, _) in models.items() if r is not None}
missing = [why for r, why in models.values() if r is None]
if missing:
    st.info("\n\n".join(map(ui.md, missing)) + "\n\nThe page shows the models that are available.", icon=":material/info:")
if stand_in:
    st.caption(f"No pre-trained TAMIP model is loaded: the main model ({MAIN_MODEL}, TAMIP pre-training "
               "then CGSA fine-tuning) is shown in its place.")

metric = st.radio("Metric", ["HR@50", "HR@10"], horizontal=True, key="my_metric")
curves, users = {}, None
for n in models:
    if n in available:
        my = available[n].checkpoint.metrics.get("myopia", {})
        if my.get(metric):
            curves[n] = my[metric]
            users = users or my.get("users")
if curves:
    n_users = (users or [0])[0]
    bands = {n: [evidence.wilson(p, u) for p, u in zip(c, users or [0] * len(c), strict=True)]
             for n, c in curves.items()}
    ui.chart(evidence_figures.myopia_bands(bands, metric), "myopia_curves")
    main = next((n for n in ("TAMIP", MAIN_MODEL) if n in curves), None)
    said = []
    for other in ("NIP", "MIP"):
        if main and other in curves:
            d, lo, hi = evidence.curve_gap(curves[main], curves[other], n_users)
            what = ("a real difference" if lo > 0 else "the curves cross within their intervals: no difference "
                    "is established" if hi > 0 else f"{other} is ahead")
            said.append(f"at steps 2–10 {main} finds the later artist {d:+.1%} more often than {other} "
                        f"(95 % [{lo:+.1%}, {hi:+.1%}]): {what}")
    st.markdown(("Here, on " + f"{n_users} test users, " + "; ".join(said) + ".") if said else
                "Only one model is loaded, so there is nothing to compare it with here.")
    with st.expander("The curves in numbers"):
        st.caption(captions.myopia_caption(curves, metric) + " Measured on held-out test users at training time "
                   "(the shipped metrics), not on the listener below; bands are Wilson 95 % intervals.")
else:
    st.warning("These checkpoints carry no myopia metrics (they were trained without evaluation). "
               "`python -m engine train --ship` writes them.", icon=":material/info:")

st.subheader("One listener's later items")
with ui.guard("History"):
    history = services.history_for(ctx, view)
if not history.future:
    st.info("This history has no held-out later items (custom histories never do). Pick a preset or a user "
            "on the Listening history page.", icon=":material/info:")
    ui.stop()
K = 50
items = ctx.items.set_index(ITEM_ID)
fut = list(history.future)[:10]
table = pd.DataFrame({"s": range(1, len(fut) + 1), "artist": items.loc[fut, NAME].astype(str).to_numpy(),
                      "genre": items.loc[fut, GENRE].astype(str).to_numpy()})
order = [n for n in models if n in available]
for n in order:
    rec = available[n]
    with ui.guard(f"{n} retrieval"):
        h = rec.user_history(history.user_id) if history.user_id is not None else history
        res = services.compare(rec, f"{ctx.key}|{n}", h, services.instruction_json(Instruction()), K, 1,
                               ("unconditioned",)).results["unconditioned"]
    top = set(int(i) for i in res.items[ITEM_ID])
    table[n] = [i in top for i in fut]
ui.chart(figures.future_hits(table, order), "future_hits")
st.caption("Per model: " + "; ".join(f"{n} retrieves {int(table[n].sum())} of {len(fut)}" for n in order)
           + f" of this user's next {len(fut)} items in its top-{K}, from one retrieval at the cut. "
           "One user is an anecdote; the curves above are the measurement.")


@st.cache_data(show_spinner=False, max_entries=8)
def _retrieved_by_preset(_rec, key: str, presets: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """Per preset: how many of its next 10 artists the main model's top-K holds (one retrieval at the cut)."""
    out = {}
    for p_key, user in presets:
        h = _rec.user_history(user)
        res = _rec.compare(h, Instruction(), K, 1, ("unconditioned",)).results["unconditioned"]
        out[p_key] = len(set(h.future[:10]) & set(int(i) for i in res.items[ITEM_ID]))
    return out


found = _retrieved_by_preset(ctx.rec, ctx.key, tuple((p.key, p.user_id) for p in ctx.presets))
best = max(found, key=found.get) if found else None
if best and best != view.preset and found[best] > int(table[order[-1]].sum()):
    p = ctx.preset(best)

    def use_best() -> None:
        state.set_view(replace(state.get_view(), source="preset", preset=best, user=None))

    st.button(f"Show “{ui.md(p.title)}”: the main model retrieves {found[best]} of its next 10 artists",
              key="my_best_preset", on_click=use_best, icon=":material/person_search:")
