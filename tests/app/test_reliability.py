"""Reliability: ONE table of bad inputs, layer by layer, and what the user gets for each.

Every row names a layer, the bad input, a callable that feeds it in, the typed error the
user gets (``None`` = accepted: the callable returns a description of what happened) and a
fragment the message must contain. The same table is rendered into the README by
``python tests/app/reliability_table.py --write``; a test below keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import app_support as support
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_toy_dataset

from engine.errors import (
    CheckpointError,
    DataError,
    DeviceError,
    EngineError,
    HistoryError,
    InstructionError,
)

# Session fixtures shared with the app tests (tiny model on the synthetic set, env vars set).
app_model, app_env = support.app_model, support.app_env

ITEMS = "item_id,name,genre\n1,A,pop\n2,B,rock\n"
INTER_HEADER = "user_id,item_id,timestamp\n"
HUGE_ROWS = 500_000


class Ctx:
    """What a trigger may use: ``tmp`` (a fresh folder) and session fixtures, built on demand."""

    def __init__(self, request: pytest.FixtureRequest, tmp: Path) -> None:
        self.request, self.tmp = request, tmp

    def __getattr__(self, name: str):
        return self.request.getfixturevalue(name)


@dataclass(frozen=True)
class Row:
    layer: str
    case: str
    trigger: Callable[[Ctx], object]
    expected: type[BaseException] | None  # None: accepted; the trigger returns what happened
    fragment: str
    gpu_skip: bool = False  # the case only exists on a machine without a GPU
    outcome: str = "accepted"  # for expected=None: what the user sees instead of an exception

    @property
    def id(self) -> str:
        return f"{self.layer}: {self.case}"


# --------------------------------------------------------------------------- data files


def _generic(ctx: Ctx, inter: str | bytes, items: str = ITEMS):
    from engine.data.generic import build_generic

    (ctx.tmp / "inter.csv").write_bytes(inter if isinstance(inter, bytes) else inter.encode())
    (ctx.tmp / "items.csv").write_text(items)
    return build_generic(ctx.tmp / "inter.csv", ctx.tmp / "items.csv")


def _hetrec_extra_column(ctx: Ctx):
    from engine.data.hetrec import read_hetrec
    from tests.data.test_validation import _hetrec

    return read_hetrec(_hetrec(ctx.tmp / "raw", **{"user_artists.dat": "userID\tartistID\tweight\tx\n2\t1\t5\t0\n"}))


def _prepared_out_of_order(ctx: Ctx):
    from engine.data.io import load_dataset, save_dataset
    from engine.data.schema import TIMESTAMP

    ds = make_toy_dataset(n_users=4)
    folder = save_dataset(ds, ctx.tmp / "ds")
    inter = ds.interactions.copy()
    inter.loc[[0, 1], TIMESTAMP] = inter.loc[[1, 0], TIMESTAMP].to_numpy() + [0, 10**6]
    inter.to_parquet(folder / "interactions.parquet")
    return load_dataset(folder)


def _generic_out_of_order(ctx: Ctx) -> str:
    ds = _generic(ctx, INTER_HEADER + "1,2,20\n1,1,10\n")
    assert ds.interactions["item_id"].tolist() == [1, 2]
    return "accepted: sorted by user, then time (ties keep file order)"


def _generic_huge(ctx: Ctx) -> str:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(HUGE_ROWS // 20), 20)
    frame = pd.DataFrame({"user_id": users, "item_id": rng.integers(1, 3, HUGE_ROWS),
                          "timestamp": 1_500_000_000 + np.arange(HUGE_ROWS)})
    frame.to_csv(ctx.tmp / "inter.csv", index=False)
    mb = (ctx.tmp / "inter.csv").stat().st_size / 1e6
    assert mb > 5
    from engine.data.generic import build_generic

    (ctx.tmp / "items.csv").write_text(ITEMS)
    ds = build_generic(ctx.tmp / "inter.csv", ctx.tmp / "items.csv")
    assert len(ds.interactions) == HUGE_ROWS
    return f"accepted: loads ({HUGE_ROWS} rows, {mb:.0f} MB); the loaders have no size limit"


# --------------------------------------------------------------------------- engine API


def _hist(rec, n: int = 5):
    from engine.data.schema import ITEM_ID

    return [int(i) for i in rec.items[ITEM_ID].iloc[:n]]


def _recommend(rec, history, instruction=None, **kw):
    from engine import Instruction

    return rec.recommend(history, instruction or Instruction(), **kw)


def _repeated(ctx: Ctx) -> str:
    rec = ctx.tiny_recommender
    a, b = _hist(rec, 2)
    h = rec.make_history([a, b, a, a])
    assert _recommend(rec, h).n_returned == 10
    return "accepted with a note: " + "; ".join(h.notes)


def _too_long(ctx: Ctx) -> str:
    rec = ctx.tiny_recommender
    n = rec.model.cfg.max_len * 3
    h = rec.make_history(_hist(rec, n))
    assert len(h) == n and _recommend(rec, h).n_returned == 10
    return "accepted with a note: " + "; ".join(h.notes)


def _contradictory(ctx: Ctx) -> str:
    from engine import Instruction

    rec = ctx.tiny_recommender
    cmp = rec.compare(rec.user_history(0), Instruction(genres={"jazz"}, languages={"de"}), k=10)
    assert cmp.eligible == 0
    for m in ("posthoc", "prefilter", "cgsa_hard"):
        assert cmp.results[m].n_returned == 0 and cmp.results[m].cc == 0.0
    return f"accepted: eligible = 0, hard-filtered lists empty; note: {cmp.results['cgsa_hard'].note}"


def _api(call: Callable) -> Callable[[Ctx], object]:
    return lambda ctx: call(ctx.tiny_recommender)


# --------------------------------------------------------------------------- checkpoints


def _ckpt_bytes(ctx: Ctx, data: bytes):
    from engine.serving.recommender import Recommender

    path = ctx.tmp / "bad.pt"
    path.write_bytes(data)
    return Recommender.load(path, ctx.tiny_dataset, device="cpu")


def _truncated(ctx: Ctx):
    data = Path(ctx.tiny_checkpoint).read_bytes()
    return _ckpt_bytes(ctx, data[: len(data) // 2])


def _other_version(ctx: Ctx):
    from engine.core import checkpoint

    raw = torch.load(ctx.tiny_checkpoint, map_location="cpu", weights_only=True)
    raw["version"] = checkpoint.VERSION + 1
    torch.save(raw, ctx.tmp / "v2.pt")
    return checkpoint.load(ctx.tmp / "v2.pt")


def _other_catalogue(ctx: Ctx):
    from engine.serving.recommender import Recommender

    return Recommender.load(ctx.tiny_checkpoint, make_toy_dataset(seed=7), device="cpu")


class _RunsCode:
    """Unpickling this would create a marker file (if the loader ran code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _code_pickle(ctx: Ctx):
    from engine.core import checkpoint

    marker = ctx.tmp / "MARKER"
    path = ctx.tmp / "evil.pt"
    raw = torch.load(ctx.tiny_checkpoint, map_location="cpu", weights_only=True)
    raw["metrics"] = {"payload": _RunsCode(marker)}
    torch.save(raw, path)
    try:
        return checkpoint.load(path)
    finally:
        assert not marker.exists(), "loading the checkpoint ran code"


# --------------------------------------------------------------------------- device


def _cuda(ctx: Ctx):
    from engine.serving.recommender import Recommender

    return Recommender.load(ctx.tiny_checkpoint, ctx.tiny_dataset, device="cuda")


# --------------------------------------------------------------------------- app


def _app(ctx: Ctx, query: dict | None = None, page: str | None = None):
    ctx.app_env  # noqa: B018 - the fixture points the app at the tiny model
    at = support.run_app(query, page)
    support.assert_clean(at)
    return at


def _junk_url(ctx: Ctx) -> str:
    at = _app(ctx, {"page": "nope", "user": "abc", "k": "0", "overfetch": "-1", "genres": "<script>",
                    "explicit": "maybe", "custom": "x,999999999", "blocked": "[]", "zzz": "1"})
    assert at.title[0].value == "Listening history"
    return "warning: " + " ".join(w.value for w in at.warning)


def _upload(ctx: Ctx, name: str, data: bytes) -> str:
    at = _app(ctx, page="case_study")
    at.file_uploader(key="cs_import").set_value((name, data, "application/json")).run()
    support.assert_clean(at)
    assert at.title[0].value == "Case study & share"
    return "error message: " + " ".join(e.value for e in at.error)


def _oversized_upload(ctx: Ctx) -> str:
    import tomllib

    from engine.data.paths import repo_root

    limit = tomllib.loads((repo_root() / ".streamlit/config.toml").read_text())["server"]["maxUploadSize"]
    assert limit == 5  # the server refuses larger uploads before the app sees them
    big = b'{"format": "climber-pilot-studio/view", "pad": "' + b"x" * 3_000_000 + b'"'  # truncated: invalid
    return f"server.maxUploadSize = {limit} MB; " + _upload(ctx, "big.json", big)


GPU = torch.cuda.is_available()

ROWS: list[Row] = [
    # data files
    Row("data", "interactions CSV missing a column", lambda c: _generic(c, "user_id,item_id\n1,1\n"),
        DataError, "missing column(s) ['timestamp']"),
    Row("data", "HetRec file with an extra column", _hetrec_extra_column, DataError, "unexpected column(s) ['x']"),
    Row("data", "timestamp not a number", lambda c: _generic(c, INTER_HEADER + "1,1,yesterday\n"),
        DataError, "timestamp 'yesterday' is neither integer seconds nor an ISO 8601"),
    Row("data", "timestamps in milliseconds", lambda c: _generic(c, INTER_HEADER + "1,1,1700000000000\n"),
        DataError, "milliseconds"),
    Row("data", "file not UTF-8 (latin-1)", lambda c: _generic(c, (INTER_HEADER + "1,1,10\n1,caf\xe9,11\n").encode("latin-1")),
        DataError, "not valid utf-8"),
    Row("data", "duplicate interaction rows", lambda c: _generic(c, INTER_HEADER + "1,1,10\n1,1,10\n"),
        DataError, "line 3: duplicate user_id=1, item_id=1, timestamp=10"),
    Row("data", "duplicate catalogue ids", lambda c: _generic(c, INTER_HEADER + "1,1,10\n", "item_id,name\n1,A\n1,B\n"),
        DataError, "duplicate item_id='1'"),
    Row("data", "interactions CSV out of time order", _generic_out_of_order, None, "sorted by user, then time"),
    Row("data", "prepared data not sorted by time", _prepared_out_of_order, DataError, "not sorted by user, then time"),
    Row("data", "dangling item id", lambda c: _generic(c, INTER_HEADER + "1,1,10\n1,3,20\n"),
        DataError, "item_id '3' is not in the catalogue"),
    Row("data", "empty file", lambda c: _generic(c, b""), DataError, "empty"),
    Row("data", f"huge interactions CSV ({HUGE_ROWS:,} rows)", _generic_huge, None, "no size limit", outcome="accepted (loads in ~1 s)"),
    # engine API
    Row("engine", "empty history", _api(lambda r: r.make_history([])), HistoryError, "the history is empty"),
    Row("engine", "unknown item in history", _api(lambda r: r.make_history([*_hist(r, 2), 999_999])),
        HistoryError, "not in this catalogue (e.g. 999999)"),
    Row("engine", "repeated items", _repeated, None, "repeated artist(s) kept as listened", outcome="accepted with a note"),
    Row("engine", "history longer than max_len", _too_long, None, "only the most recent 16 of 48 items are used",
        outcome="accepted with a note"),
    Row("engine", "instruction value not in the catalogue",
        _api(lambda r: _recommend(r, r.user_history(0), __import__("engine").Instruction(genres={"polka"}))),
        InstructionError, "no catalogue item has genre = polka"),
    Row("engine", "contradictory instruction (jazz ∧ de)", _contradictory, None,
        "only 0 catalogue items satisfy the instruction", outcome="accepted: 0 eligible, hard-filtered lists empty, note"),
    Row("engine", "K = 0", _api(lambda r: _recommend(r, r.user_history(0), k=0)),
        InstructionError, "K must be a positive whole number, got 0"),
    Row("engine", "K < 0", _api(lambda r: _recommend(r, r.user_history(0), k=-3)),
        InstructionError, "K must be a positive whole number, got -3"),
    Row("engine", "K larger than the catalogue", _api(lambda r: _recommend(r, r.user_history(0), k=10_000)),
        InstructionError, "larger than the catalogue (120 items)"),
    Row("engine", "unknown method", _api(lambda r: _recommend(r, r.user_history(0), method="magic")),
        InstructionError, "unknown method 'magic'"),
    Row("engine", "over-fetch < 1", _api(lambda r: _recommend(r, r.user_history(0), method="posthoc", overfetch=0)),
        InstructionError, "over-fetch factor must be at least 1"),
    # checkpoints
    Row("checkpoint", "corrupt file", lambda c: _ckpt_bytes(c, b"not a checkpoint at all"),
        CheckpointError, "bad.pt was refused: it is corrupt"),
    Row("checkpoint", "truncated file", _truncated, CheckpointError, "bad.pt is corrupt or truncated"),
    Row("checkpoint", "other format version", _other_version, CheckpointError, "has format version 2, this code reads 1"),
    Row("checkpoint", "trained on another catalogue", _other_catalogue, CheckpointError, "trained on another catalogue"),
    Row("checkpoint", "pickle that would run code", _code_pickle, CheckpointError, "evil.pt was refused"),
    # device
    Row("device", "`cuda` on a machine without a GPU", _cuda, DeviceError, "a GPU ('cuda') was requested", gpu_skip=True),
    # app
    Row("app", "junk URL query parameters", _junk_url, None, "were not understood and were ignored",
        outcome="no exception; page warning"),
    Row("app", "malformed JSON upload", lambda c: _upload(c, "x.json", b"{not json"), None,
        "Could not import x.json: this file is not valid JSON", outcome="no exception; error message"),
    Row("app", "oversized upload (3 MB, not a view)", _oversized_upload, None, "Could not import big.json",
        outcome="no exception; error message (the server refuses uploads over 5 MB: server.maxUploadSize)"),
]


from reliability_hardening import ROWS as HARDENING_ROWS  # noqa: E402 - needs Row, defined above

ROWS += HARDENING_ROWS


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if row.gpu_skip and GPU:
        pytest.skip("this machine has a GPU")
    ctx = Ctx(request, tmp_path)
    if row.expected is None:
        got = row.trigger(ctx)
        assert isinstance(got, str) and row.fragment in got, (row.fragment, got)
        return
    with pytest.raises(row.expected) as info:
        row.trigger(ctx)
    assert row.fragment in str(info.value), (row.fragment, str(info.value))
    if isinstance(info.value, EngineError):
        assert info.value.hint.strip(), f"{type(info.value).__name__} without a hint: {info.value}"
        assert info.value.message.strip()


def test_rows_are_unique_and_cover_every_layer() -> None:
    assert len({r.id for r in ROWS}) == len(ROWS)
    assert {r.layer for r in ROWS} == {"data", "engine", "checkpoint", "device", "app", "cli"}


def test_readme_table_is_current() -> None:
    import reliability_table

    text = reliability_table.README.read_text(encoding="utf-8")
    assert reliability_table.region(text) == reliability_table.render(ROWS), (
        "README reliability table is stale: run `python tests/app/reliability_table.py --write`"
    )

