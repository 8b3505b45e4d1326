"""Parse lines of a known format into Records: the simplest way into the engine."""

from __future__ import annotations

from collections.abc import Iterable

from alsate.engine.formats import parser_for
from alsate.engine.formats.journal_fields import record_from_json_line
from alsate.engine.records import Record, SourceKind


def parse_lines(kind: str, lines: Iterable[str], origin: str = "<lines>", **options) -> list[Record]:
    """Records for ``lines`` of format ``kind``; ``pos`` is the line number (from 0).

    ``kind`` ``journal`` reads ``journalctl -o json`` lines.
    """
    if kind == SourceKind.JOURNAL:
        return [record_from_json_line(line, origin) for line in lines if line.strip()]
    parser = parser_for(kind, origin, **options)
    return [parser.parse(line.rstrip("\r\n"), n) for n, line in enumerate(lines)]
