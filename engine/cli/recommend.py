"""``python -m engine recommend``: the public API on the command line (``--json`` for machines)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.core.instructions import EXPLICIT_POLICIES, Instruction
from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset
from engine.data.schema import EXPLICIT, GENRE, ITEM_ID, LANGUAGE, NAME
from engine.paths import MAIN_CHECKPOINT
from engine.serving.ask import describe_atoms, parse_instruction
from engine.serving.recommender import Recommender
from engine.serving.results import COMPLIES, RANK, SCORE
from engine.serving.retrieval import METHODS


def register(sub) -> None:
    p = sub.add_parser("recommend", help="recommend for a user or a list of artists under an instruction")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--data", type=Path, default=None)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, help="a user id of the data set")
    who.add_argument("--items", type=int, nargs="+", help="a custom history: item ids, oldest first")
    p.add_argument("--ask", metavar="TEXT", default=None,
                   help='the instruction in plain English, e.g. "clean 2000s hip-hop, nothing by Eminem" '
                        "(the flags below add to it)")
    p.add_argument("--genre", action="append", default=[], help="repeatable")
    p.add_argument("--language", action="append", default=[], help="repeatable")
    p.add_argument("--explicit", choices=EXPLICIT_POLICIES, default="allow")
    p.add_argument("--exclude-heard", action="store_true",
                   help="leave out artists of the history (the default; kept for old command lines)")
    p.add_argument("--include-heard", action="store_true", help="let the lists repeat artists of the history")
    p.add_argument("--method", choices=(*METHODS, "all"), default="all")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--overfetch", type=int, default=5)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    rec = Recommender.load(args.checkpoint or MAIN_CHECKPOINT, load_dataset(args.data or resolve_default_dataset()), args.device)
    history = rec.user_history(args.user) if args.user is not None else rec.make_history(args.items)
    ins = Instruction(genres=frozenset(args.genre), languages=frozenset(args.language),
                      explicit=args.explicit, exclude_heard=not args.include_heard)
    atoms, notes = [], []
    if args.ask is not None:
        asked, notes = parse_instruction(args.ask, rec.items)
        ins = Instruction(genres=asked.genres | ins.genres, languages=asked.languages | ins.languages,
                          explicit=args.explicit if args.explicit != "allow" else asked.explicit,
                          popularity=asked.popularity, eras=asked.eras, blocked_items=asked.blocked_items,
                          exclude_heard=asked.exclude_heard and ins.exclude_heard)
        atoms = describe_atoms(ins, dict(zip(rec.items[ITEM_ID].astype(int), rec.items[NAME].astype(str),
                                             strict=True)))
    methods = METHODS if args.method == "all" else (args.method,)
    cmp = rec.compare(history, ins, args.k, args.overfetch, methods)
    cols = [RANK, ITEM_ID, NAME, GENRE, LANGUAGE, EXPLICIT, SCORE, COMPLIES]
    if args.json:
        out = {
            "instruction": ins.to_dict(),
            **({"ask": {"text": args.ask, "atoms": atoms, "notes": notes}} if args.ask is not None else {}),
            "history_notes": list(history.notes),
            "eligible_items": cmp.eligible,
            "history": list(history.item_ids),
            "results": {
                m: {"cc": r.cc, "n_returned": r.n_returned, "overlap_with_unconditioned": r.overlap,
                    "latency_ms": r.latency_ms, "note": r.note,
                    "items": json.loads(r.items[[c for c in cols if c in r.items]].to_json(orient="records"))}
                for m, r in cmp.results.items()
            },
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for note in history.notes:
        print(f"history note: {note}")
    if args.ask is not None:
        print(f"asked: {args.ask}")
        print("parsed: " + ("; ".join(atoms) if atoms else "no constraint"))
        for note in notes:
            print(f"  note: {note}")
    print(f"instruction: {ins.describe()}  ({cmp.eligible} eligible items)")
    for m, r in cmp.results.items():
        print(f"\n== {m}: CC@{r.k}={r.cc:.2f}  returned {r.n_returned}/{r.k}  "
              f"overlap={r.overlap if r.overlap is None else round(r.overlap, 2)}  {r.latency_ms:.1f} ms {r.note}")
        print(r.items[[c for c in cols if c in r.items]].to_string(index=False))
    return 0
