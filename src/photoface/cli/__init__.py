"""The ``photoface`` command. It only parses arguments and calls library functions.

``entry`` assembles the parser and dispatches; one module per command group registers its
sub-parsers and holds their handlers: ``model``, ``render``, ``data`` (synth, prepare),
``train`` (train, train-report), ``evaluate`` and ``apps`` (reconstruct, transfer, verify, demo).
Handlers import their libraries lazily so that ``photoface --help`` stays fast.
"""

from photoface.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
