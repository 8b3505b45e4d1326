"""nginx access logs in any ``log_format``: the parser is compiled from the format line.

The default is nginx's predefined ``combined`` format. A user's own format is
given in nginx's syntax (``$remote_addr - $remote_user [$time_local] ...``)
and compiled to one regular expression with a named group per variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alsate.engine.errors import UserError
from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record, SourceKind
from alsate.engine.timeparse import parse_clf, parse_iso

COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')
COMMON = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
NAMED_FORMATS = {"combined": COMBINED, "common": COMMON}

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

    def columns(self, line: str, pos: int) -> tuple[float, int, int, str, str]:
        match = self._match(line) if len(line) < 65536 else None
        if match is None or self._time_group is None:
            return super().columns(line, pos)
        status = match.group("status") if self._has_status else "000"
        priority = self._by_status.get(status)
        if priority is None:
            priority = self._by_status[status] = self.statuses.of(int(status))
        self.last_ts = ts = parse_clf(match.group(self._time_group), self._stamps)
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
            found = match(line) if len(line) < 65536 else None
            if found is None:
                ts, priority, effective, _unit, _host = self.columns(line, offsets[n])
                if effective != priority and eff_col is None:
                    eff_col = list(prio_col)
                ts_col.append(ts)
                prio_col.append(priority)
                if eff_col is not None:
                    eff_col.append(effective)
                continue
            stamp = found.group(group)
            ts = stamps.get(stamp)
            if ts is None:
                ts = parse_clf(stamp, self._stamps)
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
            found = match(line) if len(line) < 65536 else None
            if found is None:
                out.append((*self.columns(line, pos), pos, line, src))
                continue
            stamp = found.group(group)
            ts = stamps.get(stamp)
            if ts is None:
                ts = parse_clf(stamp, self._stamps)
            status = found.group("status") if self._has_status else "000"
            priority = by_status.get(status)
            if priority is None:
                priority = by_status[status] = self.statuses.of(int(status))
            out.append((ts, priority, priority, unit, host, pos, line, src))
        if out:
            self.last_ts = out[-1][0]
        return out

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
            method, _, rest = request.partition(" ")
            path, space, protocol = rest.rpartition(" ")
            if not space:
                path, protocol = protocol, ""
            fields["method"], fields["path"], fields["protocol"] = method, path, protocol
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
