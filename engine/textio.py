"""Bytes to text for log lines: never fails, never loses what was there.

Invalid UTF-8 becomes visible ``\\xNN`` escapes (so the raw line survives and
can be printed anywhere); NUL and other control bytes are kept as they are and
made visible only at display time (:func:`visible`, and :func:`json_safe` for
``--json`` output).
"""

from __future__ import annotations

import re

ENCODING = "utf-8"
ERRORS = "backslashreplace"

#: What a terminal may act on or hide: C0 controls but tab and newline, DEL, C1 controls, bidi marks,
#: overrides and isolates, zero-width characters, line/paragraph separators, and lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                      "\u2066-\u2069\ufeff\ud800-\udfff]")
_CONTROL_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
                              "\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode(data: bytes) -> str:
    """Decode one line (without its newline) as UTF-8, escaping invalid bytes."""
    return data.decode(ENCODING, ERRORS)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ^[ for ESC, ^M for CR, ^@ for NUL
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def visible(text: str) -> str:
    """Make control, bidi and zero-width characters visible (tabs are kept)."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str) -> str:
    """:func:`visible`, and newlines too (``^J``): a multi-line journal message cannot fake a second line."""
    return visible(text).replace("\n", "^J")


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (from a JSON ``\\udc80`` escape) as ``\\xNN`` escapes of their UTF-8 bytes."""
    if not _SURROGATE.search(text):
        return text
    return decode(text.encode(ENCODING, "surrogatepass"))


def json_safe(document: str) -> str:
    """A JSON text (``json.dumps(..., ensure_ascii=False)``) with what a terminal acts on as ``\\uXXXX``.

    ``json`` escapes C0 controls itself; DEL, C1 controls, bidi and zero-width characters and lone
    surrogates it writes raw. They can only occur inside strings, where ``\\uXXXX`` decodes to the same
    text, so the raw line still survives a round trip.
    """
    return _CONTROL_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
