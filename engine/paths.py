"""Every default location of the repository: assets, results, prepared data, reports.

A foundation module: it imports nothing from the engine, so any layer (and the app) can
read a path without loading the code that writes there.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

ASSETS = REPO_ROOT / "assets"
MAIN_CHECKPOINT = ASSETS / "climber_pilot.pt"
VARIANTS = {"nip": ASSETS / "nip.pt", "mip": ASSETS / "mip.pt", "tamip": ASSETS / "tamip.pt"}
SYNTHETIC_CHECKPOINT = ASSETS / "synthetic.pt"
METRICS_JSON = ASSETS / "metrics.json"
METRICS_MD = ASSETS / "metrics.md"

RESULTS_DIR = REPO_ROOT / "results"
LATENCY_JSON = RESULTS_DIR / "bench_latency.json"
TRAIN_JSON = RESULTS_DIR / "bench_train.json"
QUALITY_JSON = RESULTS_DIR / "bench_quality.json"
CONDITIONING_JSON = RESULTS_DIR / "conditioning.json"
BENCHMARKS_MD = REPO_ROOT / "BENCHMARKS.md"

SAMPLE_DATA = REPO_ROOT / "sample_data"


def repo_root() -> Path:
    """The folder that contains ``engine/``."""
    return REPO_ROOT


def relative(path: str | Path) -> str:
    """``path`` relative to the repository when it lies inside it (for reports), else as given."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
