"""The command line, ``python -m engine <subcommand>``: the top layer; nothing imports it.

One module per subcommand, each with ``register(subparsers)``; user errors
(:class:`EngineError`) print one clear line and exit 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from engine.cli import bench, evaluate, experiment, prepare, recommend, setup, train
from engine.errors import DistributedError, EngineError
from engine.training.distributed import launched

# Every subcommand, in --help order: one module each, registered explicitly so a renamed
# module fails loudly at import instead of silently leaving --help.
SUBCOMMANDS = (prepare, train, evaluate, recommend, setup, bench, experiment)


class _Parser(argparse.ArgumentParser):
    """Bad arguments exit 2 with ONE line naming the subcommand, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m engine",
        description="Climber-Pilot engine: data preparation, training, evaluation and retrieval.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<subcommand>")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def _refuse_torchrun(command: str) -> None:
    """Only ``train`` is data-parallel; N copies of any other subcommand would repeat its work."""
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
    except BrokenPipeError:  # e.g. `... | head`: the reader left; nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open until exit
        return 0
