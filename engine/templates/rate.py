"""Per-minute rate of one stream of events against its own rolling baseline.

Event time drives it (the records' ``ts``), so a file read at full speed gives
the same figures as the live stream it came from. The baseline is an
exponentially weighted mean of the counts of completed minutes, empty minutes
included, seeded with the first completed minute.
"""

from __future__ import annotations

import math

#: Minutes the baseline roughly averages over.
BASELINE_MINUTES = 30
_ALPHA = 2.0 / (BASELINE_MINUTES + 1)
_KEEP = 1.0 - _ALPHA


class MinuteRate:
    """Counts in the current minute, and the baseline of the minutes before it."""

    __slots__ = ("minute", "count", "baseline", "history")

    def __init__(self) -> None:
        self.minute = -1
        self.count = 0
        self.baseline = 0.0
        #: Completed minutes (empty ones included) behind the baseline.
        self.history = 0

    def add(self, ts: float) -> int:
        """Count one event at ``ts``; returns the count of its minute so far."""
        minute = int(ts // 60)
        if minute > self.minute:
            self._roll(minute)
        self.count += 1
        return self.count

    def _roll(self, minute: int) -> None:
        if self.minute >= 0:
            gap = minute - self.minute
            # The first completed minute seeds the baseline (an EWMA started at 0 would take
            # half an hour to believe a steady rate).
            self.baseline = self.count if self.history == 0 else _ALPHA * self.count + _KEEP * self.baseline
            if gap > 1:
                self.baseline *= _KEEP ** min(gap - 1, 10_000)
            self.history += gap
        self.minute = minute
        self.count = 0

    def current(self, now: float | None = None) -> int:
        """Events in the minute of ``now`` (0 when this stream has gone quiet)."""
        if now is not None and int(now // 60) > self.minute:
            return 0
        return self.count

    def change(self, now: float | None = None) -> float:
        """log2 of (this minute + 1) / (baseline + 1): 0 is steady, +3 is eight times the usual."""
        return math.log2((self.current(now) + 1.0) / (self.baseline + 1.0))
