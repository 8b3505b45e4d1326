"""Merge several record streams into one time-ordered stream.

History (files, a journal range) is merged exactly with a k-way merge on the
timestamp. Live records arrive from several followers at wall-clock time; a
:class:`ReorderBuffer` holds each for a short window so that a record that
arrives a little late from one source still lands in time order.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterable, Iterator

from alsate.engine.records import Record


def merge_history(streams: Iterable[Iterable[Record]]) -> Iterator[Record]:
    """One stream ordered by timestamp (stable: equal stamps keep source order)."""
    return heapq.merge(*streams, key=lambda record: record.ts)


class ReorderBuffer:
    """Releases live records in timestamp order once they are ``window`` seconds old.

    A record is released when its timestamp is older than ``now - window``
    (it can no longer be overtaken by a late arrival from another source) or
    when it has waited ``max_hold`` seconds (a source whose clock runs ahead
    must not stall the stream).
    """

    def __init__(self, window: float = 0.5, max_hold: float | None = None, limit: int = 100_000) -> None:
        self.window = window
        self.max_hold = max_hold if max_hold is not None else 4 * window
        self.limit = limit
        self._heap: list[tuple[float, int, float, Record]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, record: Record, now: float | None = None) -> None:
        arrived = time.time() if now is None else now
        heapq.heappush(self._heap, (record.ts, next(self._counter), arrived, record))

    def extend(self, records: list[Record], now: float | None = None) -> None:
        arrived = time.time() if now is None else now
        heap, counter = self._heap, self._counter
        for record in records:
            heapq.heappush(heap, (record.ts, next(counter), arrived, record))

    def pop_ready(self, now: float | None = None) -> list[Record]:
        """Records that may be released now, oldest first."""
        now = time.time() if now is None else now
        horizon = now - self.window
        oldest_allowed = now - self.max_hold
        out: list[Record] = []
        heap = self._heap
        while heap:
            ts, _, arrived, record = heap[0]
            if ts <= horizon or len(heap) > self.limit:
                out.append(heapq.heappop(heap)[3])
            elif any(entry[2] <= oldest_allowed for entry in heap[:8]):
                # Something has waited too long: release everything up to it, in order.
                out.append(heapq.heappop(heap)[3])
            else:
                break
        return out

    def drain(self) -> list[Record]:
        """Everything still held, oldest first (at shutdown)."""
        out = [entry[3] for entry in sorted(self._heap)]
        self._heap.clear()
        return out
