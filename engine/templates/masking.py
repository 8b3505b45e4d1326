"""Masking of variable tokens before template mining.

A message such as ``Failed password for root from 203.0.113.9 port 52144 ssh2``
becomes ``Failed password for root from <IP> port <NUM> ssh2``. Masks are
applied in order (the most specific first) so that an IP is never half-eaten by
the number mask. The masked text is only ever used as a grouping key and shown
as plain text; nothing in it is interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Token boundary: a mask never starts or ends inside a word.
_L = r"(?<![\w.\-])"
_R = r"(?![\w\-])"


@dataclass(frozen=True)
class Mask:
    """One masking rule: a compiled pattern and the placeholder it leaves."""

    name: str
    pattern: re.Pattern[str]
    #: Cheap gate: the rule runs only when one of these substrings is in the text
    #: (empty: always). A speed-up only; the pattern decides.
    needs: tuple[str, ...] = ()
    #: The rule can only match text that has a digit.
    digit: bool = True

    @property
    def placeholder(self) -> str:
        return f"<{self.name}>"


def _mask(name: str, regex: str, needs: tuple[str, ...] = (), digit: bool = True) -> Mask:
    return Mask(name, re.compile(regex), needs, digit)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = r"[0-9A-Fa-f]{1,4}"
# Full form (eight groups) or compressed with ``::``; ``12:34:56`` (a time) is neither.
_IPV6 = rf"(?:(?:{_H16}:){{7}}{_H16}|(?:{_H16}:){{1,6}}:(?:{_H16}(?::{_H16}){{0,5}})?|::(?:{_H16}(?::{_H16}){{0,6}})?)"

#: The default rules, most specific first.
DEFAULT_MASKS: tuple[Mask, ...] = (
    _mask("UUID", rf"{_L}[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}{_R}",
          ("-",)),
    _mask("URL", r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+", ("://",), False),
    _mask("IP", rf"(?<![\w.:]){_IPV4}(?::\d{{1,5}})?(?!\w|\.\w)", (".",)),
    _mask("MAC", rf"{_L}[0-9A-Fa-f]{{2}}(?::[0-9A-Fa-f]{{2}}){{5}}{_R}", (":",), False),
    _mask("IP", rf"(?<![\w:]){_IPV6}(?![\w:])", ("::", ":0", ":1", ":2", ":3", ":4", ":5", ":6", ":7", ":8", ":9",
                                                 ":a", ":b", ":c", ":d", ":e", ":f"), False),
    _mask("DATE", r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                  r"[a-z]*\s+\d{1,2}(?:,?\s+\d{4})?\s+\d{1,2}:\d{2}:\d{2}(?:\.\d+)?(?:\s+\d{4})?\b", (":",)),
    _mask("DATE", r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w\-])", ("-",)),
    _mask("TIME", rf"{_L}\d{{1,2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?{_R}", (":",)),
    _mask("HOST", rf"{_L}[A-Za-z0-9][\w\-]*(?:\.[A-Za-z0-9][\w\-]*){{1,}}\.[A-Za-z]{{2,12}}\.?{_R}(?![(\[])",
          (".",), False),
    _mask("PATH", r"(?<![\w.~:/\-=>])(?:~|\.{1,2})?/(?:[\w.\-@+%,]+/)*[\w.\-@+%,]+/?(?=$|[\s'\"\]),;:]|\)|\()", ("/",), False),
    _mask("HEX", rf"{_L}0[xX][0-9A-Fa-f]+{_R}", ("0x", "0X")),
    _mask("HEX", rf"{_L}(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{{8,}}{_R}"),
    _mask("DUR", rf"{_L}\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs|d)(?![\w\-])"),
    _mask("SIZE", rf"{_L}\d+(?:\.\d+)?(?:[KMGTP]i?B?|[kKMGTP]B|B|bytes)(?![\w\-])"),
    _mask("NUM", r"(?<![\w.\-])[-+]?\d+(?:\.\d+)*(?![\w\-]|\.\d)"),
)

_PLACEHOLDER = re.compile(r"<(?:UUID|URL|IP|MAC|DATE|TIME|HOST|PATH|HEX|DUR|SIZE|NUM)>")


_DIGIT = re.compile(r"\d")
_token_cache: dict[str, str] = {}
_TOKEN_CACHE_MAX = 200_000
_MONTHS = frozenset(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))
_WEEKDAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))


def _apply(text: str, rules: Sequence[Mask]) -> str:
    digits = _DIGIT.search(text) is not None
    for rule in rules:
        if rule.digit and not digits:
            continue
        if rule.needs and not any(n in text for n in rule.needs):
            continue
        text = rule.pattern.sub(rule.placeholder, text)
    return text


#: Per-token rules: all but the month-name date, which spans tokens and is folded in ``mask``.
_TOKEN_RULES = tuple(m for m in DEFAULT_MASKS if not (m.name == "DATE" and "Jan" in m.pattern.pattern))


def mask(message: str, masks: Sequence[Mask] = DEFAULT_MASKS) -> str:
    """Replace every variable token of ``message`` with its placeholder.

    Whitespace runs become one space (Drain splits on whitespace anyway). With
    the default rules, tokens are masked one by one and remembered, so a token
    seen before costs a dict lookup; dates written over several tokens
    (``Fri Jun 17 07:07:00 2005``, ``2024-05-01 10:00:01``) are folded into one
    ``<DATE>`` when their time token is reached.
    """
    if masks is not DEFAULT_MASKS:
        return " ".join(_apply(message, masks).split())
    cache = _token_cache
    out: list[str] = []
    year_may_follow = False
    for token in message.split():
        masked = cache.get(token)
        if masked is None:
            masked = _apply(token, _TOKEN_RULES)
            if len(cache) >= _TOKEN_CACHE_MAX:
                cache.clear()
            cache[token] = masked
        if year_may_follow:
            year_may_follow = False
            if len(token) == 4 and token.isdigit():
                continue  # the year of "Jun 17 07:07:00 2005"
        if masked == "<TIME>" and out:
            if out[-1] == "<DATE>":
                out.pop()
                masked = "<DATE>"
            elif len(out) >= 2 and out[-1] == "<NUM>" and out[-2][:3] in _MONTHS and out[-2][:3].isalpha():
                del out[-2:]
                if out and out[-1][:3] in _WEEKDAYS:
                    out.pop()
                masked = "<DATE>"
                year_may_follow = True
        out.append(masked)
    return " ".join(out)


def is_placeholder(token: str) -> bool:
    """True when ``token`` is (or contains) a mask placeholder or Drain's ``<*>``."""
    return token == "<*>" or _PLACEHOLDER.search(token) is not None
