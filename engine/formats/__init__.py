"""Line formats: one parser per log format, and the sniffer that picks one."""

from __future__ import annotations

from alsate.engine.errors import UserError
from alsate.engine.formats.apache import ApacheErrorParser
from alsate.engine.formats.base import LineParser, ParserBase
from alsate.engine.formats.nginx_access import AccessLogParser, LogFormat, StatusPriorities
from alsate.engine.formats.nginx_error import ErrorLogParser
from alsate.engine.formats.sniff import sniff
from alsate.engine.formats.syslog import SyslogParser
from alsate.engine.formats.text import TextParser
from alsate.engine.records import SourceKind

PARSERS: dict[str, type[ParserBase]] = {
    SourceKind.NGINX_ACCESS: AccessLogParser,
    SourceKind.NGINX_ERROR: ErrorLogParser,
    SourceKind.SYSLOG: SyslogParser,
    SourceKind.APACHE_ERROR: ApacheErrorParser,
    SourceKind.TEXT: TextParser,
}


def parser_for(kind: str, origin: str, **options) -> ParserBase:
    """A parser for ``kind`` (a SourceKind name) reading from ``origin``."""
    try:
        cls = PARSERS[kind]
    except KeyError:
        names = ", ".join(sorted(PARSERS))
        raise UserError(f"unknown log format {kind!r} (known: {names})") from None
    return cls(origin, **options)


__all__ = ["LineParser", "LogFormat", "StatusPriorities", "parser_for", "sniff", "PARSERS",
           "AccessLogParser", "ErrorLogParser", "SyslogParser", "ApacheErrorParser", "TextParser"]
