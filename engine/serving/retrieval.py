"""Single-step retrieval with FAISS and the five ways to honour an instruction (method §5).

- ``unconditioned``: the model without an instruction.
- ``posthoc``: unconditioned top-K×over-fetch, drop what does not match, keep K (may return fewer).
- ``prefilter``: unconditioned query, search restricted to matching items (ANN pre-filter).
- ``cgsa``: the instruction-conditioned query, plain search (soft: as trained).
- ``cgsa_hard``: the conditioned query, search restricted to matching items.

Search is exact over an ``IndexFlatIP``; a filter scans only the allowed items (see
:class:`ItemIndex`). Filtered HNSW returns mostly −1 when few ids are allowed, so it is not used.
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
    """Exact inner-product index over item vectors; row r holds model item index r+1.

    A request's P query rows go to FAISS in one call. Filtered scans and a single small
    query use ``knn_inner_products_by_idx``: it reads only the allowed rows (an
    ``IDSelector`` tests all N per query), takes one id list per row (P different
    filters, one call) and runs on one thread up to 100 rows, so one query never wakes
    FAISS's OpenMP team right after torch's (two OpenMP runtimes on 2 cores: that
    hand-over cost more than the scan). Several unfiltered rows go to ``IndexFlatIP``,
    whose threads pay off from P = 2 (17.6k items: P = 4 in 0.27 ms against 0.40 ms).
    Below 20 rows both run FAISS's per-query kernel in the same scan order: a row gets
    the same items, scores and tie order alone or batched.
    """

    SMALL_SCAN = 1 << 20  # dot products (~8 ms on one core); larger plain scans are worth FAISS's threads
    ID_BUDGET = 1 << 22  # rows × catalogue size per filtered call: id lists stay ≤ 32 MB

    def __init__(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.n, self.d = vectors.shape
        self.index = faiss.IndexFlatIP(self.d)
        self.index.add(vectors)
        self._all = np.arange(self.n, dtype=np.int64)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` per query row; ``allowed`` (bool ``[N]``) restricts every row alike.

        Returns ``(scores [P, k'], items [P, k'])`` with 1-based item indices and
        ``k' = min(k, #allowed)``: fewer than ``k`` come back when fewer are allowed.
        """
        queries = _rows(queries, self.d)
        if allowed is None and (len(queries) > 1 or self.n > self.SMALL_SCAN):
            scores, rows = self.index.search(queries, min(k, self.n))
            return scores, rows + 1
        ids = self._all if allowed is None else np.flatnonzero(allowed)
        kk = min(k, len(ids))
        scores, rows = self._scan(queries, ids, kk, stride=0)
        return scores, rows + 1

    def search_rows(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-``k`` of row r among ``allowed[r]`` (bool ``[P, N]``), all rows in one call.

        Returns per row ``(scores, items)`` of length ``min(k, #allowed[r])`` (1-based items).
        """
        queries = _rows(queries, self.d)
        allowed = np.atleast_2d(np.asarray(allowed, dtype=bool))
        if allowed.shape != (len(queries), self.n):
            raise ValueError(f"allowed is {allowed.shape}, expected {(len(queries), self.n)}")
        out = []
        step = max(1, self.ID_BUDGET // max(self.n, 1))  # rows per call: bounds the id matrix
        for s in range(0, len(queries), step):
            lists = [np.flatnonzero(row) for row in allowed[s : s + step]]
            width = max(len(x) for x in lists)
            kk = min(k, width)
            # one id list per row, ascending, -1-padded to the longest (FAISS stops at -1)
            ids = np.full((len(lists), width), -1, dtype=np.int64)
            for r, x in enumerate(lists):
                ids[r, : len(x)] = x
            scores, items = self._scan(queries[s : s + step], ids, kk, stride=width)
            out += [(scores[r, : min(kk, len(x))], items[r, : min(kk, len(x))] + 1) for r, x in enumerate(lists)]
        return out

    def _scan(self, queries: np.ndarray, ids: np.ndarray, k: int, stride: int):
        """Exact top-``k`` over listed rows; ``stride`` 0 = every query shares one list."""
        p = len(queries)
        scores = np.empty((p, k), dtype=np.float32)
        rows = np.empty((p, k), dtype=np.int64)
        if k and p:
            faiss.knn_inner_products_by_idx(
                faiss.swig_ptr(queries), self.index.get_xb(), faiss.swig_ptr(ids), self.d, p,
                self.n, ids.shape[-1], int(k), faiss.swig_ptr(scores), faiss.swig_ptr(rows), int(stride),
            )
        return scores, rows


def _rows(queries: np.ndarray, d: int) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32).reshape(-1, d)


def run_methods(
    index: ItemIndex,
    method: str,
    u_plain: np.ndarray,
    u_cond: np.ndarray | None,
    allowed: np.ndarray | None,
    k: int,
    overfetch: int = 5,
    seen: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One method for P instructions of one history: ``(scores, 1-based items)`` per instruction.

    ``u_plain`` is ``[d]``, ``u_cond`` ``[P, d]`` (``None``: the unconditioned query stands
    in), ``allowed`` the instructions as bool masks ``[P, N]`` (``None`` = everything).
    Each method makes one FAISS call for all P (method §4: batched multi-condition
    inference); the unconditioned query is shared, so post-hoc searches it once.
    ``seen`` (bool ``[N]``): items no list may return, whatever the method (the listener's
    own history): the soft methods search that many more and drop them.
    """
    if seen is not None and seen.any():
        extra = int(seen.sum())
        if method == "posthoc" and allowed is not None:  # over-fetch k·f unseen items, then filter
            s, i = index.search(u_plain, k * max(1, overfetch) + extra)
            new = ~seen[i[0] - 1]
            s, i = s[0, new][: k * max(1, overfetch)], i[0, new][: k * max(1, overfetch)]
            return [(s[row][:k], i[row][:k]) for row in allowed[:, i - 1]]
        if allowed is not None:
            allowed = allowed & ~seen
        out = run_methods(index, method, u_plain, u_cond, allowed, k + extra, overfetch)
        return [(s[~seen[i - 1]][:k], i[~seen[i - 1]][:k]) for s, i in out]
    if method not in METHODS:
        raise InstructionError(f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
    p = len(u_cond) if u_cond is not None else len(allowed) if allowed is not None else 1
    if u_cond is not None and allowed is not None and len(allowed) != p:
        raise ValueError(f"{p} conditioned queries but {len(allowed)} masks")
    if method in ("unconditioned", "posthoc"):
        f = max(1, overfetch) if method == "posthoc" else 1
        s, i = index.search(u_plain, k * f)
        if method == "unconditioned" or allowed is None:
            return [(s[0, :k], i[0, :k])] * p
        keep = allowed[:, i[0] - 1]  # [P, k·f]
        return [(s[0, row][:k], i[0, row][:k]) for row in keep]
    if method == "prefilter" or u_cond is None:
        queries = np.broadcast_to(np.asarray(u_plain, dtype=np.float32).reshape(1, -1), (p, index.d))
    else:
        queries = u_cond
    if method == "cgsa" or allowed is None:
        s, i = index.search(queries, k)
        return list(zip(s, i, strict=True))
    return index.search_rows(queries, k, allowed)


def run_method(
    index: ItemIndex,
    method: str,
    u_plain: np.ndarray,
    u_cond: np.ndarray | None,
    allowed: np.ndarray | None,
    k: int,
    overfetch: int = 5,
    seen: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 1-based item indices of one method for one query (``[d]`` vectors).

    ``allowed`` is the instruction as a bool mask over items (``None`` = everything).
    The P = 1 case of :func:`run_methods`.
    """
    u_cond = None if u_cond is None else np.asarray(u_cond).reshape(1, -1)
    allowed = None if allowed is None else np.asarray(allowed, dtype=bool).reshape(1, -1)
    return run_methods(index, method, u_plain, u_cond, allowed, k, overfetch, seen)[0]
