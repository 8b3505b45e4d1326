"""nginx access logs in any ``log_format``: the parser is compiled from the format line.

The default is nginx's predefined ``combined`` format. A user's own format is
given in nginx's syntax (``$remote_addr - $remote_user [$time_local] ...``)
and compiled to one regular expression with a named group per variable.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from alsate.engine.errors import UserError
from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record, SourceKind
from alsate.engine.timeparse import parse_clf, parse_iso

COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')
COMMON = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
NAMED_FORMATS = {"combined": COMBINED, "common": COMMON}

#: Lines at least this long never take the column-wise fast paths (they are parsed on their head).
_FAST_LIMIT = 65536
#: What a bad ``$time_local`` raises in ``parse_clf`` (the line is then kept unparsed).
_BAD_TIME = (ValueError, KeyError, IndexError, OverflowError)

# Variables whose values have a known shape; the rest match up to the next literal.
_SHAPES = {
    "status": r"\d{3}",
    "body_bytes_sent": r"\d+|-",
    "bytes_sent": r"\d+|-",
    "request_length": r"\d+|-",
    "request_time": r"[\d.]+|-",
    "time_local": r"[^\]]+",
    "time_iso8601": r"\S+",
    "msec": r"[\d.]+",
    "remote_addr": r"\S+",
    "remote_user": r"\S+",
    "pid": r"\d+",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class StatusPriorities:
    """HTTP status class -> syslog priority (5xx err, 4xx warning, else info by default)."""

    server_error: int = 3
    client_error: int = 4
    other: int = 6

    def of(self, status: int) -> int:
        if status >= 500:
            return self.server_error
        if status >= 400:
            return self.client_error
        return self.other


@dataclass(frozen=True)
class LogFormat:
    """A compiled nginx ``log_format``."""

    text: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]

    @classmethod
    def compile(cls, text: str) -> LogFormat:
        text = NAMED_FORMATS.get(text.strip(), text)
        # Accept a whole config line: log_format main '...' '...';
        if text.lstrip().startswith("log_format"):
            pieces = re.findall(r"'([^']*)'|\"([^\"]*)\"", text)
            text = "".join(a or b for a, b in pieces)
        parts: list[str] = []
        names: list[str] = []
        last = 0
        matches = list(_VARIABLE.finditer(text))
        if not matches:
            raise UserError(f"log format has no $variables: {text!r}")
        for i, match in enumerate(matches):
            parts.append(re.escape(text[last:match.start()]))
            name = match.group(1) or match.group(2)
            following = text[match.end():matches[i + 1].start()] if i + 1 < len(matches) else text[match.end():]
            if name in names:
                shape = r".*?"
                parts.append(f"(?:{shape})")
            else:
                if name in _SHAPES:
                    shape = _SHAPES[name]
                elif following:
                    stop = re.escape(following[0])
                    shape = rf"[^{stop}]*"
                else:
                    shape = r".*"
                parts.append(f"(?P<{name}>{shape})")
                names.append(name)
            last = match.end()
        parts.append(re.escape(text[last:]))
        try:
            pattern = re.compile("".join(parts) + r"\s*$")
        except re.error as exc:
            raise UserError(f"cannot compile log format {text!r}: {exc}") from None
        return cls(text, pattern, tuple(names))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a burst of short-lived, cycle-free allocations (a
    tuple per line of a chunk, freed before it ends): it would only walk them over and over.
    Whoever turned it off before keeps it off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def split_request(request: str) -> tuple[str, str, str]:
    """``GET /a?b=1 HTTP/1.1`` -> ``("GET", "/a?b=1", "HTTP/1.1")``; without a protocol the rest is the path."""
    method, _, rest = request.partition(" ")
    path, space, protocol = rest.rpartition(" ")
    if not space:
        path, protocol = protocol, ""
    return method, path, protocol


#: A chunk with more lines than this that the column-wise path cannot take is read line by line.
MAX_WHOLE_LINES = 256


class AccessColumns(NamedTuple):
    """A chunk of access-log lines column-wise: what the store indexes and the access detectors read.

    Every column has one value per line. A line the fast path cannot take (it does not fit the
    format, its time is bad, it is too long) is parsed whole: its Record is in ``parsed`` under its
    index in the chunk, and the other columns hold placeholders there (``ts`` and the priorities
    are the Record's).
    """

    ts: list[float]
    priority: list[int]
    effective: list[int]
    #: ``$remote_addr``, ``-`` when the format has none.
    addresses: list[str]
    #: ``$request``; ``None`` when the format has none.
    requests: list[str] | None
    #: ``$status`` as a number, 0 when the format has none.
    statuses: list[int]
    #: ``$body_bytes_sent``; ``None`` when the format has none.
    sent: list[str] | None
    parsed: dict[int, Record]


class AccessLogParser(ParserBase):
    """One nginx access-log line -> Record (fields in ``extra``, priority from the status)."""

    kind = SourceKind.NGINX_ACCESS
    unit = "nginx"

    def __init__(self, origin: str, host: str | None = None, log_format: str = "combined",
                 statuses: StatusPriorities | None = None) -> None:
        super().__init__(origin, host)
        self.format = LogFormat.compile(log_format)
        self.statuses = statuses or StatusPriorities()
        self._match = self.format.pattern.match
        self._time_group = "time_local" if "time_local" in self.format.names else None
        self._has_status = "status" in self.format.names
        self._by_status: dict[str, int] = {}
        self._lean: dict[tuple[str, ...], tuple[re.Pattern[str], tuple[str, ...]]] = {}

    def columns(self, line: str, pos: int) -> tuple[float, int, int, str, str]:
        match = self._match(line) if len(line) < _FAST_LIMIT else None
        if match is None or self._time_group is None:
            return super().columns(line, pos)
        status = match.group("status") if self._has_status else "000"
        try:
            ts = parse_clf(match.group(self._time_group), self._stamps)
        except _BAD_TIME:
            return super().columns(line, pos)  # kept unparsed, as parse() does
        priority = self._by_status.get(status)
        if priority is None:
            priority = self._by_status[status] = self.statuses.of(int(status))
        self.last_ts = ts
        return ts, priority, priority, self.unit, self.host

    def column_chunk(self, offsets: list[int], lines: list[str]
                     ) -> tuple[list[float], list[int], list[int], str | list[str], str | list[str]]:
        if self._time_group is None:
            return super().column_chunk(offsets, lines)
        match, group, by_status, has_status = self._match, self._time_group, self._by_status, self._has_status
        stamps = self._stamps._data
        ts_col: list[float] = []
        prio_col: list[int] = []
        eff_col: list[int] | None = None
        for n, line in enumerate(lines):
            found = match(line) if len(line) < _FAST_LIMIT else None
            if found is not None:
                stamp = found.group(group)
                ts = stamps.get(stamp)
                if ts is None:
                    try:
                        ts = parse_clf(stamp, self._stamps)
                    except _BAD_TIME:
                        found = None
            if found is None:
                if ts_col:
                    self.last_ts = ts_col[-1]  # an unparsed line takes the time of the line before it
                ts, priority, effective, _unit, _host = self.columns(line, offsets[n])
                if effective != priority and eff_col is None:
                    eff_col = list(prio_col)
                ts_col.append(ts)
                prio_col.append(priority)
                if eff_col is not None:
                    eff_col.append(effective)
                continue
            status = found.group("status") if has_status else "000"
            priority = by_status.get(status)
            if priority is None:
                priority = by_status[status] = self.statuses.of(int(status))
            ts_col.append(ts)
            prio_col.append(priority)
            if eff_col is not None:
                eff_col.append(priority)
        if ts_col:
            self.last_ts = ts_col[-1]
        return ts_col, prio_col, prio_col if eff_col is None else eff_col, self.unit, self.host

    def rows(self, offsets: list[int], lines: list[str], src: int) -> list[tuple]:
        if self._time_group is None:
            return super().rows(offsets, lines, src)
        match, group, by_status = self._match, self._time_group, self._by_status
        stamps = self._stamps._data
        unit, host = self.unit, self.host
        out = []
        for pos, line in zip(offsets, lines, strict=True):
            found = match(line) if len(line) < _FAST_LIMIT else None
            if found is not None:
                stamp = found.group(group)
                ts = stamps.get(stamp)
                if ts is None:
                    try:
                        ts = parse_clf(stamp, self._stamps)
                    except _BAD_TIME:
                        found = None
            if found is None:
                if out:
                    self.last_ts = out[-1][0]
                out.append((*self.columns(line, pos), pos, line, src))
                continue
            status = found.group("status") if self._has_status else "000"
            priority = by_status.get(status)
            if priority is None:
                priority = by_status[status] = self.statuses.of(int(status))
            out.append((ts, priority, priority, unit, host, pos, line, src))
        if out:
            self.last_ts = out[-1][0]
        return out

    def access_columns(self, offsets: list[int], lines: list[str]) -> AccessColumns | None:
        """A chunk of lines column-wise (see :class:`AccessColumns`), the same values :meth:`parse`
        gives line by line; ``None`` for a format without ``$time_local`` (parse those lines one by one).

        One regex match per line; times and statuses are converted once per distinct value.
        """
        group = self._time_group
        if group is None:
            return None
        lean, names = self._lean_pattern(self._COLUMNS)
        with _collector_paused():  # a tuple a line, no cycles: nothing for the collector to find
            rows, failed = self._groups(lean, lines, names)
            n = len(rows)
            columns = {name: list(map(itemgetter(k), rows)) for k, name in enumerate(names)}
            del rows
        # Times: each distinct stamp once.
        stamps = columns[group]
        cache = self._stamps
        known = cache._data
        table: dict[str, float] = {}
        bad: set[str] = set()
        for stamp in set(stamps):
            value = known.get(stamp)
            if value is None:
                try:
                    value = parse_clf(stamp, cache)
                except _BAD_TIME:
                    bad.add(stamp)
                    value = 0.0
            table[stamp] = value
        ts = list(map(table.__getitem__, stamps))
        if bad:
            failed = sorted({*failed, *(i for i, stamp in enumerate(stamps) if stamp in bad)})
        # Statuses: each distinct value once.
        if "status" in columns:
            texts = columns["status"]
            codes = {text: int(text) for text in set(texts)}
            statuses = list(map(codes.__getitem__, texts))
            by_status = self._by_status
            for text, code in codes.items():
                if text not in by_status:
                    by_status[text] = self.statuses.of(code)
            priority = list(map(by_status.__getitem__, texts))
        else:
            statuses = [0] * n
            priority = [self._by_status.setdefault("000", self.statuses.of(0))] * n
        effective = priority
        parsed: dict[int, Record] = {}
        if failed:
            effective = list(priority)
            for i in failed:  # in order: an unparsed line takes the time of the line before it
                if i:
                    self.last_ts = ts[i - 1]
                record = self.parse(lines[i], offsets[i])
                parsed[i] = record
                ts[i], priority[i], effective[i] = record.ts, record.priority, record.effective
        if ts:
            self.last_ts = ts[-1]
        addresses = columns["remote_addr"] if "remote_addr" in columns else ["-"] * n
        return AccessColumns(ts, priority, effective, addresses, columns.get("request"), statuses,
                             columns.get("body_bytes_sent"), parsed)

    def batch_columns(self, offsets: list[int], lines: list[str]) -> AccessColumns | None:
        """:meth:`access_columns` when the chunk suits it; ``None`` (and this parser as it was) for a
        format without ``$time_local`` or a chunk of mostly stray lines, which read better line by line."""
        last_ts = self.last_ts
        columns = self.access_columns(offsets, lines)
        if columns is None or len(columns.parsed) > MAX_WHOLE_LINES:
            self.last_ts = last_ts
            return None
        return columns

    #: The variables the column-wise path reads.
    _COLUMNS = ("time_local", "remote_addr", "request", "status", "body_bytes_sent")

    def _lean_pattern(self, wanted: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
        """The format's pattern capturing only the variables ``wanted`` (the others made
        non-capturing: it matches exactly the same lines, and is faster), and their names in
        pattern order."""
        lean = self._lean.get(wanted)
        if lean is None:
            text = self.format.pattern.pattern
            for name in self.format.names:
                if name not in wanted:
                    text = text.replace(f"(?P<{name}>", "(?:", 1)
            pattern = re.compile(text)
            lean = self._lean[wanted] = (pattern, tuple(sorted(pattern.groupindex, key=pattern.groupindex.get)))
        return lean

    @staticmethod
    def _groups(lean: re.Pattern[str], lines: list[str], names: tuple[str, ...]
                ) -> tuple[list[tuple[str, ...]], list[int]]:
        """The captured groups of every line, and the indexes of the lines that did not match
        (they get a placeholder row whose time never parses)."""
        match = lean.match
        if not lines or max(map(len, lines)) < _FAST_LIMIT:
            try:
                return [m.groups() for m in map(match, lines)], []
            except AttributeError:  # some line did not match
                pass
        found = [match(line) if len(line) < _FAST_LIMIT else None for line in lines]
        placeholder = tuple("000" if name == "status" else "" for name in names)
        return ([placeholder if m is None else m.groups() for m in found],
                [i for i, m in enumerate(found) if m is None])

    def _parse(self, line: str, pos: int) -> Record | None:
        match = self._match(line)
        if match is None:
            return None
        fields: dict = match.groupdict()
        status_text = fields.get("status") or "000"
        priority = self._by_status.get(status_text)
        if priority is None:
            priority = self._by_status[status_text] = self.statuses.of(int(status_text))
        fields["status"] = int(status_text)
        request = fields.get("request")
        if request:
            fields["method"], fields["path"], fields["protocol"] = split_request(request)
        group = self._time_group
        if group is not None:
            stamp = fields[group]
            ts = self._stamps._data.get(stamp)
            if ts is None:
                ts = parse_clf(stamp, self._stamps)
        elif "time_iso8601" in fields:
            ts = parse_iso(fields["time_iso8601"], self._stamps)
        elif "msec" in fields:
            ts = float(fields["msec"])
        else:
            ts = self.last_ts
        # The priority comes from the status: the rest of the line is the client's text
        # and must not move it, so effective == priority here.
        return Record(ts, self.host, self.kind, self.unit, None, priority, priority, line, line, fields,
                      self.origin, pos)
