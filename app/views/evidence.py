"""Evidence: every claim of the paper the studio shows, measured here, with its interval and a verdict.

Generated from assets/metrics.json and results/*.json through :mod:`engine.bench.evidence`
(nothing typed by hand but the paper's own figures).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import evidence_figures, glossary, services, ui
from engine import evidence

inputs = services.evidence_inputs()
claims = services.claims()
metrics = inputs.get("metrics", {})
demo = metrics.get("demo", {})

st.title("Evidence")
st.caption("Each claim of the paper that the studio shows: the figure measured by this project with its 95 % "
           "interval, the paper's figure, and a verdict by one rule.")
with st.expander("How the verdict and the intervals are computed"):
    st.markdown(evidence.VERDICT_RULE + ".")
    st.text(evidence.__doc__.split("**The verdict rule.**")[1].strip())
if not claims:
    st.warning("No measurements found: run `python -m engine evaluate --demo`, `experiment conditioning` and "
               "`experiment delta-tau`.", icon=":material/info:")
    ui.stop()

s = evidence.summary(claims)
c = st.columns(4)
c[0].metric("Claims measured", len(claims))
for col, v in zip(c[1:], evidence.VERDICTS, strict=True):
    col.metric(v.capitalize(), s[v])
sources = {"metrics.json": metrics.get("dataset"), "conditioning.json": inputs["conditioning"].get("dataset"),
           "delta_tau.json": inputs["delta_tau"].get("dataset")}
st.caption("Data sets: " + " · ".join(f"{k}: {ui.md(v)}" for k, v in sources.items() if v)
           + ("" if demo else " · the demo-quality section of metrics.json is not written yet."))


def iv(lo: float, hi: float) -> str:
    return f"[{lo:+.3f}, {hi:+.3f}]"


table = pd.DataFrame([{"verdict": x.verdict, "topic": x.topic, "claim": x.claim, "estimate": round(x.measured, 4),
                       "95 % interval": iv(x.lo, x.hi), "claimed side: above": x.threshold, "paper": x.paper,
                       "measured here": x.quantity, "source": x.source} for x in claims])
topics = list(dict.fromkeys(table["topic"]))
pick = st.multiselect("Topics", topics, default=topics, key="ev_topics")
shown = table[table["topic"].isin(pick)]
st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 520),
             column_config={"verdict": st.column_config.TextColumn(width="small")})
ui.chart(evidence_figures.forest([x.to_dict() for x in claims if x.topic in pick]), "ev_forest")
glossary.footnote(" ".join(table["measured here"]))

st.subheader("Model comparison")
models = metrics.get("models", {})
names = {"nip": "NIP", "mip": "MIP", "tamip": "TAMIP", "tamip_cgsa": "TAMIP + CGSA"}
rows = {}
if models:
    pop = next(iter(models.values())).get("popularity")
    if pop:
        rows["popularity"] = {m: evidence.wilson(pop[m], pop["users"]) for m in ("HR@10", "HR@50")}
    for key, label in names.items():
        ni = models.get(key, {}).get("next_item")
        if ni:
            rows[label] = {m: evidence.wilson(ni[m], ni["users"]) for m in ("HR@10", "HR@50")}
left, right = st.columns(2)
with left:
    if rows:
        ui.chart(evidence_figures.interval_bars(rows, ["HR@10", "HR@50"], "Next artist: popularity, NIP, MIP, "
                                                "TAMIP, TAMIP + CGSA (Wilson 95 %)"), "ev_models")
    bands = evidence.myopia_bands({names.get(k, k): v for k, v in models.items() if k != "tamip_cgsa"})
    if bands:
        ui.chart(evidence_figures.myopia_bands(bands), "ev_myopia")
with right:
    cond = inputs.get("conditioning", {})
    var = cond.get("variants", {})
    if var:
        attr = st.selectbox("Instruction attribute (Table 4)", list(cond.get("baselines", {})), key="ev_attr")
        n = cond["baselines"][attr]["users"]
        t4 = {}
        for v, r in var.items():
            soft = r.get(attr, {}).get("soft")
            if soft:
                t4[cond.get("labels", {}).get(v, v)] = {
                    "HR@50": evidence.wilson(soft["HR@50"], n),
                    "CC@10": (soft["CC@10"], *(soft["CC@10"] + sg * evidence.Z * evidence.se_rate(soft["CC@10"], n)
                                              for sg in (-1, 1)))}
        ui.chart(evidence_figures.interval_bars(t4, ["HR@50", "CC@10"], f"Table 4 variants, instruction = next "
                                                f"artist's {attr} ({n} users)",
                                                paper={"CC@10": evidence.PAPER["table4_cc10"],
                                                       "HR@50": evidence.PAPER["table4_hr50"]["cgsa"]}), "ev_t4")
        st.caption("The paper's figures (black marks) are on industrial data: compare the order, not the level.")
    if demo.get("accuracy"):
        ui.chart(evidence_figures.interval_bars(demo["accuracy"], ["HR@10", "HR@50"],
                                                f"Demo quality: accuracy vs item-kNN and popularity "
                                                f"({demo.get('users')} users, bootstrap 95 %)"), "ev_demo_acc")

st.subheader("Per slice: HR@10 and CC@10 of each method")
slices = evidence.slices(demo)
if slices:
    df = pd.DataFrame(slices)
    tabs = st.tabs([f"by {ui.md(a)}" for a in dict.fromkeys(df["attribute"])])
    for tab, a in zip(tabs, dict.fromkeys(df["attribute"]), strict=True):
        part = df[df["attribute"] == a]
        tab.caption(f"Instruction = the next artist's {ui.md(a)}; {int(part['users'].iloc[0])} users.")
        tab.dataframe(pd.DataFrame({"method": part["method"],
                                    **{m: [f"{v[0]:.1%} [{v[1]:.1%}, {v[2]:.1%}]" for v in part[m]]
                                       for m in ("HR@10", "CC@10")}}), hide_index=True, width="stretch")
else:
    st.info("The per-slice tables come from the demo-quality section of metrics.json "
            "(`python -m engine evaluate --demo`), which is not written yet.", icon=":material/info:")
atoms = evidence.atoms(demo)
if atoms:
    single = [a for a in atoms if a["kind"] == "single"]
    st.caption("Soft CC per instruction value (genre, language, …); composites in the expander.")
    ui.chart(evidence_figures.atom_bars(single, evidence.PAPER["table4_cc10"]), "ev_atoms")
    with st.expander("Composite instructions"):
        st.dataframe(pd.DataFrame([{"instruction": a["instruction"], "eligible artists": a["eligible"],
                                    "CC@10": f"{a['CC@10'][0]:.1%} [{a['CC@10'][1]:.1%}, {a['CC@10'][2]:.1%}]"}
                                   for a in atoms if a["kind"] == "composite"]), hide_index=True, width="stretch")
