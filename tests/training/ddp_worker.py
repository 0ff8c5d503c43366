"""The torchrun worker of ``test_ddp.py``: ``python -m torch.distributed.run ... ddp_worker.py OUT DATA``.

Each process runs the edge-case fit, then the real CLI, with ``fit`` and
``checkpoint.save`` instrumented to leave per-rank weights and a mark of who wrote.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `tests.conftest`

from engine.cli import main  # noqa: E402
from engine.core import checkpoint  # noqa: E402
from engine.core.catalogue import windows  # noqa: E402
from engine.data.schema import ITEM_ID, TIMESTAMP, USER_ID, Dataset  # noqa: E402
from engine.training import distributed  # noqa: E402
from tests.conftest import TINY_MODEL, TOY_DAY, TOY_HOLDOUT, TOY_START, make_toy_dataset  # noqa: E402

DDP_MODEL = {**TINY_MODEL, "dropout": 0.0}  # dropout masks are per process: off for parity
CLI_ARGS = ["--objective", "tamip", "--epochs", "2", "--sft-epochs", "1", "--holdout", str(TOY_HOLDOUT),
            "--batch-size", "64", "--negatives", "-1", "--seed", "0", "--device", "cpu"]  # full softmax
# Batch 3 on 2 processes: shards of 2 and 1 rows, and a last batch of 1 row when the
# window count is ≡ 1 (mod 3): one process then has nothing of its own.
EDGE = dict(max_epochs=2, sft_epochs=1, patience=2, batch_size=3, negatives=8, logq=True, seed=0)


def _one_day_dataset() -> Dataset:
    """Half the users' training part is one request: TAMIP (Δτ=0) sees no history there."""
    rows = []
    for u in range(16):
        t = TOY_START
        for r in range((1 if u % 2 else 4) + 1):
            for i in range(3):
                rows.append((u, 3 * ((u * 7 + r * 3 + i) % 30 + 1), t))
            t += TOY_DAY
    ds0 = make_toy_dataset(n_users=1)
    inter = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, TIMESTAMP]).astype("int64")
    return Dataset("one-day", ds0.items, inter, ds0.attributes, TOY_DAY, "tests", True)


def _edge_fit(out: Path, device) -> None:
    from engine.core.config import objective_config
    from engine.core.prepared import prepare
    from engine.training.loop import fit

    prep = prepare(_one_day_dataset(), 3, True)
    assert len(windows(prep.train_seqs(), DDP_MODEL["max_len"])[0]) % EDGE["batch_size"] == 1
    model, log = fit(prep, objective_config("tamip", **EDGE), device, progress=False, **DDP_MODEL)
    torch.save({"state": model.state_dict(), "log": log}, out / f"edge_rank{distributed.rank()}.pt")


@contextmanager
def _instrumented(out: Path):
    """``fit`` with the tiny dropout-free model that saves each rank's weights; ``save`` that
    leaves a ``saved_by_rank<r>`` mark."""
    import engine.cli.train as train

    real_fit, real_save = train.fit, checkpoint.save

    def fit(prep, tcfg, device, **kw):
        model, log = real_fit(prep, tcfg, device, **{**kw, **DDP_MODEL})
        torch.save({"state": model.state_dict(), "log": log}, out / f"rank{distributed.rank()}.pt")
        return model, log

    def save(path, *args, **kw):
        (out / f"saved_by_rank{distributed.rank()}").touch()
        return real_save(path, *args, **kw)

    train.fit, checkpoint.save = fit, save
    try:
        yield
    finally:
        train.fit, checkpoint.save = real_fit, real_save


def _worker(out: Path, data: Path) -> int:
    """One torchrun process: the edge-case run, then the CLI (both data-parallel)."""
    with distributed.process_group("cpu") as device:
        _edge_fit(out, device)
        with _instrumented(out):
            return main(["train", "--data", str(data), "--out", str(out / "model.pt"), *CLI_ARGS])


if __name__ == "__main__":  # a torchrun worker: tests/training/ddp_worker.py OUT_DIR DATA_DIR
    raise SystemExit(_worker(Path(sys.argv[1]), Path(sys.argv[2])))
