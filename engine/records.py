"""The one record type every source produces, and the syslog priority scale."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

#: Syslog priorities, 0 (most severe) to 7.
PRIORITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
#: One letter per priority, for narrow columns.
PRIORITY_LETTERS = "EACRWNID"
#: Times :attr:`Record.time` can show whatever the local zone: 0001-01-03 to 9999-12-29 UTC.
MIN_TS = -62135424000.0
MAX_TS = 253402041600.0
#: The ALSATE policy: by default show and analyse priorities 0-4.
DEFAULT_MAX_PRIORITY = 4

_PRIORITY_ALIASES = {
    "emerg": 0, "emergency": 0, "panic": 0,
    "alert": 1,
    "crit": 2, "critical": 2, "fatal": 2,
    "err": 3, "error": 3,
    "warning": 4, "warn": 4,
    "notice": 5,
    "info": 6, "information": 6, "informational": 6,
    "debug": 7, "trace": 7,
}


def priority_from_name(name: str) -> int | None:
    """Map a level word (``err``, ``WARNING``, ``fatal``...) or a digit to 0-7."""
    word = name.strip().lower()
    if len(word) == 1 and "0" <= word <= "9":  # not str.isdigit: "²" is a digit int() refuses
        value = int(word)
        return value if value <= 7 else None
    return _PRIORITY_ALIASES.get(word)


class SourceKind:
    """Names of the kinds of source a record can come from."""

    JOURNAL = "journal"
    NGINX_ACCESS = "nginx-access"
    NGINX_ERROR = "nginx-error"
    SYSLOG = "syslog"
    APACHE_ERROR = "apache-error"
    TEXT = "text"


class Record(NamedTuple):
    """One log entry, whatever its source.

    A ``NamedTuple`` because the store holds a million of them. ``ts`` is POSIX
    seconds; :attr:`time` gives it tz-aware. ``priority`` is what the source said
    (the journal's PRIORITY, the nginx level, the HTTP status class);
    ``effective`` is what the content says (a ``level=error`` inside an info
    line); filters use ``effective`` unless asked not to. ``origin`` names the
    source (a path, ``journal`` or a journal directory) and ``pos`` the place in
    it (byte offset or journal cursor): together they are the stable :attr:`id`.
    """

    ts: float
    host: str
    kind: str
    unit: str
    pid: int | None
    priority: int
    effective: int
    message: str
    raw: str
    extra: dict[str, Any] | None
    origin: str
    pos: int | str

    @property
    def id(self) -> str:
        return f"{self.origin}#{self.pos}"

    @property
    def time(self) -> datetime:
        """``ts`` as a local datetime; a stamp beyond what datetime holds (a hostile line's year 9999
        in UTC-14) is shown clamped to years 1-9999 rather than failing."""
        ts = self.ts
        if not MIN_TS <= ts <= MAX_TS:  # also NaN
            ts = MAX_TS if ts > MAX_TS else MIN_TS
        return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone()

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES[self.effective]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape of ``alsate scan --json``)."""
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "host": self.host,
            "kind": self.kind,
            "unit": self.unit,
            "pid": self.pid,
            "priority": self.priority,
            "effective_priority": self.effective,
            "message": self.message,
            "raw": self.raw,
            "extra": self.extra or {},
        }
