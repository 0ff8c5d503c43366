"""Single-step retrieval with FAISS and the five ways to honour an instruction (method §5).

- ``unconditioned``: the model without an instruction.
- ``posthoc``: unconditioned top-K×over-fetch, drop what does not match, keep K (may return fewer).
- ``prefilter``: unconditioned query, search restricted to matching items (ANN pre-filter).
- ``cgsa``: the instruction-conditioned query, plain search (soft: as trained).
- ``cgsa_hard``: the conditioned query, search restricted to matching items.

Filters use FAISS ID selectors over an exact ``IndexFlatIP`` (exact search; filtered
HNSW returns mostly −1 when few ids are allowed, so it is not used for filtered calls).
"""

from __future__ import annotations

import faiss
import numpy as np

from engine.errors import InstructionError

METHODS = ("unconditioned", "posthoc", "prefilter", "cgsa", "cgsa_hard")
METHOD_LABELS = {
    "unconditioned": "Unconditioned",
    "posthoc": "Post-hoc filter",
    "prefilter": "Pre-filter (ANN)",
    "cgsa": "CGSA",
    "cgsa_hard": "CGSA + hard filter",
}


class ItemIndex:
    """Exact inner-product index over item vectors; row r holds model item index r+1."""

    def __init__(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.n, self.d = vectors.shape
        self.index = faiss.IndexFlatIP(self.d)
        self.index.add(vectors)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` per query; ``allowed`` (bool ``[N]``) restricts the candidates.

        Returns ``(scores [P, k'], items [P, k'])`` with 1-based item indices and
        ``k' = min(k, #allowed)``: fewer than ``k`` come back when fewer are allowed.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if allowed is None:
            kk = min(k, self.n)
            scores, rows = self.index.search(queries, kk)
        else:
            ids = np.flatnonzero(allowed).astype(np.int64)
            kk = min(k, len(ids))
            if kk == 0:
                empty = np.zeros((len(queries), 0))
                return empty.astype(np.float32), empty.astype(np.int64)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
            scores, rows = self.index.search(queries, kk, params=params)
        return scores, rows.astype(np.int64) + 1


def run_method(
    index: ItemIndex,
    method: str,
    u_plain: np.ndarray,
    u_cond: np.ndarray | None,
    allowed: np.ndarray | None,
    k: int,
    overfetch: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 1-based item indices of one method for one query (``[d]`` vectors).

    ``allowed`` is the instruction as a bool mask over items (``None`` = everything).
    """
    if method not in METHODS:
        raise InstructionError(f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
    if method == "unconditioned":
        s, i = index.search(u_plain, k)
    elif method == "posthoc":
        s, i = index.search(u_plain, k * max(1, overfetch))
        if allowed is not None:
            keep = allowed[i[0] - 1]
            s, i = s[:, keep], i[:, keep]
        s, i = s[:, :k], i[:, :k]
    elif method == "prefilter":
        s, i = index.search(u_plain, k, allowed)
    else:
        q = u_plain if u_cond is None else u_cond
        s, i = index.search(q, k, allowed if method == "cgsa_hard" else None)
    return s[0], i[0]
