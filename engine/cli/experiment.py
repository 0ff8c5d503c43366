"""``python -m engine experiment {delta-tau,conditioning}``: the reproducible experiments."""

from __future__ import annotations

from pathlib import Path

from engine import atomic, paths
from engine.bench import common as bc
from engine.bench.experiments import conditioning_table, delta_tau_sweep


def register(sub) -> None:
    p = sub.add_parser("experiment", help="reproducible experiments: Δτ sweep, conditioning (Table 4)")
    p.add_argument("name", choices=("delta-tau", "conditioning"))
    p.add_argument("--out", type=Path, default=None)
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    res = delta_tau_sweep() if args.name == "delta-tau" else conditioning_table()
    res.update({"command": bc.command_line(), "date": bc.now_iso(), "machine": bc.machine_info()})
    out = args.out or paths.RESULTS_DIR / f"{args.name.replace('-', '_')}.json"
    print(f"wrote {atomic.write_json(out, res)}")
    return 0
