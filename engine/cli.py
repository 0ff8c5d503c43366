"""``python -m engine <subcommand>``: prepare data, train, evaluate, recommend, bench.

Each subcommand lives next to the code it drives and registers itself here through a
``register(subparsers)`` function; user errors (:class:`EngineError`) print one clear
line and exit 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.errors import DistributedError, EngineError

# Modules that expose ``register(subparsers)``; each adds one subcommand.
SUBCOMMAND_MODULES = (
    "engine.data.cli",  # prepare
    "engine.train",  # train
    "engine.evaluate",  # evaluate
    "engine.recommend_cli",  # recommend
    "engine.setup_cli",  # setup
    "engine.bench",  # bench
    "engine.experiments",  # experiment
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="Climber-Pilot engine: data preparation, training, evaluation and retrieval.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<subcommand>")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def _refuse_torchrun(command: str) -> None:
    """Only ``train`` is data-parallel; N copies of any other subcommand would repeat its work."""
    from engine.distributed import launched

    if launched():
        raise DistributedError(
            f"`{command}` runs in one process; only `train` is data-parallel under torchrun",
            f"run `python -m engine {command} ...` without torchrun",
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "train":
            _refuse_torchrun(args.command)
        return int(args.func(args) or 0)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
