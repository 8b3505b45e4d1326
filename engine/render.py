"""Records as one line of plain text (``alsate scan``), with control characters made visible."""

from __future__ import annotations

import time

from alsate.engine.records import MAX_TS, MIN_TS, PRIORITY_LETTERS, Record
from alsate.engine.textio import one_line

#: Longest message ``format_record`` prints; the raw line stays whole in the store and in --json.
DISPLAY_LIMIT = 16_384


def format_time(ts: float) -> str:
    if not MIN_TS <= ts <= MAX_TS:  # a hostile stamp (year 99999, NaN): shown clamped, never an error
        ts = MAX_TS if ts > MAX_TS else MIN_TS
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))


def source_label(record: Record) -> str:
    unit = record.unit or record.kind
    return f"{unit}[{record.pid}]" if record.pid is not None else unit


def priority_mark(record: Record) -> str:
    """``E`` for err; ``E<I`` when the content raised an info line to err."""
    mark = PRIORITY_LETTERS[record.effective]
    if record.effective != record.priority:
        mark += "<" + PRIORITY_LETTERS[record.priority]
    return mark


def format_record(record: Record) -> str:
    message = record.message
    if len(message) > DISPLAY_LIMIT:
        message = message[:DISPLAY_LIMIT] + f" [... {len(record.message) - DISPLAY_LIMIT} more characters]"
    return (f"{format_time(record.ts)} {one_line(record.host)} {one_line(source_label(record))} "
            f"{priority_mark(record)} {one_line(message)}")
