"""Page 2 · Instruction & results: compose an instruction, compare the five methods side by side."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app import captions, finder, lists, services, state, ui
from app.fields import FIELDS, LABELS, QUERY_NAMES
from app.state import MAX_OVERFETCH
from app.vocab import EXPLICIT_LABELS, POPULARITY_LABELS, language_label
from engine import EXPLICIT_POLICIES, METHOD_LABELS, METHODS, Instruction
from engine.data.schema import ERA, GENRE, ITEM_ID, LANGUAGE, POPULARITY

ctx = services.context()
view = state.get_view()
names = services.names(ctx)

st.title("Instruction & results")
with ui.guard("History"):
    history = services.history_for(ctx, view)
st.markdown(f"History: **{ui.md(services.history_label(ctx, view))}** · {len(history)} artists")
st.page_link("views/history.py", label="Change the history", icon=":material/history:")


def current_results():
    return services.compare(ctx.rec, ctx.key, history, services.instruction_json(view.instruction),
                            view.k, view.overfetch)


with ui.guard("Instruction"):
    before = current_results()
ins0 = view.instruction
block_options = sorted(set(history.item_ids) | set(ins0["blocked_items"])
                       | {int(i) for r in before.results.values() for i in r.items[ITEM_ID]},
                       key=lambda i: names.get(i, "").lower())
# one composer widget per Instruction field, keyed f_<field> (f_blocked for blocked_items)
seed = {**{f"f_{QUERY_NAMES.get(name, name)}": ins0[name] for name in FIELDS},
        "f_k": view.k, "f_overfetch": view.overfetch}
for key, value in seed.items():
    state.init_widget(key, value)



def use_parsed(instruction: dict, notes: list[str]) -> None:
    """The plain-English parse replaces the instruction; the form's chips are re-seeded from it."""
    asked = " ".join(str(st.session_state.get("ask_text", "")).split())[:state.MAX_TEXT]  # kept in the view
    state.set_view(replace(state.get_view(), instruction=state.empty_instruction(), ask=asked)
                   .with_instruction(**instruction))
    state.forget_widgets("f_")


def block_more(ids: list[int]) -> None:
    v = state.get_view()
    state.set_view(v.with_instruction(blocked_items=sorted({*v.instruction["blocked_items"], *ids})))
    state.forget_widgets("f_blocked")


# Once used, the composer folds away so the lists fill the screen (≥ 10 rows at 1920×1080).
def fold_composer() -> None:
    st.session_state["composer_open"] = False


state.init_widget("composer_open", True)
composer = st.expander(f"Instruction: {ui.md(ui.instruction_text(ins0, names))} — change it", key="composer_open",
                       on_change=lambda: None, icon=":material/tune:")
state.init_widget("ask_text", view.ask)
with composer:
    finder.ask_box(ctx, use_parsed)
with composer, st.form("composer", border=True):
    st.markdown("**Instruction** — what the listener (or a policy) asks for")
    c1, c2, c3 = st.columns([2, 2, 1.3])
    c1.multiselect(LABELS["genres"], services.options(ctx, GENRE), key="f_genres", placeholder="any genre")
    c2.multiselect(LABELS["languages"], services.options(ctx, LANGUAGE), key="f_languages",
                   format_func=language_label, placeholder="any language")
    c3.radio(LABELS["explicit"], EXPLICIT_POLICIES, key="f_explicit", format_func=EXPLICIT_LABELS.get)
    c4, c5, c6 = st.columns([1, 1, 2])
    c4.multiselect(LABELS["popularity"], services.options(ctx, POPULARITY), key="f_popularity",
                   format_func=lambda v: POPULARITY_LABELS.get(v, v), placeholder="any")
    c5.multiselect(LABELS["eras"], sorted(services.options(ctx, ERA)), key="f_eras", placeholder="any era")
    c6.multiselect("Blocked artists (from the history and the lists below)", block_options, key="f_blocked",
                   format_func=lambda i: names.get(i, str(i)), placeholder="none")
    c7, c8, c9, c10 = st.columns([1.2, 1.2, 1.2, 1])
    c7.slider("K (list length)", 1, ctx.vocab.max_k, key="f_k")
    c8.slider("Over-fetch × (post-hoc)", 1, MAX_OVERFETCH, key="f_overfetch",
              help="Post-hoc filtering retrieves K × this many, drops what does not match, keeps K.")
    c9.checkbox(LABELS["exclude_heard"], key="f_exclude_heard")
    submitted = c10.form_submit_button("Recommend", type="primary", width="stretch", on_click=fold_composer)

with composer:
    finder.artist_finder(ctx, "block", f"Block any artist of the catalogue (all {len(names):,})", "Block",
                         block_more)

if submitted:
    s = st.session_state
    with ui.guard("Instruction"):
        composed = {name: s[f"f_{QUERY_NAMES.get(name, name)}"] for name in FIELDS}
        composed.update(blocked_items=[int(i) for i in composed["blocked_items"]],
                        exclude_heard=bool(composed["exclude_heard"]))
        view = replace(view, k=int(s.f_k), overfetch=int(s.f_overfetch)).with_instruction(**composed)
    state.set_view(view)

ins = Instruction.from_dict(view.instruction)
with ui.guard("Recommendation"):
    cmp = current_results()

st.markdown(f"**Instruction:** {ui.md(ui.instruction_text(view.instruction, names))} · "
            f"{cmp.eligible:,} catalogue artists satisfy it · backbone {cmp.backbone_ms:.1f} ms")
if ins.has_conditions and cmp.eligible == 0:
    st.warning("No artist in the catalogue satisfies this instruction, so the filtered methods return "
               "nothing and CGSA has no correct answer.", icon=":material/block:")
    counts = services.atom_counts(ctx, ins)
    if counts:
        st.markdown("Each part on its own allows: " + "; ".join(f"**{ui.md(a)}** → {n:,} artists" for a, n in counts)
                    + ". Together they exclude everything: drop or widen one part.")
    ui.stop()

st.info(captions.compare_lead(cmp.results, view.k, view.overfetch, ins.is_empty), icon=":material/visibility:")
labels = {m: METHOD_LABELS[m] for m in METHODS if m in cmp.results}
shared = lists.shared_map({labels[m]: r for m, r in cmp.results.items()})
for col, (m, res) in zip(st.columns(len(labels)), cmp.results.items(), strict=True):
    with col:
        ui.list_card(labels[m], res, shared, is_reference=(m == "unconditioned"))
st.html(lists.LEGEND)
with st.expander("What the lists show, and the chips"):
    st.markdown(captions.compare_caption(cmp.results, view.k, view.overfetch, ins.has_conditions, cmp.eligible,
                                         ins.is_empty))
    st.caption("CC@K (condition compliance) = share of the K slots holding an artist that satisfies the "
               "instruction (empty slots count as misses). Overlap = share of a list also in the unconditioned "
               "list. Latency = server time for that method, backbone included. The table below has each "
               "artist's score (inner product of query and artist vectors: only the order within a list "
               "means something).")
with st.expander("Table view (sortable, downloadable)"):
    table = lists.long_table(cmp.results, [labels[m] for m in cmp.results])
    st.dataframe(table.drop(columns=[ITEM_ID]), hide_index=True, width="stretch")
