"""What every line parser shares: the protocol and the never-fail wrapper."""

from __future__ import annotations

import socket
import time
from typing import Protocol

from alsate.engine.effective import effective_priority
from alsate.engine.records import Record, SourceKind
from alsate.engine.timeparse import StampCache

#: Lines longer than this are kept whole in ``raw`` but parsed on their head only.
PARSE_LIMIT = 64 * 1024


def local_hostname() -> str:
    return socket.gethostname()


class LineParser(Protocol):
    """Turns one line of text (no newline) at position ``pos`` into a Record. Never raises."""

    kind: str
    origin: str

    def parse(self, line: str, pos: int) -> Record: ...


class ParserBase:
    """Shared state: origin, default host, the last timestamp seen (for lines without one)."""

    kind = SourceKind.TEXT
    unit = ""

    def __init__(self, origin: str, host: str | None = None) -> None:
        self.origin = origin
        self.host = host or local_hostname()
        self.last_ts = 0.0
        self._stamps = StampCache()

    def parse(self, line: str, pos: int) -> Record:
        try:
            record = self._parse(line[:PARSE_LIMIT] if len(line) > PARSE_LIMIT else line, pos)
        except (ValueError, KeyError, IndexError, OverflowError):
            record = None
        if record is None:
            return self.unparsed(line, pos)
        if record.raw is not line:
            record = record._replace(raw=line)
        self.last_ts = record.ts
        return record

    def columns(self, line: str, pos: int) -> tuple[float, int, int, str, str]:
        """``(ts, priority, effective, unit, host)`` of a line: what the store indexes.

        Formats whose lines can be indexed without building a Record override this.
        """
        record = self.parse(line, pos)
        return record.ts, record.priority, record.effective, record.unit, record.host

    def column_chunk(self, offsets: list[int], lines: list[str]
                     ) -> tuple[list[float], list[int], list[int], str | list[str], str | list[str]]:
        """``(ts, priority, effective, units, hosts)`` of a chunk of lines, column-wise
        (``units``/``hosts`` may be one value for the whole chunk)."""
        columns = self.columns
        ts, priority, effective, units, hosts = zip(*(columns(line, pos) for pos, line in
                                                      zip(offsets, lines, strict=True)), strict=True)
        return list(ts), list(priority), list(effective), list(units), list(hosts)

    def rows(self, offsets: list[int], lines: list[str], src: int) -> list[tuple]:
        """Store rows ``(ts, priority, effective, unit, host, pos, line, src)`` for a chunk of lines."""
        columns = self.columns
        return [(*columns(line, pos), pos, line, src) for pos, line in zip(offsets, lines, strict=True)]

    def _parse(self, line: str, pos: int) -> Record | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def unparsed(self, line: str, pos: int) -> Record:
        """A line that does not fit the format (a continuation, a stray line): kept whole."""
        ts = self.last_ts or time.time()
        return Record(ts, self.host, self.kind, self.unit, None, 6, effective_priority(6, line),
                      line, line, {"unparsed": True}, self.origin, pos)
