"""A preset's "what to notice" states its own lists' numbers and claims Figure 4 only when they show it."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from app.presets import Preset, measured_notice


def _result(genres, overlap):
    return SimpleNamespace(items=pd.DataFrame({"genre": genres}), overlap=overlap, cc=1.0)


def test_mixed_notice_counts_and_claims_only_what_shows():
    p = Preset("mixed", "Mixed", 1, "", "", {"genres": ["hip-hop"]}, "rock")
    res = {"unconditioned": _result(["hip-hop"] * 3 + ["rock"] * 2 + ["pop"] * 5, None),
           "cgsa_a": _result(["hip-hop"] * 10, 0.3), "cgsa_b": _result(["rock"] * 9 + ["pop"], 0.0)}
    text = measured_notice(p, res, 10)
    assert "3 of its 10 artists are hip-hop and 2 rock" in text
    assert "10 hip-hop artists, 3 of them also" in text and "9 rock artists, 0 shared" in text
    assert "Figure 4" not in text
    res["cgsa_b"] = _result(["rock"] * 10, 0.2)
    assert "Figure 4" in measured_notice(p, res, 10)
