"""Fixtures and helpers for the app tests (AppTest and browser): no tests in here.

A tiny TAMIP+CGSA model plus NIP and MIP variants are trained once per session on a
frozen copy of the committed synthetic set (so a regenerated data set cannot break the
catalogue fingerprint mid-run), with myopia metrics, and the app is pointed at them
through its environment variables.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app" / "streamlit_app.py"
ENV_KEYS = ("CLIMBER_CHECKPOINT", "CLIMBER_DATA", "CLIMBER_NIP_CHECKPOINT", "CLIMBER_MIP_CHECKPOINT")
# Tiny and fast (2 shared cores): a few seconds per model.
TINY = dict(d_model=32, n_heads=2, n_layers=1, d_attr=8, ffn_mult=2, max_len=24)
HOLDOUT = 10
DELTA_TAU = 900  # synthetic data: seconds; one request gap (15 min)


@dataclass(frozen=True)
class AppModel:
    data: Path
    checkpoint: Path
    nip: Path
    mip: Path

    def env(self) -> dict[str, str]:
        return dict(zip(ENV_KEYS, map(str, (self.checkpoint, self.data, self.nip, self.mip)), strict=True))


def build_app_model(out: Path) -> AppModel:
    import torch

    from engine import load_dataset
    from engine.core.checkpoint import save
    from engine.core.config import objective_config
    from engine.core.prepared import prepare
    from engine.data.paths import default_dataset_dir, is_prepared
    from engine.evaluation.evaluate import myopia
    from engine.training.loop import fit

    src = default_dataset_dir("synthetic")
    if not is_prepared(src):
        pytest.skip(f"the committed synthetic data set is missing ({src}); run `python -m engine prepare synthetic`")
    data = out / "synthetic"
    shutil.copytree(src, data)
    ds = load_dataset(data)
    prep = prepare(ds, HOLDOUT, day_boundary=True)
    torch.set_num_threads(1)
    paths = {}
    for objective, epochs, sft in (("tamip", 2, 1), ("nip", 1, 0), ("mip", 1, 0)):
        tcfg = objective_config(objective, delta_tau=DELTA_TAU, max_epochs=epochs, sft_epochs=sft, patience=2,
                                negatives=128, batch_size=128, holdout=HOLDOUT, seed=0, lr=3e-3, sft_lr=1e-3)
        model, log = fit(prep, tcfg, torch.device("cpu"), progress=False, **TINY)
        metrics = {"myopia": myopia(model, prep, "cpu")}
        paths[objective] = save(out / f"{objective}.pt", model, tcfg, prep.catalogue.fingerprint, ds.name, metrics)
    return AppModel(data, paths["tamip"], paths["nip"], paths["mip"])


@pytest.fixture(scope="session")
def app_model(tmp_path_factory) -> AppModel:
    return build_app_model(tmp_path_factory.mktemp("app_model"))


@pytest.fixture(scope="session")
def app_env(app_model):
    """Point the app at the tiny model for the whole session; restore the environment after."""
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update(app_model.env())
    yield app_model
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def rec(app_model):
    """The same model the app loads, for computing expected values."""
    from engine import Recommender, load_dataset

    return Recommender.load(app_model.checkpoint, load_dataset(app_model.data), device="cpu")


# --------------------------------------------------------------------------- AppTest helpers


def run_app(query: dict | None = None, page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params.update(query or {})
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


def assert_clean(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def cards(at) -> dict[str, int]:
    """Result list cards on the page: title → number of artists listed."""
    out = {}
    for h in at.html:  # one st.html element per card
        m = re.search(r"data-method='([^']*)'", h.value)
        if m:
            out[html.unescape(m.group(1))] = len(re.findall(r"class='cp-item[ ']", h.value))
    return out


def card_html(at, title: str) -> str:
    for h in at.html:
        if f"data-method='{html.escape(title)}'" in h.value:
            return h.value
    raise AssertionError(f"no card {title!r}; cards: {list(cards(at))}")


def decode(value):
    """Plotly 7 stores arrays as base64 ``bdata``: decode to numpy (nested dicts too)."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            arr = arr.reshape([int(s) for s in str(value["shape"]).split(",")])
        return arr
    return value


def figures(at) -> list[dict]:
    """Plotly figure specs of the page, in order."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def figure_titled(at, text: str) -> dict:
    for fig in figures(at):
        if text in (fig.get("layout", {}).get("title", {}).get("text") or ""):
            return fig
    raise AssertionError(f"no figure titled {text!r}")


def unmd(text: str) -> str:
    from app.ui import unmd as _unmd

    return _unmd(text)


def texts(at) -> str:
    """All visible text elements, joined (for "the message is there" assertions)."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.sidebar.markdown]
    return unmd("\n".join(parts))  # as rendered: untrusted values are backslash-escaped (app.ui.md)
