"""Timestamp parsing for the formats alsate reads, fast for repeated stamps.

Log lines share timestamps (thousands of lines a second carry the same
second), so every parser here caches the last few thousand strings it saw.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_CACHE_LIMIT = 4096


def local_offset(ts: float) -> int:
    """The local UTC offset in seconds at POSIX time ``ts``."""
    return time.localtime(ts).tm_gmtoff


def _local_to_posix(year: int, month: int, day: int, hh: int, mm: int, ss: int) -> float:
    return float(time.mktime((year, month, day, hh, mm, ss, 0, 0, -1)))


class StampCache:
    """A bounded dict from timestamp text to POSIX seconds."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[str, float] = {}

    def get(self, key: str) -> float | None:
        return self._data.get(key)

    def put(self, key: str, value: float) -> float:
        if len(self._data) >= _CACHE_LIMIT:
            self._data.clear()
        self._data[key] = value
        return value


def parse_clf(text: str, cache: StampCache) -> float:
    """nginx/Apache ``$time_local``: ``10/Oct/2000:13:55:36 -0700``."""
    hit = cache.get(text)
    if hit is not None:
        return hit
    day, mon, year = int(text[0:2]), MONTHS[text[3:6]], int(text[7:11])
    hh, mm, ss = int(text[12:14]), int(text[15:17]), int(text[18:20])
    value = float(calendar.timegm((year, mon, day, hh, mm, ss, 0, 0, 0)))
    zone = text[21:26]
    if zone:
        sign = -1 if zone[0] == "-" else 1
        value -= sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    return cache.put(text, value)


def parse_iso(text: str, cache: StampCache) -> float:
    """ISO 8601 / RFC 3339 (``2024-05-11T03:12:45.123+00:00``, ``...Z``); naive means local."""
    hit = cache.get(text)
    if hit is not None:
        return hit
    cleaned = text.replace("Z", "+00:00") if text.endswith("Z") else text
    if len(cleaned) > 5 and cleaned[-5] in "+-" and cleaned[-3] != ":" and "T" in cleaned:
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]  # +0000 -> +00:00
    parsed = datetime.fromisoformat(cleaned)
    value = parsed.timestamp()  # naive: interpreted as local time
    return cache.put(text, value)


def parse_nginx_error(text: str, cache: StampCache) -> float:
    """nginx error log: ``2024/03/02 14:01:33`` in local time."""
    hit = cache.get(text)
    if hit is not None:
        return hit
    value = _local_to_posix(int(text[0:4]), int(text[5:7]), int(text[8:10]),
                            int(text[11:13]), int(text[14:16]), int(text[17:19]))
    return cache.put(text, value)


def parse_bsd(text: str, year: int, cache: StampCache) -> float:
    """RFC 3164 ``Jun 14 15:16:01`` (no year, local time) in ``year``."""
    key = f"{year} {text}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    value = _local_to_posix(year, MONTHS[text[0:3]], int(text[4:6]), int(text[7:9]), int(text[10:12]),
                            int(text[13:15]))
    return cache.put(key, value)


def parse_ctime(text: str, cache: StampCache) -> float:
    """Apache error log ``Sun Dec 04 04:47:44 2005`` or ``Sun Dec 04 04:47:44.123456 2005`` (local)."""
    hit = cache.get(text)
    if hit is not None:
        return hit
    parts = text.split()
    clock = parts[3]
    frac = 0.0
    if "." in clock:
        clock, fraction = clock.split(".", 1)
        frac = float("0." + fraction)
    hh, mm, ss = (int(x) for x in clock.split(":"))
    value = _local_to_posix(int(parts[4]), MONTHS[parts[1]], int(parts[2]), hh, mm, ss) + frac
    return cache.put(text, value)
