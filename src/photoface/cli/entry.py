"""The ``photoface`` command's parser and dispatcher: ``build_parser`` and ``main``.

Each command group lives in its own module of this package and registers its sub-parsers with
``add_commands(sub)``; ``main`` runs the chosen handler and turns library errors into exit codes.
"""

from __future__ import annotations

import argparse
import sys

from photoface.cli import apps, data, evaluate, fit, model, render, train
from photoface.errors import PhotofaceError


def build_parser() -> argparse.ArgumentParser:
    """The full ``photoface`` parser; each parsed command carries its ``handler(args)`` default."""
    parser = argparse.ArgumentParser(
        prog="photoface",
        description="Learn 3D faces from photo collections; reconstruct, compare and edit faces.",
    )
    from photoface import __version__

    parser.add_argument("--version", action="version", version=f"photoface {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (model, render, data, train, evaluate, fit, apps):
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``photoface`` on ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    2 without a command, 1 on a ``PhotofaceError`` (its message on stderr), 130 on Ctrl-C,
    otherwise the handler's result (``None`` counts as 0).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result = handler(args)
    except PhotofaceError as exc:
        print(f"photoface: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photoface: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
