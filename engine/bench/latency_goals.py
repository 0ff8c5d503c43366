"""The latency bench's product goals and its text report (``python -m engine bench latency``)."""

from __future__ import annotations

import sys

from engine import tables

GOAL_P50_MS = 5.0
GOAL_P4_RATIO = 1.5
MIN_REQUESTS = 200


def _find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def goals(result: dict) -> list[dict]:
    """The product's latency goals, judged on the measured rows (None = not measured)."""
    rows, m = result["rows"], result["model"]
    threads = result["settings"]["threads"]
    on_lastfm = m["dataset"] == "lastfm"
    why = []
    if not on_lastfm:
        why.append(f"catalogue is '{m['dataset']}', not Last.fm")
    if threads != 2:
        why.append(f"{threads} threads, not 2")
    base = {"device": "cpu", "history": 50, "catalogue_key": "real", "model_max_len": m["max_len"]}
    out = []
    for method in ("cgsa", "cgsa_hard", "api:recommend(cgsa)"):
        r = _find(rows, **base, P=1, method=method)
        out.append({
            "goal": f"p50 ≤ {GOAL_P50_MS:g} ms: history 50, Last.fm catalogue, 1 instruction, "
                    f"2 CPU cores ({method})",
            "target": GOAL_P50_MS, "measured": r["p50_ms"] if r else None, "unit": "ms",
            "met": (r["p50_ms"] <= GOAL_P50_MS) if (r and not why) else None,
            "note": "; ".join(why) if r and why else ("" if r else "configuration not measured"),
        })
    for method in ("cgsa", "cgsa_hard"):
        r1 = _find(rows, **base, P=1, method=method)
        r4 = _find(rows, **base, P=4, method=method)
        ratio = r4["p50_ms"] / r1["p50_ms"] if (r1 and r4) else None
        out.append({
            "goal": f"P = 4 p50 ≤ {GOAL_P4_RATIO:g} × P = 1 p50 (history 50, real catalogue, CPU; {method})",
            "target": GOAL_P4_RATIO, "measured": ratio, "unit": "×",
            "met": (ratio <= GOAL_P4_RATIO) if ratio is not None and threads == 2 else None,
            "note": ("configuration not measured" if ratio is None
                     else f"{threads} threads, not 2" if threads != 2 else f"catalogue: {m['dataset']}"),
        })
    if result["settings"]["requests"] < MIN_REQUESTS:
        for g in out:
            g["met"] = None
            g["note"] = (g["note"] + "; " if g["note"] else "") + f"fewer than {MIN_REQUESTS} requests"
    return out


def print_latency(result: dict, file=None) -> None:
    file = file or sys.stdout
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
          f"{result['settings']['threads']} threads; torch {result['machine']['torch']}, "
          f"faiss {result['machine']['faiss']}; GPU: {result['gpu']['note']}", file=file)
    print("matmul rate: " + ", ".join(f"{k} {v['gflops']:.1f} GFLOP/s (n={v['n']})"
                                      for k, v in result["matmul"].items()), file=file)
    print(tables.text_table(["catalogue", "items", "bare search p50 ms", "p99 ms"],
                        [[v["catalogue"], v["n_items"], v["p50_ms"], v["p99_ms"]]
                         for v in result["bare_search"].values()]), file=file)
    print(file=file)
    head = ["dev", "hist", "model", "catalogue", "P", "method", "p50 ms", "p99 ms", "model ms",
            "search ms", "floor ms", "×floor", "×bare", "kept"]
    rows = [[r["device"], r["history"], r["model"][:30], r["catalogue_key"], r["P"], r["method"],
             r["p50_ms"], r["p99_ms"], r["model_p50_ms"], r["search_p50_ms"], r["compute_floor_ms"],
             r["x_compute_floor"], r.get("x_bare_search"), r["kept_share"]] for r in result["rows"]]
    print(tables.text_table(head, rows), file=file)
    print(file=file)
    print(tables.text_table(["goal", "target", "measured", "met", "note"],
                        [[g["goal"], g["target"], g["measured"], g["met"], g["note"]]
                         for g in result["goals"]]), file=file)
