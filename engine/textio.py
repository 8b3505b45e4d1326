"""Bytes to text for log lines: never fails, never loses what was there.

Invalid UTF-8 becomes visible ``\\xNN`` escapes (so the raw line survives and
can be printed anywhere); NUL and other control bytes are kept as they are and
made visible only at display time (:func:`visible`).
"""

from __future__ import annotations

import re

ENCODING = "utf-8"
ERRORS = "backslashreplace"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


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
