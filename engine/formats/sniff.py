"""Guess the format of a log file from its name and first lines."""

from __future__ import annotations

import re
from collections.abc import Sequence

from alsate.engine.records import SourceKind

_TESTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (SourceKind.NGINX_ERROR, re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: ")),
    (SourceKind.APACHE_ERROR, re.compile(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4}\] \[[\w:.-]+\] ")),
    (SourceKind.NGINX_ACCESS, re.compile(r'\S+ \S+ \S+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "')),
    (SourceKind.SYSLOG, re.compile(r"(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|"
                                   r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*|1 \d{4}-\d\d-\d\dT\S+) \S+ ")),
)


def sniff(lines: Sequence[str], name: str = "") -> str:
    """The SourceKind most of ``lines`` match (the file name breaks ties), else ``text``."""
    scores = dict.fromkeys((kind for kind, _ in _TESTS), 0)
    for line in lines:
        if line.lstrip().startswith("{") and '"__CURSOR"' in line:
            return SourceKind.JOURNAL
        for kind, pattern in _TESTS:
            if pattern.match(line):
                scores[kind] += 1
                break
    best = max(scores, key=lambda kind: scores[kind])
    if scores[best] == 0:
        lowered = name.lower()
        if "access" in lowered and "nginx" in lowered:
            return SourceKind.NGINX_ACCESS
        if "error" in lowered and "nginx" in lowered:
            return SourceKind.NGINX_ERROR
        return SourceKind.TEXT
    return best
