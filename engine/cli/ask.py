"""``alsate ask "QUESTION" [SOURCES ...]``: ask the model about the matching records.

The answer streams to stdout; ``--json`` prints the parsed answer, the guard's
flags and the stats instead. ``--task`` runs one of the structured analyses
(summarize, root-cause, patterns) instead of a free question.
"""

from __future__ import annotations

import argparse

from alsate.engine.errors import UserError
from alsate.engine.llm import cli_support

TASKS = {"question": "question", "summarize": "summarize", "root-cause": "root_cause", "patterns": "patterns"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask the model about log records",
        description="Ask the local model (or --remote server) a question about the records that SOURCES "
                    "and the filters select. Log text is passed as untrusted data; the answer is checked "
                    "for dangerous commands and never executed.",
    )
    parser.add_argument("question", metavar="QUESTION",
                        help='the question, e.g. "why does nginx return 502?" ("" with --task)')
    parser.add_argument("--task", choices=sorted(TASKS), default="question",
                        help="question (default) or a structured analysis of the records")
    cli_support.add_sources(parser)
    cli_support.add_llm_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    task = TASKS[args.task]
    if task == "question" and not args.question.strip():
        raise UserError("empty question; ask something, or pick an analysis with --task")
    selection = cli_support.load_selection(args)
    records = selection.records(last=cli_support.RECENT)
    if not records:
        raise UserError("no records match the sources and filters; nothing to ask about")
    from alsate.engine.llm.factory import open_analyst

    analyst = open_analyst(cli_support.options_from_args(args))
    try:
        chosen = cli_support.pick_records(records)
        if task == "question":
            started = analyst.question(args.question, chosen)
        else:
            started = analyst.analyse(task, chosen)
        return cli_support.stream_answer(started, as_json=args.json,
                                         extra={"records": [r.id for r in chosen[:50]]})
    finally:
        analyst.backend.close()
