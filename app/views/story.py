"""Story mode: the paper's argument in six steps on the current listener (one screen each).

Next / previous by the buttons or the ← → keys; the step number is in the URL (``step=3``).
Every headline is computed from the numbers on screen (:mod:`app.story`).
"""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

from app import deck, evidence_figures, glossary, lists, loader, services, state, story, ui
from engine import evidence

ctx = services.context()
view = state.get_view()
N = len(story.TITLES)
step = min(max(int(st.session_state.get("story_step", 1)), 1), N)
st.session_state["story_step"] = step


def go(delta: int) -> None:
    st.session_state["story_step"] = min(max(st.session_state.get("story_step", 1) + delta, 1), N)


with ui.guard("History"):
    history = services.history_for(ctx, view)
label = services.history_label(ctx, view)


@st.cache_data(show_spinner="Computing the story…", max_entries=16)
def compute(_rec, key: str, h, label: str, _variants: dict, variant_key: str, curves: dict) -> list:
    first = story.listener(_rec.items, h, label)
    t = [g for g, _ in first.numbers["tastes"]] or [None]
    a, b = t[0], (t[1] if len(t) > 1 else t[0])
    steps = [first]
    if a is not None:
        steps += [story.underfill(_rec, h, story.underfill_genre(_rec, h, t[:3])), story.contrast(_rec, h, [x for x in (a, b) if x][:2]),
                  story.composed(_rec, h, a)]
    steps.append(story.myopia(_variants, h, curves))
    return steps


models = {n.upper(): loader.load_variant(ctx.sources, n)[0] for n in ("nip", "tamip")}
models = {n: r for n, r in models.items() if r is not None} or {"TAMIP + CGSA": ctx.rec}
curves = {n: r.checkpoint.metrics.get("myopia", {}) for n, r in models.items()}
curves = {n: c for n, c in curves.items() if c.get("HR@50")}
with ui.guard("Story"):
    steps = compute(ctx.rec, ctx.key, history, label, models, "|".join(models), curves)
claims = services.claims()
steps = [*steps, story.evidence_step(claims)]
for n, s in enumerate(steps, 1):
    s.n = n
N = len(steps)
step = min(step, N)
st.session_state["story_step"] = step
cur = steps[step - 1]

st.html(lists.BIG_CSS + "<style>.block-container{padding-top:3.2rem!important}"
        "[data-testid='stMainBlockContainer'] h1{font-size:22px!important;padding:0!important}</style>")
top = st.columns([6, 1, 1, 1.3], vertical_alignment="center")
top[0].markdown(f"#### Story · step {step} of {N} · {cur.title}")
top[1].button("← Previous", key="story_prev", on_click=go, args=(-1,), disabled=step == 1, width="stretch")
top[2].button("Next →", key="story_next", on_click=go, args=(1,), disabled=step == N, type="primary",
              width="stretch")
bands = {n: [evidence.wilson(p, u) for p, u in zip(c["HR@50"], c.get("users") or [0] * 10, strict=False)]
         for n, c in curves.items()}
cond = services.evidence_inputs().get("conditioning")
top[3].download_button("Slides (.pptx)", lambda: deck.story_deck(steps, claims, label, cond, bands),
                       file_name="climber_pilot_story.pptx", mime=deck.PPTX_MIME, key="story_pptx",
                       width="stretch", icon=":material/slideshow:", on_click="ignore")
st.html(lists.headline_html(cur.headline))

if cur.title == story.TITLES[0]:
    left, right = st.columns([2, 1])
    with left, ui.guard("History"):
        from app import charts
        ui.chart(charts.timeline(ctx.rec, ctx.key, history, None), "story_timeline")
    with right:
        tastes = cur.numbers["tastes"][:4]
        st.html("<div class='sl-card'><div class='sl-head'>Recent tastes</div>" + "".join(
            f"<div class='sl-row'><span class='sl-name'>{lists.html.escape(g)}</span><span class='sl-rank'>{s:.0%}</span></div>"
            for g, s in tastes) + "<div class='sl-head' style='margin-top:8px'>Last artists</div>" + "".join(
            f"<div class='sl-row'><span class='sl-name'>{lists.html.escape(n)}</span></div>"
            for n in cur.numbers["recent"]) + "</div>")
elif cur.title == story.TITLES[1]:
    c0, c1, c2 = st.columns([1.2, 1, 1])
    with c0:
        ui.chart(evidence_figures.underfill_bars(cur.numbers["kept"], cur.numbers["k"],
                                                 cur.numbers["cgsa_returned"]), "story_underfill")
    for col, (t, res) in zip((c1, c2), cur.lists, strict=True):
        col.html(lists.big_list_html(t, res, cur.numbers["k"]))
elif cur.title in story.TITLES[2:4]:
    for col, (t, res) in zip(st.columns(len(cur.lists)), cur.lists, strict=True):
        col.html(lists.big_list_html(t, res, story.K, plain=t == "Unconstrained", reference=t == "Unconstrained"))
elif cur.title == story.TITLES[4]:
    left, right = st.columns([1.3, 1])
    with left:
        if bands:
            ui.chart(evidence_figures.myopia_bands(bands, height=520, big=True), "story_myopia")
        else:
            st.info("The loaded checkpoints carry no myopia curves.")
    with right:
        names = services.names(ctx)
        found = cur.numbers["found"]
        rows = "".join(
            f"<div class='sl-row{' match' if any(i in f for f in found.values()) else ''}'>"
            f"<span class='sl-rank'>{s}</span><span class='sl-name'>{lists.html.escape(names.get(i, str(i)))}</span>"
            f"<span class='sl-mark'>{' · '.join(n for n, f in found.items() if i in f)}</span></div>"
            for s, i in enumerate(cur.numbers["future"], 1))
        st.html(f"<div class='sl-card' data-method='later'><div class='sl-head'>This listener's next artists</div>"
                f"<div class='sl-sub'>green = found by a model in its top {cur.numbers['k']}; the model names "
                f"follow</div>{rows or '<div class=sl-empty>no held-out artists</div>'}</div>")
else:
    rows = evidence.summary(claims)
    per_topic = {}
    for c in claims:
        per_topic.setdefault(c.topic, []).append(c.verdict)
    st.html("<div class='sl-card'>" + "".join(
        f"<div class='sl-row'><span class='sl-name' style='min-width:380px'>{lists.html.escape(t)}</span>"
        f"<span class='sl-name' style='font-weight:400'>" + ", ".join(
            f"{v.count(x)} {x}" for x in evidence.VERDICTS if v.count(x)) + "</span></div>"
        for t, v in per_topic.items()) + "</div>")
    st.page_link("views/evidence.py", label="Every claim with its interval: the Evidence page",
                 icon=":material/fact_check:")

glossary.footnote(cur.headline)
# ← → move between steps. The listener lives in the parent page (a script element there), not in this
# iframe: Streamlit re-mounts the iframe on reruns, and a listener from a detached frame stops firing.
components.html("""<script>
const doc = window.parent.document;
if (!doc.getElementById('story-keys')) {
  const s = doc.createElement('script');
  s.id = 'story-keys';
  s.textContent = `document.addEventListener('keydown', (e) => {
    const t = e.target; if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const label = e.key === 'ArrowRight' ? 'Next →' : e.key === 'ArrowLeft' ? '← Previous' : null;
    if (!label) return;
    const b = [...document.querySelectorAll('button')].find(x => x.innerText.trim() === label && !x.disabled);
    if (b) { e.preventDefault(); b.click(); }
  });`;
  doc.head.appendChild(s);
}
</script>""", height=0)
