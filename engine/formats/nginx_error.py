"""nginx error logs: ``YYYY/MM/DD HH:MM:SS [level] pid#tid: *cid message, client: ..., ...``."""

from __future__ import annotations

import re

from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record, SourceKind, priority_from_name
from alsate.engine.timeparse import parse_nginx_error

_LINE = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (\d+)#(\d+): (?:\*(\d+) )?(.*)", re.DOTALL)
# The context nginx appends: ", client: 1.2.3.4, server: x, request: "GET / HTTP/1.1", ..."
_CONTEXT = re.compile(r', (client|server|request|subrequest|upstream|host|referrer): ("(?:[^"\\]|\\.)*"|[^,]*)')


class ErrorLogParser(ParserBase):
    kind = SourceKind.NGINX_ERROR
    unit = "nginx"

    def _parse(self, line: str, pos: int) -> Record | None:
        match = _LINE.match(line)
        if match is None:
            return None
        stamp, level, pid, tid, cid, message = match.groups()
        priority = priority_from_name(level)
        if priority is None:
            return None
        extra: dict = {"level": level, "tid": int(tid)}
        if cid:
            extra["cid"] = int(cid)
        first = _CONTEXT.search(message)
        if first:
            for key, value in _CONTEXT.findall(message, first.start()):
                extra[key] = value[1:-1] if value.startswith('"') and value.endswith('"') else value
            extra["text"] = message[:first.start()]
        ts = parse_nginx_error(stamp, self._stamps)
        return Record(ts, self.host, self.kind, self.unit, int(pid), priority, priority, message, line, extra,
                      self.origin, pos)
