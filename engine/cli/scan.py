"""``alsate scan``: read sources, filter, print the matching records and the counts per priority."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace

from alsate.engine.collect import SourceSet
from alsate.engine.config import Config, load_config
from alsate.engine.errors import UserError
from alsate.engine.formats import PARSERS
from alsate.engine.priorities import parse_priorities
from alsate.engine.records import PRIORITY_NAMES, Record, SourceKind
from alsate.engine.render import format_record
from alsate.engine.sources import FileOptions, JournalFilter, open_sources, statuses_from
from alsate.engine.store import Query, Store
from alsate.engine.textio import json_safe, visible
from alsate.engine.timespec import parse_time

FORMATS = sorted([*PARSERS, SourceKind.JOURNAL])
#: Journal entries the detectors need whatever their priority (sshd failures are info).
DETECTOR_JOURNAL_MATCHES = (("SYSLOG_IDENTIFIER", "sshd"), ("SYSLOG_IDENTIFIER", "sshd-session"),
                            ("SYSLOG_IDENTIFIER", "sudo"), ("SYSLOG_IDENTIFIER", "su"),
                            ("_TRANSPORT", "kernel"), ("SYSLOG_IDENTIFIER", "systemd"))


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The source and filter options every verb that reads logs shares."""
    parser.add_argument("sources", nargs="*", metavar="SOURCE",
                        help="log file, '-' for stdin, 'journal', a journal file or directory "
                             "(default: this machine's journal and nginx logs)")
    parser.add_argument("-D", "--journal-dir", action="append", default=[], metavar="DIR",
                        help="read a journal directory (e.g. collected by systemd-journal-remote)")
    parser.add_argument("-p", "--priority", metavar="LEVELS",
                        help="priorities to show: 0..4 (default), 3, 0,3,4, err, warning..err, all")
    parser.add_argument("--syslog-priority", action="store_true",
                        help="filter on the priority the source gave, not the effective one read from content")
    parser.add_argument("--since", metavar="TIME", help="e.g. 2024-05-01, '2024-05-01 10:00', -1h, '2h ago'")
    parser.add_argument("--until", metavar="TIME")
    parser.add_argument("-g", "--grep", metavar="REGEX", help="only records whose line matches REGEX")
    parser.add_argument("-i", "--ignore-case", action="store_true", help="case-insensitive --grep")
    parser.add_argument("-u", "--unit", action="append", default=[], metavar="UNIT",
                        help="only this unit / program (repeatable)")
    parser.add_argument("-H", "--host", action="append", default=[], metavar="HOST", help="only this host")
    parser.add_argument("--format", choices=FORMATS, help="format of the named files (default: detected)")
    parser.add_argument("--log-format", metavar="FMT",
                        help="nginx access log_format, in nginx syntax or 'combined'/'common'")
    parser.add_argument("--cursor", metavar="CURSOR",
                        help="journal sources: start after this cursor (a record id's part after '#')")
    parser.add_argument("--with-rotated", action="store_true", help="also read NAME.1, NAME.2.gz ... oldest first")
    parser.add_argument("--capacity", type=int, metavar="N", help="records held at most (default 1000000)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                        help="set any config option for this run (e.g. --set status_client_error=5)")


def config_from(args: argparse.Namespace) -> Config:
    config = load_config(getattr(args, "config", None), args.settings)
    if args.log_format:
        config = replace(config, nginx_log_format=args.log_format)
    if args.capacity is not None:
        if args.capacity < 1:
            raise UserError("--capacity must be at least 1")
        config = replace(config, store_capacity=args.capacity)
    return config


def query_from(args: argparse.Namespace, config: Config) -> Query:
    priorities = parse_priorities(args.priority) if args.priority else frozenset(range(config.max_priority + 1))
    pattern = None
    if args.grep:
        try:
            pattern = re.compile(args.grep, re.IGNORECASE if args.ignore_case else 0)
        except re.error as exc:
            raise UserError(f"bad --grep pattern {args.grep!r}: {exc}") from None
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    if since is not None and until is not None and since > until:
        raise UserError("--since is after --until")
    return Query(
        priorities=None if priorities == frozenset(range(8)) else priorities,
        effective=not args.syslog_priority,
        units=frozenset(args.unit) or None,
        hosts=frozenset(args.host) or None,
        pattern=pattern,
        since=since,
        until=until,
    )


def open_source_set(args: argparse.Namespace, config: Config, query: Query, findings: bool = False) -> SourceSet:
    journal_filter = JournalFilter(
        priorities=query.priorities,
        units=tuple(args.unit),
        hosts=tuple(args.host),
        since=query.since,
        until=query.until,
        include_stdout=query.effective,
        # The detectors need sshd/sudo/su/kernel lines logged at info: read them too (the view still
        # shows only the priorities asked for).
        also=DETECTOR_JOURNAL_MATCHES if findings else (),
    )
    options = FileOptions(kind=args.format, log_format=config.nginx_log_format, statuses=statuses_from(config))
    problems: list[str] = []
    if getattr(args, "cursor", None):
        journal_filter = replace(journal_filter, cursor=args.cursor)
    sources = open_sources(args.sources, config, journal_filter, options, with_rotated=args.with_rotated,
                           journal_directories=args.journal_dir, problems=problems)
    if not sources:
        raise UserError("no log sources found on this machine: name a file, 'journal' or -D DIR")
    source_set = SourceSet(sources, window=config.reorder_window)
    source_set.warnings.extend(problems)
    return source_set


def load_store(args: argparse.Namespace, consumer: Callable[[Record], None] | None = None
               ) -> tuple[Store, Query, SourceSet]:
    """Read the sources the arguments name into a store; returns it with the query and the sources.

    ``consumer`` (the findings engine's ``feed``) sees every record read.
    """
    config = config_from(args)
    query = query_from(args, config)
    source_set = open_source_set(args, config, query, findings=consumer is not None)
    for warning in source_set.warnings:
        print(f"alsate: warning: {visible(warning)}", file=sys.stderr)
    store = Store(capacity=config.store_capacity)
    source_set.load(store, consumer=consumer)
    return store, query, source_set


def counts_of(store: Store, effective: bool) -> dict[str, int]:
    return dict(zip(PRIORITY_NAMES, store.counts(effective), strict=True))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="print matching records and counts per priority",
        description="Read log sources, filter them, print the matching records and the counts per priority.")
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object with counts and records")
    parser.add_argument("-n", "--limit", type=int, metavar="N", help="print at most the last N matching records")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new records as they arrive")
    parser.add_argument("--report", metavar="FILE.md", help="also write the findings as a Markdown report")
    parser.add_argument("--no-findings", action="store_true", help="skip the findings (faster on huge inputs)")
    parser.set_defaults(handler=run)


def write_json(document: object) -> None:
    """``document`` as one line of JSON on stdout, streamed, with nothing a terminal acts on (:func:`json_safe`)."""
    write = sys.stdout.write
    for chunk in json.JSONEncoder(ensure_ascii=False).iterencode(document):
        write(json_safe(chunk))
    write("\n")


def _print_line(record: Record) -> None:
    sys.stdout.write(format_record(record) + "\n")


def _check_report_path(args: argparse.Namespace) -> None:
    """The report never overwrites a log alsate is reading (alsate never writes to a log)."""
    if not args.report:
        return
    target = os.path.realpath(args.report)
    for spec in args.sources:
        if spec not in ("-", "journal") and os.path.exists(spec) and os.path.realpath(spec) == target:
            raise UserError(f"--report {args.report} is one of the logs being read; choose another file")
    if os.path.isdir(target):
        raise UserError(f"--report {args.report} is a directory")


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: alsate-tui imports this module for its arguments, and the findings engine
    # (templates, numpy, drain3) would add a fifth of a second to its start-up.
    from alsate.engine.findings import FindingsEngine
    from alsate.engine.findings.report import findings_json, findings_table, write_report

    if args.limit is not None and args.limit < 0:
        raise UserError("--limit must be 0 or more")
    _check_report_path(args)
    engine = None
    if not args.no_findings:
        config = config_from(args)
        engine = FindingsEngine(max_priority=config.findings_max_priority)
    store, query, source_set = load_store(args, consumer=engine.feed if engine is not None else None)
    findings = engine.findings() if engine is not None else []
    if engine is not None:
        engine.close()
    view = store.view(query)
    view.refresh()
    start = max(0, len(view) - args.limit) if args.limit is not None else 0
    counts = counts_of(store, query.effective)
    if args.json:
        document = {
            "sources": source_set.describe(),
            "counts": counts,
            "read": len(store) + store.dropped,
            "matched": len(view),
            "records": [record.to_json() for record in view.page(start, len(view))],
        }
        if engine is not None:
            document["findings"] = findings_json(findings)
        write_json(document)
    else:
        for record in view.page(start, len(view)):
            _print_line(record)
        summary = ", ".join(f"{name} {count}" for name, count in counts.items())
        which = "effective" if query.effective else "syslog"
        sys.stdout.write(f"-- {len(view)} of {len(store) + store.dropped} records shown; "
                         f"by {which} priority: {summary}\n")
        if engine is not None:
            sys.stdout.write(visible(findings_table(findings)) + "\n")
    if args.report:
        evidence = [rid for finding in findings for rid in (*finding.evidence[:5], finding.evidence[-1])]
        try:
            write_report(args.report, findings, lookup=store.lookup(evidence), counts=counts,
                         sources=source_set.describe())
        except OSError as exc:
            raise UserError(f"cannot write report {args.report}: {exc.strerror or exc}") from None
        print(f"alsate: report written to {args.report}", file=sys.stderr)
    sys.stdout.flush()
    if args.follow:
        _follow(source_set, store, query, args.json)
    return 0


def _follow(source_set: SourceSet, store: Store, query: Query, as_json: bool) -> None:
    view = store.view(query)
    view.refresh()
    last = view.matches[-1] if len(view) else store.end_seq - 1
    source_set.start_follow()
    try:
        while True:
            for record in source_set.poll_live(0.25):
                store.append(record)
            view.refresh()
            for seq in view.matches[view.index_of(last + 1):]:
                record = store.get(seq)
                if as_json:
                    sys.stdout.write(json_safe(json.dumps(record.to_json(), ensure_ascii=False)) + "\n")
                else:
                    _print_line(record)
                last = seq
            sys.stdout.flush()
            for warning in source_set.warnings:
                print(f"alsate: warning: {visible(warning)}", file=sys.stderr)
            source_set.warnings.clear()
            for notice in source_set.take_notices():
                print(f"alsate: note: {visible(notice)}", file=sys.stderr)
    finally:
        source_set.stop()
