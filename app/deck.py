"""Slide decks (.pptx, python-pptx) of the story and of a case study, with native, editable charts.

Pure: steps / lists / claims in, the file's bytes out. Charts are PowerPoint charts
(line for the myopia curves, clustered columns for counts and HR/CC), so a presenter can
restyle them; the numbers are the ones the app shows.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.util import Emu, Inches, Pt

from engine.data.schema import NAME

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
W, H = Inches(13.333), Inches(7.5)
GREEN, GREY, DARK = RGBColor(0x2E, 0x9E, 0x5B), RGBColor(0x6B, 0x73, 0x85), RGBColor(0x1B, 0x1F, 0x2A)
CLAIMS_PER_SLIDE = 10
MARGIN, BODY_TOP, TABLE_TOP = Inches(0.5), Inches(2.2), Inches(2.1)


class Deck:
    """A 16:9 deck: a title slide, then slides with a title, a headline and content boxes."""

    def __init__(self, title: str, subtitle: str):
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = W, H
        s = self.prs.slides.add_slide(self.prs.slide_layouts[0])
        s.shapes.title.text = title
        s.placeholders[1].text = subtitle

    def slide(self, title: str, headline: str = ""):
        s = self.prs.slides.add_slide(self.prs.slide_layouts[5])  # title only
        s.shapes.title.text = title
        t = s.shapes.title
        t.left, t.top, t.width, t.height = Inches(0.5), Inches(0.3), W - Inches(1), Inches(0.9)
        t.text_frame.paragraphs[0].runs[0].font.size = Pt(30)
        if headline:
            self.text(s, [headline], Inches(0.5), Inches(1.2), W - Inches(1), Inches(0.9), size=20, bold=True)
        return s

    @staticmethod
    def text(s, lines: Sequence[str], x, y, w, h, size: int = 16, bold: bool = False,
             colors: Sequence[RGBColor | None] | None = None):
        tf = s.shapes.add_textbox(x, y, w, h).text_frame
        tf.word_wrap = True
        for n, line in enumerate(lines):
            p = tf.paragraphs[0] if n == 0 else tf.add_paragraph()
            r = p.add_run()
            r.text = line
            r.font.size, r.font.bold = Pt(size), bold
            r.font.color.rgb = (colors[n] if colors and colors[n] else DARK)
        return tf

    def lists(self, s, cards: Sequence[tuple[str, object]], x0=MARGIN, y=BODY_TOP):
        """Result lists side by side: title, returned/matching, one artist per line (green = matches)."""
        w = (W - x0 - Inches(0.5)) / max(len(cards), 1)
        for n, (title, res) in enumerate(cards):
            names = res.items[NAME].astype(str).tolist()
            match = res.items["complies"].astype(bool).tolist()
            lines = [title, f"{len(names)} of {res.k} returned · {sum(match)} match",
                     *(f"{r}. {a}" for r, a in enumerate(names, 1))]
            self.text(s, lines, x0 + Emu(int(w * n)), y, Emu(int(w)) - Inches(0.2), Inches(5), size=14,
                      colors=[DARK, GREY, *(GREEN if m else DARK for m in match)])

    @staticmethod
    def chart(s, kind, categories: Sequence[str], series: Mapping[str, Sequence[float]], x, y, w, h,
              number_format: str = "0%"):
        data = CategoryChartData()
        data.categories = list(categories)
        for name, values in series.items():
            data.add_series(name, [float(v) for v in values])
        ch = s.shapes.add_chart(kind, x, y, w, h, data).chart
        ch.has_legend = len(series) > 1
        if ch.has_legend:
            ch.legend.position, ch.legend.include_in_layout = XL_LEGEND_POSITION.BOTTOM, False
        ch.value_axis.tick_labels.number_format = number_format
        ch.value_axis.tick_labels.number_format_is_linked = False
        return ch

    def table(self, s, header: Sequence[str], rows: Sequence[Sequence[str]], y=TABLE_TOP):
        shape = s.shapes.add_table(len(rows) + 1, len(header), Inches(0.5), y, W - Inches(1),
                                   Inches(0.4) * (len(rows) + 1))
        t = shape.table
        for c, text in enumerate(header):
            t.cell(0, c).text = text
        for r, row in enumerate(rows, 1):
            for c, text in enumerate(row):
                t.cell(r, c).text = str(text)
                t.cell(r, c).text_frame.paragraphs[0].runs[0].font.size = Pt(12)
        return t

    def claims(self, claims: Sequence) -> None:
        header = ["claim", "measured here", "95 % interval", "paper", "verdict"]
        for start in range(0, len(claims), CLAIMS_PER_SLIDE):
            part = claims[start:start + CLAIMS_PER_SLIDE]
            s = self.slide(f"Evidence ({start + 1}–{start + len(part)} of {len(claims)})")
            self.table(s, header, [[f"{c.topic}: {c.quantity}", f"{c.measured:+.3f}", f"[{c.lo:+.3f}, {c.hi:+.3f}]",
                                    c.paper, c.verdict] for c in part], y=Inches(1.3))

    def bytes(self) -> bytes:
        buf = io.BytesIO()
        self.prs.save(buf)
        return buf.getvalue()


def hr_cc_series(conditioning: Mapping, attr: str = "genre") -> tuple[list[str], dict[str, list[float]]]:
    """HR@10 and CC@10 per method for one instruction attribute (results/conditioning.json)."""
    base = conditioning.get("baselines", {}).get(attr, {})
    cg = conditioning.get("variants", {}).get("cgsa", {}).get(attr, {})
    rows = {"unconditioned": base.get("unconditioned"), "post-hoc ×5": base.get("posthoc_x5"),
            "pre-filter": base.get("prefilter"), "CGSA": cg.get("soft"), "CGSA + hard filter": cg.get("hard")}
    rows = {k: v for k, v in rows.items() if v}
    return list(rows), {m: [r[m] for r in rows.values()] for m in ("HR@10", "CC@10")}


def story_deck(steps: Sequence, claims: Sequence, label: str, conditioning: Mapping | None = None,
               bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None) -> bytes:
    d = Deck("Climber-Pilot: instruction-following retrieval", f"Story for {label} · Climber-Pilot Studio")
    for st in steps:
        s = d.slide(f"{st.n} · {st.title}", st.headline)
        nums = st.numbers
        if st.n == 1:
            t = nums.get("tastes", [])[:5]
            if t:
                d.chart(s, XL_CHART_TYPE.COLUMN_CLUSTERED, [g for g, _ in t], {"share of recent artists": [v for _, v in t]},
                        Inches(0.5), Inches(2.2), Inches(7), Inches(4.8))
            d.text(s, ["Last artists", *nums.get("recent", [])], Inches(8), Inches(2.2), Inches(4.8), Inches(4.8))
        elif "kept" in nums:
            d.chart(s, XL_CHART_TYPE.COLUMN_CLUSTERED, [*(f"post-hoc ×{f}" for f in nums["kept"]), "CGSA"],
                    {"artists returned": [*nums["kept"].values(), nums["cgsa_returned"]]},
                    Inches(0.5), Inches(2.2), Inches(5), Inches(4.8), number_format="0")
            d.lists(s, st.lists, x0=Inches(5.8))
        elif st.lists:
            d.lists(s, st.lists)
        elif "future" in nums and bands:
            steps_n = max(len(v) for v in bands.values())
            d.chart(s, XL_CHART_TYPE.LINE_MARKERS, [str(i) for i in range(1, steps_n + 1)],
                    {n: [p for p, _, _ in v] for n, v in bands.items()}, Inches(0.5), Inches(2.2), Inches(7.5),
                    Inches(4.8))
            d.text(s, ["Found by: " + "; ".join(f"{n} {len(f)}" for n, f in nums["found"].items())],
                   Inches(8.3), Inches(2.2), Inches(4.5), Inches(2))
    if conditioning:
        cats, series = hr_cc_series(conditioning)
        if cats:
            s = d.slide("HR@10 and CC@10 per method (instruction = the next artist's genre)")
            d.chart(s, XL_CHART_TYPE.COLUMN_CLUSTERED, cats, series, Inches(0.5), Inches(1.4), W - Inches(1),
                    Inches(5.8))
    d.claims(list(claims))
    return d.bytes()



def case_deck(title: str, history_text: str, artists: Sequence[str], instruction_text: str,
              sections: Sequence[tuple[str, Sequence[tuple[str, object]]]], claims: Sequence,
              curves: Mapping[str, Sequence[float]] | None = None) -> bytes:
    """The case study: title, the listener, each group of lists side by side with a CC@K / overlap chart,
    the myopia curves and the evidence table."""
    d = Deck(title, f"{history_text} · instruction: {instruction_text}")
    s = d.slide("The listener", history_text)
    d.text(s, ["Recent artists", *artists], MARGIN, BODY_TOP, W - Inches(1), Inches(5), size=18)
    for name, cards in sections:
        s = d.slide(name)
        d.lists(s, cards, y=Inches(1.3))
        s = d.slide(f"{name}: CC@K and overlap")
        cats = [t for t, _ in cards]
        d.chart(s, XL_CHART_TYPE.COLUMN_CLUSTERED, cats,
                {"CC@K": [r.cc for _, r in cards], "overlap with unconstrained": [r.overlap or 0.0 for _, r in cards]},
                MARGIN, Inches(1.4), W - Inches(1), Inches(5.8))
    if curves:
        s = d.slide("Myopia: HR@50 of the artist s steps ahead")
        n = max(len(v) for v in curves.values())
        d.chart(s, XL_CHART_TYPE.LINE_MARKERS, [str(i) for i in range(1, n + 1)], curves, MARGIN, Inches(1.4),
                W - Inches(1), Inches(5.8))
    d.claims(list(claims))
    return d.bytes()
