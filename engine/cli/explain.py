"""``alsate explain [SOURCES ...] [--record ID | --finding ID]``: explain a record or a finding.

Without ``--record``/``--finding`` the first record the filters select is
explained. The answer (Cause, Remediation steps, Threat level) streams to
stdout; ``--json`` prints the parsed fields and the stats.
"""

from __future__ import annotations

import argparse
from typing import Any

from alsate.engine.errors import UserError
from alsate.engine.llm import cli_support
from alsate.engine.records import Record


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain a log record or a finding with the model",
        description="Explain one record (--record ID, else the first match) or one finding (--finding ID): "
                    "cause, remediation steps, threat level. Explanations are cached per model, template "
                    "and prompt version.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--record", metavar="ID", help="record id as `alsate scan --json` prints it (ORIGIN#POS)")
    which.add_argument("--finding", metavar="ID", help="finding id as the findings panel shows it")
    cli_support.add_sources(parser)
    cli_support.add_llm_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    findings = None
    if args.finding:
        from alsate.engine.findings import FindingsEngine

        findings = FindingsEngine(persist_templates=False)
    finding: Any = None
    pool: list[Record] = []
    try:
        selection = cli_support.load_selection(args, findings.feed if findings is not None else None)
        if findings is not None:
            finding, selected = find_finding(args.finding, findings, selection)
    finally:
        if findings is not None:
            findings.close()
    if finding is not None:
        first = selection.find(selected[0].id) if selected else None
        if first is not None:
            pool = selection.around(first)
    else:
        if args.record:
            seq = selection.find(args.record)
            if seq is None:
                raise UserError(f"no record {args.record!r} in the sources read "
                                "(ids are ORIGIN#POS as `alsate scan --json` prints them)")
        else:
            if not selection.matches:
                raise UserError("no records match the sources and filters; nothing to explain")
            seq = selection.matches[0]
        selected = [selection.store.get(seq)]
        pool = selection.around(seq)
    from alsate.engine.llm.factory import open_analyst

    analyst = open_analyst(cli_support.options_from_args(args))
    try:
        started = analyst.explain(selected, finding=finding, pool=pool, use_cache=not args.no_cache)
        extra: dict[str, Any] = {"records": [r.id for r in selected[:50]]}
        if finding is not None:
            extra["finding"] = str(getattr(finding, "id", args.finding))
        return cli_support.stream_answer(started, as_json=args.json, extra=extra)
    finally:
        analyst.backend.close()


def find_finding(finding_id: str, findings: Any, selection: cli_support.Selection) -> tuple[Any, list[Record]]:
    """The finding ``finding_id`` and up to 20 of its evidence records (the first and the last ten)."""
    finding = findings.get(finding_id)
    if finding is None:
        known = ", ".join(f.id for f in findings.findings()[:8])
        raise UserError(f"no finding {finding_id!r} in these records (found: {known or 'none'})")
    evidence = list(finding.evidence)
    wanted = set(evidence[:10] + evidence[-10:])
    seqs = [seq for seq in range(selection.store.first_seq, selection.store.end_seq)
            if selection.store.id_of(seq) in wanted]
    return finding, [selection.store.get(seq) for seq in seqs]
