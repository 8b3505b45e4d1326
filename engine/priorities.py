"""Priority sets the user types: ``0..4``, ``3``, ``0,3,4``, ``err``, ``warning..err``, ``all``."""

from __future__ import annotations

from alsate.engine.errors import UserError
from alsate.engine.records import priority_from_name


def _level(word: str, text: str) -> int:
    level = priority_from_name(word)
    if level is None:
        raise UserError(f"bad priority {text!r}: use 0-7 or emerg, alert, crit, err, warning, notice, info, "
                        "debug (e.g. 0..4, err, 0,3,4)")
    return level


def parse_priorities(text: str) -> frozenset[int]:
    """The set of priorities ``text`` names; a single level means that level and everything more severe."""
    value = text.strip().lower()
    if value in ("all", "*"):
        return frozenset(range(8))
    levels: set[int] = set()
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise UserError(f"bad priority {text!r}")
    for part in parts:
        if ".." in part:
            low, high = (_level(p.strip(), text) for p in part.split("..", 1))
            levels.update(range(min(low, high), max(low, high) + 1))
        elif len(parts) == 1:
            levels.update(range(_level(part, text) + 1))  # journalctl -p semantics: this level and above
        else:
            levels.add(_level(part, text))
    return frozenset(levels)
