"""The headless ``alsate`` command: one module per verb.

Each verb module exposes ``register(subparsers)``, which adds its parser and
sets ``handler`` to a function taking the parsed arguments and returning the
exit code. Errors meant for the user are raised as :class:`UserError` and
printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from alsate.engine.errors import UserError
from alsate.engine.textio import visible

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


class _WarningLines(logging.Handler):
    """Engine warnings (a cache that cannot be written...) on stderr as ``alsate: warning: ...``: one line
    each, control characters made visible. Writes to whatever ``sys.stderr`` is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write("alsate: warning: " + visible(record.getMessage()).replace("\n", " ") + "\n")
        except Exception:
            self.handleError(record)


def _show_engine_warnings() -> None:
    logger = logging.getLogger("alsate")
    if not any(isinstance(handler, _WarningLines) for handler in logger.handlers):
        logger.addHandler(_WarningLines(logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    _show_engine_warnings()
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse stops collecting SOURCE words at the first option after them (`alsate ask "" --task
        # summarize journal`, `alsate scan a.log -p all b.log`): the words left over are more sources.
        if isinstance(getattr(args, "sources", None), list) and all(word == "-" or not word.startswith("-")
                                                                     for word in extra):
            args.sources.extend(extra)
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"alsate: {visible(str(exc))}", file=sys.stderr)  # it may quote a file name or a log line
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
        print(f"alsate: internal error: {type(exc).__name__}: {visible(str(exc))} "
              "(ALSATE_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 70


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
