"""Apache error logs, 2.2 (``[Sun Dec 04 04:47:44 2005] [error] msg``) and 2.4
(``[Sun Dec 04 04:47:44.123456 2005] [core:error] [pid 12:tid 34] [client 1.2.3.4:5] AH00126: msg``)."""

from __future__ import annotations

import re

from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record, SourceKind, priority_from_name
from alsate.engine.timeparse import parse_ctime

_LINE = re.compile(r"\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] \[(?:([\w.-]+):)?(\w+)\] (.*)",
                   re.DOTALL)
_PID = re.compile(r"\[pid (\d+)(?::tid (\d+))?\] ")
_CLIENT = re.compile(r"\[(?:client|remote) ([^\]]+)\] ")


class ApacheErrorParser(ParserBase):
    kind = SourceKind.APACHE_ERROR
    unit = "apache"

    def _parse(self, line: str, pos: int) -> Record | None:
        match = _LINE.match(line)
        if match is None:
            return None
        stamp, module, level, message = match.groups()
        priority = priority_from_name(level)
        if priority is None:
            return None
        extra: dict = {"level": level}
        if module:
            extra["module"] = module
        pid = None
        found = _PID.match(message)
        if found:
            pid = int(found.group(1))
            if found.group(2):
                extra["tid"] = int(found.group(2))
            message = message[found.end():]
        found = _CLIENT.match(message)
        if found:
            extra["client"] = found.group(1)
            message = message[found.end():]
        return Record(parse_ctime(stamp, self._stamps), self.host, self.kind, self.unit, pid, priority, priority,
                      message, line, extra, self.origin, pos)
