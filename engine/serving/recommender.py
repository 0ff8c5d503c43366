"""The engine's public API: load a checkpoint with its catalogue, recommend, compare, explain.

The app and the CLI call only this module. Every user-facing problem raises an
:class:`~engine.errors.EngineError` subclass whose message says what is wrong and what to
do. Filtering contract: ``posthoc`` may return fewer than K items (what is left after
dropping non-matching ones); the hard-filtered methods return fewer than K only when
fewer than K catalogue items satisfy the instruction.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from engine.core import checkpoint as ckpt_io
from engine.core import masks
from engine.core.catalogue import Catalogue, user_sequences
from engine.core.conditions import NO_CONDITION, CondVocab, encode
from engine.core.device import describe, resolve_device
from engine.core.instructions import Instruction, satisfies
from engine.data.schema import GENRE, ITEM_ID, NAME, Dataset
from engine.data.split import UserSeq, split_users
from engine.errors import HistoryError, InstructionError
from engine.serving.history import History, encode_history
from engine.serving.inference import queries
from engine.serving.results import (
    COMPLIES,
    HEARD,
    IN_UNCONDITIONED,
    RANK,
    SCORE,
    AutoResult,
    Comparison,
    Explanation,
    RecResult,
    diversity,
    merge_round_robin,
)
from engine.serving.retrieval import METHODS, ItemIndex, run_method, run_methods

# The Instruction fields that hold a set of attribute values, by the attribute they constrain
# (genre → genres, language → languages, ...): what personalised() turns a category into.
_VALUE_FIELDS = {next(iter(Instruction(**{f.name: frozenset({"?"})}).atoms())): f.name
                 for f in fields(Instruction) if f.type == "frozenset[str]"}


def instruction_for(attribute: str, value: str) -> Instruction:
    """The one-atom instruction ``attribute = value`` (e.g. ``language = de``)."""
    if attribute not in _VALUE_FIELDS:
        raise InstructionError(f"an instruction cannot name one value of {attribute!r}",
                               f"use one of {', '.join(_VALUE_FIELDS)}")
    return Instruction(**{_VALUE_FIELDS[attribute]: frozenset({value})})


class Recommender:
    """A trained model, its catalogue and a FAISS index over the item vectors."""

    ALLOWED_CACHE = 256  # instructions whose catalogue mask is kept

    def __init__(self, model, ck: ckpt_io.Checkpoint, dataset: Dataset, catalogue: Catalogue, device) -> None:
        self.model = model
        self.checkpoint = ck
        self.dataset = dataset
        self.catalogue = catalogue
        self.device = device
        with torch.no_grad():
            self.item_vectors = model.items.all_items().cpu().numpy()
        self.index = ItemIndex(self.item_vectors)
        self._item_rows = catalogue.items.set_index(ITEM_ID, drop=False)
        # column arrays: a result table is built by fancy indexing, not by pandas row takes
        self._columns = {c: catalogue.items[c].to_numpy() for c in catalogue.items.columns}
        self._users: dict[int, History] | None = None
        self._allowed: dict[Instruction, np.ndarray] = {}  # catalogue masks: the catalogue never changes

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, checkpoint: str | Path, dataset: Dataset, device: str = "auto") -> Recommender:
        dev = resolve_device(device)
        ck, cat = ckpt_io.load_for(checkpoint, dataset)
        return cls(ck.build(dev), ck, dataset, cat, dev)

    @property
    def device_label(self) -> str:
        return describe(self.device)

    @property
    def items(self) -> pd.DataFrame:
        return self.catalogue.items

    # ------------------------------------------------------------------ histories
    def users(self) -> dict[int, History]:
        """Each user's history at the evaluation cut (held-out future kept aside)."""
        if self._users is None:
            tc = self.checkpoint.train_config
            seqs = user_sequences(self.dataset, self.catalogue)
            train_only, splits = split_users(seqs, tc.holdout, tc.day_boundary and self.dataset.time_resolution > 0)
            ids = self.catalogue.items[ITEM_ID].to_numpy()
            out = {
                sp.user_id: replace(
                    self._to_history(sp.user_id, sp.history),
                    future=tuple(int(i) for i in ids[sp.future.items - 1]),
                )
                for sp in splits
            }
            for s in train_only:
                out[s.user_id] = self._to_history(s.user_id, s)
            self._users = out
        return self._users

    def _to_history(self, user_id: int, s: UserSeq) -> History:
        ids = self.catalogue.items[ITEM_ID].to_numpy()[s.items - 1]
        res = max(self.dataset.time_resolution, 1)
        return History(tuple(int(i) for i in ids), tuple(int(t) * res for t in s.ticks), user_id)

    def user_history(self, user_id: int) -> History:
        users = self.users()
        if int(user_id) not in users:
            raise HistoryError(f"user {user_id} is not in this data set", "pick a user from the list")
        return users[int(user_id)]

    def make_history(self, item_ids, timestamps=None) -> History:
        """Validate a custom history; unknown items raise, long ones keep the most recent."""
        item_ids = [int(i) for i in item_ids]
        if not item_ids:
            raise HistoryError("the history is empty", "add at least one artist")
        self.catalogue.indices(item_ids)
        if timestamps is None:
            step = max(self.dataset.time_resolution, 1)
            timestamps = [i * step for i in range(len(item_ids))]
        timestamps = [int(t) for t in timestamps]
        if len(timestamps) != len(item_ids):
            raise HistoryError("history items and timestamps differ in length", "give one timestamp per item")
        if any(b < a for a, b in zip(timestamps, timestamps[1:], strict=False)):
            raise HistoryError("history timestamps go backwards", "order the history oldest first")
        notes = []
        repeats = len(item_ids) - len(set(item_ids))
        if repeats:
            notes.append(f"{repeats} repeated artist(s) kept as listened")
        if len(item_ids) > self.model.cfg.max_len:
            notes.append(f"only the most recent {self.model.cfg.max_len} of {len(item_ids)} items are used")
        return History(tuple(item_ids), tuple(timestamps), notes=tuple(notes))

    def _tensors(self, history: History):
        return encode_history(history, self.catalogue, self.dataset.time_resolution,
                              self.model.cfg.max_len, self.device)

    # ------------------------------------------------------------------ retrieval
    def eligible(self, instruction: Instruction, history: History | None = None) -> np.ndarray:
        """Bool mask over catalogue rows: items the instruction (and its policies) allows."""
        key = replace(instruction, exclude_heard=False)
        mask = self._allowed.get(key)  # one lookup: safe when another thread clears the cache
        if mask is None:
            mask = satisfies(self.catalogue.items, key)
            if len(self._allowed) >= self.ALLOWED_CACHE:
                self._allowed.clear()
            self._allowed[key] = mask
        ok = mask.copy()
        if instruction.exclude_heard and history is not None:
            ok[self.catalogue.indices(history.item_ids) - 1] = False  # model index i is row i − 1
        return ok

    def _seen(self, history: History, instruction: Instruction) -> np.ndarray | None:
        """Items no list may return: the history, unless the instruction allows heard artists."""
        if not instruction.exclude_heard:
            return None
        seen = np.zeros(self.catalogue.n_items, dtype=bool)
        seen[self.catalogue.indices(history.item_ids) - 1] = True  # model index i is row i − 1
        return seen

    def _query_rows(self, seq, ts, instructions: list[Instruction]) -> tuple[np.ndarray, float, float]:
        """``[1 + P, d]`` queries: row 0 unconditioned, then one per instruction.

        The backbone runs once and branch 1 once for all rows: the unconditioned row is
        the no-condition token over the whole history, so it rides in the same batch.
        Returns the rows and the backbone and branch times (ms).
        """
        t0 = time.perf_counter()
        with torch.no_grad():
            bb = self.model.backbone(seq, ts)
            t1 = time.perf_counter()
            u, *_ = queries(self.model, seq, ts, encode(self.model, [Instruction(), *instructions]), bb=bb)
            rows = u[0].cpu().numpy()
        t2 = time.perf_counter()
        return rows, (t1 - t0) * 1000, (t2 - t1) * 1000

    def compare(
        self,
        history: History,
        instruction: Instruction,
        k: int = 10,
        overfetch: int = 5,
        methods=METHODS,
    ) -> Comparison:
        """Every method on one history: backbone once, branch 1 once for both queries."""
        self._check_k(k)
        if overfetch < 1:
            raise InstructionError("the over-fetch factor must be at least 1", "use 1 for no over-fetch")
        seq, ts = self._tensors(history)
        conds = [instruction] if instruction.has_conditions else []
        rows, bb_ms, branch_ms = self._query_rows(seq, ts, conds)
        u_plain, u_cond = rows[0], (rows[1] if conds else None)
        allowed = self.eligible(instruction, history)
        seen = self._seen(history, instruction)
        results: dict[str, RecResult] = {}
        plain_set: set[int] | None = None
        for method in ("unconditioned", *[m for m in methods if m != "unconditioned"]):
            t2 = time.perf_counter()
            scores, top = run_method(self.index, method, u_plain, u_cond, allowed, k, overfetch, seen)
            ms = bb_ms + branch_ms + (time.perf_counter() - t2) * 1000
            if method == "unconditioned":  # every other list reports its overlap with this one
                plain_set = set(self._columns[ITEM_ID][np.asarray(top, dtype=np.int64) - 1].tolist())
            if method in methods:
                ref = None if method == "unconditioned" else plain_set
                results[method] = self._result(method, scores, top, allowed, history, k, ms, ref, overfetch)
        return Comparison(history, instruction, results, int(allowed.sum()), bb_ms)

    def recommend(self, history: History, instruction: Instruction, k: int = 10,
                  method: str = "cgsa", overfetch: int = 5) -> RecResult:
        if method not in METHODS:
            raise InstructionError(f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
        return self.compare(history, instruction, k, overfetch, (method,)).results[method]

    def _check_k(self, k: int) -> None:
        if not isinstance(k, (int, np.integer)) or k <= 0:
            raise InstructionError(f"K must be a positive whole number, got {k!r}", "use e.g. K = 10")
        if k > self.catalogue.n_items:
            raise InstructionError(
                f"K = {k} is larger than the catalogue ({self.catalogue.n_items} items)",
                f"use K ≤ {self.catalogue.n_items}",
            )

    def _result(self, method, scores, top, allowed, history, k, ms, plain_set, overfetch) -> RecResult:
        r = np.asarray(top, dtype=np.int64) - 1
        ids = self._columns[ITEM_ID][r]
        df = pd.DataFrame({
            RANK: np.arange(1, len(r) + 1), **{c: v[r] for c, v in self._columns.items()},
            SCORE: scores.astype(float), COMPLIES: allowed[r],
            HEARD: np.isin(ids, np.asarray(history.item_ids, dtype=ids.dtype)),
            IN_UNCONDITIONED: np.isin(ids, list(plain_set)) if plain_set is not None else True,
        }, copy=False)
        cc = float(df[COMPLIES].sum()) / k
        overlap = float(df[IN_UNCONDITIONED].mean()) if plain_set is not None and len(df) else None
        note = ""
        if method == "posthoc" and len(df) < k:
            note = f"post-hoc kept {len(df)} of {k * overfetch} over-fetched candidates (K={k})"
        elif len(df) < k:
            note = f"only {len(df)} catalogue items satisfy the instruction"
        return RecResult(method, df, k, cc, overlap, ms, note)

    # ------------------------------------------------------------------ personalised
    def personalised(self, history: History, k: int = 10, top_p: int = 3, window: int = 20,
                     attribute: str = GENRE) -> AutoResult:
        """The paper's General scenario: top-P categories of the recent window as instructions."""
        self._check_k(k)
        seq, ts = self._tensors(history)  # validates the history first
        if attribute not in self.catalogue.items.columns:
            raise InstructionError(f"this catalogue has no '{attribute}' attribute",
                                   f"use one of {', '.join(self.catalogue.attributes)}")
        recent = self._item_rows.loc[list(history.item_ids[-window:]), attribute]
        counts = Counter(v for v in recent if v != "unknown")
        if not counts:
            raise InstructionError(
                f"the recent history has no known {attribute}", "compose an instruction by hand"
            )
        top = counts.most_common(top_p)
        total = sum(c for _, c in top)
        instrs = [(instruction_for(attribute, v), c / total) for v, c in top]
        t0 = time.perf_counter()
        rows, _, _ = self._query_rows(seq, ts, [i for i, _ in instrs])
        # one FAISS call for the whole request: row 0 unconditioned, rows 1..P the instructions
        (plain_scores, plain_top), *found = run_methods(self.index, "cgsa", rows[0], rows, None, k,
                                                        seen=self._seen(history, Instruction()))
        ms = (time.perf_counter() - t0) * 1000
        everything = np.ones(self.catalogue.n_items, dtype=bool)
        unconditioned = self._result("unconditioned", plain_scores, plain_top, everything, history, k, ms, None, 1)
        plain_set = set(unconditioned.items[ITEM_ID])
        lists = {}
        for (ins, _), (s, i) in zip(instrs, found, strict=True):
            allowed = self.eligible(ins, history)
            lists[ins.describe()] = self._result("cgsa", s, i, allowed, history, k, ms, plain_set, 1)
        merged = merge_round_robin(list(lists.values()), k, plain_set, ms)
        div = {name: diversity(r.items) for name, r in (("unconditioned", unconditioned), ("merged", merged))}
        return AutoResult(instrs, lists, merged, unconditioned, div)

    # ------------------------------------------------------------------ explanation
    def explain(self, history: History, instruction: Instruction) -> Explanation:
        seq, ts = self._tensors(history)
        n = min(len(history), self.model.cfg.max_len)
        enc = encode(self.model, [instruction]) if instruction.has_conditions else None
        with torch.no_grad():
            _, bb, mask, w = queries(self.model, seq, ts, enc)
        m = mask.shape[-1] - seq.shape[1]
        crop = slice(seq.shape[1] - n, seq.shape[1])
        ids = list(history.item_ids[-n:])
        rows = self._item_rows.loc[ids]
        delta = self.checkpoint.train_config.delta_tau
        tamip = masks.target_visibility_mask(ts, bb.valid, delta)
        cond_ids = enc.cond_ids[0].tolist() if enc is not None else [0]
        cond_labels = [self._token_label(c) for c in cond_ids[:m]]
        hist_mask = mask[0, 0, m:][crop]
        rules = ["condition token: always visible"] * m
        atoms = instruction.atoms()
        for (_, row), ok in zip(rows.iterrows(), hist_mask.tolist(), strict=True):
            if ok:
                rules.append("matches the instruction" if atoms else "visible (no instruction)")
            else:
                bad = [f"{a}={row[a]}" for a, v in atoms.items() if str(row[a]) not in v]
                rules.append("blocked: " + ", ".join(bad) if bad else "blocked")
        cgsa = torch.cat([mask[0, 0, :m], hist_mask]).cpu()
        branch_w = torch.cat([w[0, :, 0, :m], w[0, :, 0, m:][:, crop]], dim=-1).cpu()
        return Explanation(
            labels=[str(x) for x in rows[NAME]],
            item_ids=ids,
            cond_labels=cond_labels,
            causal=bb.mask[0][crop, crop].cpu(),
            tamip=tamip[0][crop, crop].cpu(),
            cgsa=cgsa,
            cgsa_rule=rules,
            backbone_weights=[x[0][:, crop, crop].cpu() for x in bb.weights],
            branch_weights=branch_w,
            delta_tau=delta,
        )

    def _token_label(self, token: int) -> str:
        if token == NO_CONDITION:
            return "[no condition]"
        pair = CondVocab.of(self.model.cfg).decode(token)
        return f"[{pair[0]}={pair[1]}]" if pair else f"[token {token}]"


__all__ = ["Recommender", "History", "RecResult", "Comparison", "Explanation", "AutoResult", "encode_history",
           "instruction_for"]
