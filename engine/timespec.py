"""Times the user types: ``--since 2024-05-01``, ``"2024-05-01 10:00"``, ``-1h``, ``2h ago``, ``@1714521600``,
``today``, ``yesterday``, ``now``."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

from alsate.engine.errors import UserError
from alsate.engine.records import MAX_TS, MIN_TS

_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
          "w": 604800, "week": 604800, "weeks": 604800}
_RELATIVE = re.compile(r"(?:-\s*(\d+(?:\.\d+)?)\s*([a-z]+)|(\d+(?:\.\d+)?)\s*([a-z]+)\s+ago)")


def parse_time(text: str, now: float | None = None) -> float:
    """POSIX seconds for a time the user typed; UserError with the accepted forms otherwise."""
    value = _parse_time(text, now)
    if not MIN_TS <= value <= MAX_TS:  # also NaN and infinities (@1e400)
        raise UserError(f"time {text!r} is out of range (years 1 to 9999)")
    return value


def _parse_time(text: str, now: float | None) -> float:
    now = time.time() if now is None else now
    value = text.strip().lower()
    if value == "now":
        return now
    midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "today":
        return midnight.timestamp()
    if value == "yesterday":
        return (midnight - timedelta(days=1)).timestamp()
    if value.startswith("@"):
        try:
            return float(value[1:])
        except ValueError:
            pass
    match = _RELATIVE.fullmatch(value)
    if match:
        amount = float(match.group(1) or match.group(3))
        unit = match.group(2) or match.group(4)
        if unit in _UNITS:
            return now - amount * _UNITS[unit]
    try:
        cleaned = text.strip().replace("Z", "+00:00")
        return datetime.fromisoformat(cleaned).timestamp()
    except ValueError:
        pass
    raise UserError(f"cannot read time {text!r}: use e.g. 2024-05-01, '2024-05-01 10:00', -1h, '2h ago', "
                    "@1714521600, today, yesterday")
