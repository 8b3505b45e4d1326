"""The headless ``alsate`` command: one module per verb.

Each verb module exposes ``register(subparsers)``, which adds its parser and
sets ``handler`` to a function taking the parsed arguments and returning the
exit code. Errors meant for the user are raised as :class:`UserError` and
printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from alsate.engine.errors import UserError

#: Verb modules, in the order ``alsate --help`` lists them.
VERBS = ("scan", "ask", "explain")


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from alsate.engine import __version__

    parser = argparse.ArgumentParser(
        prog="alsate",
        description="Headless alsate: read, filter and analyse logs from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"alsate {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: ~/.config/alsate/config.toml)")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        try:
            module = import_module(f"alsate.engine.cli.{verb}")
        except ModuleNotFoundError as exc:
            if exc.name == f"alsate.engine.cli.{verb}":
                continue  # verb not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"alsate: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `alsate scan | head`: the reader left; exit quietly like other filters.
        _silence_stdout()
        return 0
    except Exception as exc:  # a bug, not bad input: still one line, the traceback on request
        if os.environ.get("ALSATE_DEBUG"):
            raise
        print(f"alsate: internal error: {type(exc).__name__}: {exc} (ALSATE_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 70


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
