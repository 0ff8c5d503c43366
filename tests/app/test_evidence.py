"""engine.bench.evidence: the verdict rule, the intervals, and claims read from the project's JSON."""

from __future__ import annotations

import json

import pytest

from engine import evidence
from engine.paths import METRICS_JSON, RESULTS_DIR


def ci(mean, half):
    return [mean, mean - half, mean + half]


DEMO = {  # the shape engine.evaluation.demo.run_demo writes
    "users": 300, "protocol": "test",
    "accuracy": {"popularity": {"HR@10": ci(0.02, 0.01), "HR@50": ci(0.17, 0.04)},
                 "item-kNN": {"HR@10": ci(0.15, 0.04), "HR@50": ci(0.40, 0.05)},
                 "TAMIP + CGSA": {"HR@10": ci(0.20, 0.04), "HR@50": ci(0.46, 0.05)}},
    "beyond": {"popularity": {"major_genre_coverage": ci(0.05, 0.02)},
               "TAMIP + CGSA": {"major_genre_coverage": ci(0.64, 0.04)}},
    "compliance": {"single": {"genre=rock": {"attribute": "genre", "eligible": 80, "CC@10": ci(0.9, 0.03)},
                              "genre=pop": {"attribute": "genre", "eligible": 70, "CC@10": ci(0.7, 0.03)}},
                   "composite": {}},
    "by_attribute": {"genre": {"users": 300, **{m: {"HR@10": ci(h, 0.05), "CC@10": ci(c, 0.03)} for m, h, c in (
        ("unconditioned", 0.2, 0.4), ("posthoc_x1", 0.2, 0.4), ("posthoc_x5", 0.33, 0.66), ("prefilter", 0.48, 0.97),
        ("cgsa", 0.3, 0.8), ("cgsa_hard", 0.49, 0.97))}, "cgsa_hard_minus_prefilter_HR": [0.01, -0.007, 0.03]}},
}


@pytest.mark.parametrize(("measured", "lo", "threshold", "expected"), [
    (0.3, 0.1, 0.0, "reproduced"), (0.3, -0.1, 0.0, "partly"), (-0.1, -0.3, 0.0, "not"), (0.0, -0.1, 0.0, "not"),
    (0.9, 0.85, 0.8175, "reproduced"), (0.82, 0.79, 0.8175, "partly"), (0.8, 0.76, 0.8175, "not"),
])
def test_verdict_rule(measured, lo, threshold, expected):
    assert evidence.verdict(measured, lo, threshold) == expected


def test_wilson_interval_contains_the_rate_and_narrows_with_users():
    p, lo, hi = evidence.wilson(0.1, 100)
    assert lo < p < hi and lo >= 0 and hi <= 1
    _, lo2, hi2 = evidence.wilson(0.1, 10_000)
    assert hi2 - lo2 < (hi - lo) / 5
    assert evidence.wilson(0.0, 50)[1] == 0.0  # never below 0


def test_difference_of_stored_intervals_combines_their_widths():
    d, lo, hi = evidence.diff_ci([0.5, 0.4, 0.6], [0.2, 0.1, 0.3])
    assert d == pytest.approx(0.3) and hi - lo == pytest.approx(2 * 0.1 * 2 ** 0.5, rel=1e-3)


def test_demo_claims_follow_the_stored_figures():
    claims = evidence.demo_claims(DEMO)
    by = {(c.topic, c.quantity.split(" (")[0]): c for c in claims}
    pop = by[("Accuracy vs baselines", "HR@10 TAMIP + CGSA − popularity")]
    assert pop.measured == pytest.approx(0.18) and pop.verdict == "reproduced"
    knn = by[("Accuracy vs baselines", "HR@10 TAMIP + CGSA − item-kNN")]
    assert knn.verdict == "partly"  # +0.05 with intervals ±0.04 each: the combined interval reaches 0
    paired = next(c for c in claims if "paired" in c.quantity)
    assert (paired.measured, paired.lo, paired.hi) == (0.01, -0.007, 0.03) and paired.verdict == "partly"
    soft = next(c for c in claims if c.topic == "Soft CC per instruction")
    assert soft.measured == pytest.approx(0.8) and soft.threshold == evidence.PAPER["table4_cc10"]
    assert soft.verdict == "not"  # 0.80 < 0.8175
    assert all(c.lo <= c.measured <= c.hi for c in claims)


def test_slices_and_atoms_read_every_method():
    rows = evidence.slices(DEMO)
    assert {r["method"] for r in rows} == {"unconditioned", "posthoc_x1", "posthoc_x5", "prefilter", "cgsa",
                                           "cgsa_hard"}
    assert all(len(r["HR@10"]) == 3 and len(r["CC@10"]) == 3 for r in rows)
    assert [a["instruction"] for a in evidence.atoms(DEMO)] == ["genre=pop", "genre=rock"]  # lowest first


def test_claims_from_the_committed_results_have_intervals_and_verdicts(tmp_path):
    inputs = evidence.load_inputs(METRICS_JSON, RESULTS_DIR)
    claims = evidence.claims(inputs)
    topics = {c.topic for c in claims}
    if inputs["conditioning"]:
        assert {"CGSA vs post-hoc", "CGSA vs pre-filter", "Table 4 conditioning"} <= topics
    if inputs["metrics"].get("models"):
        assert {"NIP / MIP / TAMIP", "Myopia"} <= topics
    assert all(c.lo <= c.measured <= c.hi and c.verdict in evidence.VERDICTS for c in claims)
    # the metrics path is a parameter: a demo section written elsewhere is read from there
    without = {k: v for k, v in inputs["metrics"].items() if k != "demo"}
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(without))
    fewer = evidence.claims(evidence.load_inputs(bare, RESULTS_DIR))
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**without, "demo": DEMO}))
    more = evidence.claims(evidence.load_inputs(path, RESULTS_DIR))
    assert len(more) > len(fewer) and "Accuracy vs baselines" in {c.topic for c in more}
    assert evidence.claims(evidence.load_inputs(tmp_path / "missing.json", tmp_path)) == []
