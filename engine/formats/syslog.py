"""Syslog text: RFC 3164 (``/var/log/syslog``, ``auth.log``, ``kern.log``), RFC 5424, and ISO-stamped lines.

Three header shapes share one parser, each with an optional ``<PRI>``:

* ``Jun 14 15:16:01 host ident[pid]: message`` (RFC 3164; no year: taken from the file's date)
* ``2024-05-11T03:12:45.123456+00:00 host ident[pid]: message`` (rsyslog's precise format,
  ``journalctl -o short-iso``)
* ``<34>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] message`` (RFC 5424)

A file line has no priority of its own unless it carries ``<PRI>``: then it is 6
(info) and the content decides the effective priority.
"""

from __future__ import annotations

import re
import time

from alsate.engine.effective import effective_priority
from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record, SourceKind
from alsate.engine.timeparse import MONTHS, parse_bsd, parse_iso

_PRI = r"(?:<(\d{1,3})>)?"
_IDENT = r"(?:((?:-- )?[^\s\[:]+?(?:\([^)\s]*\))?(?: v?\d[\w.]*)?)(?:\[(\d+)\])?: ?)?"
_BSD = re.compile(_PRI + r"([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) +" + _IDENT + r"(.*)", re.DOTALL)
_ISO = re.compile(_PRI + r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (\S+) +" + _IDENT
                  + r"(.*)", re.DOTALL)
_5424 = re.compile(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)", re.DOTALL)
DEFAULT_PRIORITY = 6


def _severity(pri: str | None) -> int | None:
    if pri is None:
        return None
    value = int(pri)
    return value & 7 if value <= 191 else None


class SyslogParser(ParserBase):
    kind = SourceKind.SYSLOG

    def __init__(self, origin: str, host: str | None = None, year: int | None = None,
                 month: int | None = None) -> None:
        super().__init__(origin, host)
        now = time.localtime()
        self.year = year or now.tm_year
        self.month = month or now.tm_mon

    def _year_for(self, month_name: str) -> int:
        # A line dated in a later month than the file's last change was written last year.
        return self.year - 1 if MONTHS[month_name] > self.month else self.year

    def _record(self, ts: float, host: str, ident: str | None, pid: str | None, pri: int | None,
                message: str, line: str, pos: int, extra: dict | None = None) -> Record:
        priority = DEFAULT_PRIORITY if pri is None else pri
        unit = ident or ""
        if unit.startswith("kernel"):
            unit = "kernel"
        return Record(ts, host, self.kind, unit, int(pid) if pid else None, priority,
                      effective_priority(priority, message), message, line, extra, self.origin, pos)

    def _parse(self, line: str, pos: int) -> Record | None:
        first = line[:1]
        if first == "<":
            match = _5424.match(line)
            if match:
                pri, stamp, host, app, procid, msgid, data, message = match.groups()
                extra = {}
                if msgid != "-":
                    extra["msgid"] = msgid
                if data != "-":
                    extra["structured_data"] = data
                if message.startswith("\ufeff"):
                    message = message[1:]
                ts = parse_iso(stamp, self._stamps) if stamp != "-" else self.last_ts
                return self._record(ts, host if host != "-" else self.host, app if app != "-" else None,
                                    procid if procid.isdigit() else None, _severity(pri), message, line, pos,
                                    extra or None)
        match = _BSD.match(line)
        if match is None:
            match = _ISO.match(line)
            if match is None:
                return None
            pri, stamp, host, ident, pid, message = match.groups()
            return self._record(parse_iso(stamp, self._stamps), host, ident, pid, _severity(pri), message,
                                line, pos)
        pri, stamp, host, ident, pid, message = match.groups()
        ts = parse_bsd(stamp, self._year_for(stamp[:3]), self._stamps)
        return self._record(ts, host, ident, pid, _severity(pri), message, line, pos)
