"""Effective priority: the severity a message's content states.

Services that log to stdout land in the journal at priority 6 (info), so a
priority filter hides their errors. This module reads the level the content
states (``level=error``, ``"level":"warn"``, ``ERROR``, a Python traceback, a
Go panic, well-known kernel failure phrases) and returns the more severe of
that and the source's priority. It only ever raises severity: a line cannot
hide itself from a filter by claiming ``level=debug``.
"""

from __future__ import annotations

import re

from alsate.engine.records import priority_from_name

# An explicit level field: logfmt (level=warn), JSON ("level": "error"), key: value.
_FIELD = re.compile(
    r"""(?:\b|")(?:level|lvl|severity|loglevel|log_level)"?\s*[=:]\s*"?([A-Za-z]+)""",
    re.IGNORECASE,
)

# Bare level words, upper case only: lower-case "error" occurs in benign prose ("0 errors").
# EMERG and ALERT are left out: as bare words they name things ("ALERT exited abnormally" is a cron job).
_WORDS = re.compile(
    r"\b(CRIT(?:ICAL)?|FATAL|PANIC|SEVERE|ERROR|ERR|WARN(?:ING)?)\b"
    r"|\[(emerg|alert|crit|error|warn|warning)\]"
    r"|^(error|fatal|warning):"
)

# Phrases with a known severity, regardless of case of the surrounding text.
_PHRASES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"Kernel panic|kernel BUG at"), 0),
    (re.compile(r"^panic: |goroutine \d+ \[running\]|Out of memory: Kill|oom-kill|invoked oom-killer"), 2),
    (re.compile(r"Machine check events logged|Hardware Error|Remounting filesystem read-only"), 2),
    (re.compile(r"^Traceback \(most recent call last\)|^Exception in thread |Unhandled exception"), 3),
    (re.compile(r"segfault at |I/O error|EXT4-fs error|XFS \(\S+\): .*error|No space left on device"), 3),
    (re.compile(r"core dumped|Failed with result|Main process exited, code=(?:exited|killed|dumped)"), 3),
)

_WORD_LEVEL = {
    "EMERG": 0, "EMERGENCY": 0, "ALERT": 1, "CRIT": 2, "CRITICAL": 2, "FATAL": 2, "PANIC": 2,
    "SEVERE": 3, "ERROR": 3, "ERR": 3, "WARN": 4, "WARNING": 4,
}


def stated_priority(message: str) -> int | None:
    """The priority the message content states, or None when it states none."""
    # Only the head of a huge line is read: a level is stated early.
    head = message[:4096]
    best: int | None = None
    field = _FIELD.search(head)
    if field:
        best = priority_from_name(field.group(1))
    word = _WORDS.search(head)
    if word:
        token = next(g for g in word.groups() if g)
        level = _WORD_LEVEL.get(token.upper(), priority_from_name(token))
        if level is not None and (best is None or level < best):
            best = level
    for pattern, level in _PHRASES:
        if (best is None or level < best) and pattern.search(head):
            best = level
    return best


def effective_priority(priority: int, message: str) -> int:
    """The more severe of the source's priority and the content's stated one."""
    if priority <= 2:
        return priority
    stated = stated_priority(message)
    return priority if stated is None or stated >= priority else stated
