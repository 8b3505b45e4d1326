"""Runs the findings engine in its own thread and hands the panel snapshots.

The :class:`~alsate.engine.findings.FindingsEngine` is fed off the event loop
(history can be a million records); only this thread touches it. Every
``interval`` seconds, when something changed, it publishes a
:class:`FindingsSnapshot`: the findings in the engine's order, each with its
rate per minute over the last :data:`SPARK_BUCKETS` minutes (event time), taken
from the timestamps of the evidence records fed since the last snapshot.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alsate.engine.records import Record

SPARK_BUCKETS = 12
BUCKET_SECONDS = 60.0


@dataclass(frozen=True)
class FindingRow:
    finding: object  # alsate.engine.findings.Finding
    rate: tuple[int, ...]  # evidence per minute, oldest first, the last bucket being "now"


@dataclass(frozen=True)
class FindingsSnapshot:
    rows: tuple[FindingRow, ...]
    records: int  # records fed so far
    pending: int  # records waiting to be fed


class FindingsFeed:
    """A thread that owns a findings engine."""

    def __init__(self, engine, publish: Callable[[FindingsSnapshot], None], *, interval: float = 0.5,
                 read_history: Callable[[int], Record | None] | None = None,
                 on_history_done: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.publish = publish
        self.interval = interval
        self.read_history = read_history
        self.on_history_done = on_history_done
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alsate findings", daemon=True)
        self._series: dict[str, dict[int, int]] = {}
        self._evidence_len: dict[str, int] = {}
        self._recent_ts: dict[str, float] = {}
        self._dirty = False
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=2)
        with contextlib.suppress(Exception):  # saving template state is best effort on exit
            self.engine.close()

    def feed(self, records: Sequence[Record]) -> None:
        """Live records (called from the event loop; never blocks)."""
        if records:
            self._pending += len(records)
            self._queue.put(list(records))

    def feed_history(self, first_seq: int, end_seq: int) -> None:
        """History held in the store, read by sequence number in this thread."""
        self._pending += max(0, end_seq - first_seq)
        self._queue.put((first_seq, end_seq))

    @property
    def pending(self) -> int:
        return self._pending

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=self.interval)
            except queue.Empty:
                item = ()
            if item is None:
                break
            try:
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int):
                    self._feed_history(*item)
                elif item:
                    self._feed(item)
            except Exception as exc:  # a detector bug must not kill the app: show it
                self.error = f"findings engine: {type(exc).__name__}: {exc}"
                self._dirty = True
            if time.monotonic() - last >= self.interval and self._dirty:
                self._snapshot()
                last = time.monotonic()

    def _feed(self, records: Sequence[Record]) -> None:
        feed = self.engine.feed
        recent = self._recent_ts
        for record in records:
            recent[record.id] = record.ts
            feed(record)
        self._pending = max(0, self._pending - len(records))
        self._dirty = True
        if len(recent) > 50_000:
            self._snapshot()

    def _feed_history(self, first: int, end: int) -> None:
        read = self.read_history
        if read is None:
            return
        chunk: list[Record] = []
        skipped = 0
        for seq in range(first, end):
            if self._stop.is_set():
                return
            record = read(seq)
            if record is None:
                skipped += 1
            else:
                chunk.append(record)
            if len(chunk) >= 5000:
                self._feed(chunk)
                chunk = []
        self._feed(chunk)
        self._pending = max(0, self._pending - skipped)
        self._snapshot()
        if self.on_history_done is not None:
            self.on_history_done()

    def _snapshot(self) -> None:
        findings = self.engine.findings()
        recent = self._recent_ts
        now_bucket = int(self.engine.now // BUCKET_SECONDS)
        rows = []
        for finding in findings:
            evidence = finding.evidence
            seen = self._evidence_len.get(finding.id, 0)
            series = self._series.setdefault(finding.id, {})
            for rid in evidence[seen:]:
                ts = recent.get(rid, finding.last_seen)
                bucket = int(ts // BUCKET_SECONDS)
                series[bucket] = series.get(bucket, 0) + 1
            self._evidence_len[finding.id] = len(evidence)
            for old in [b for b in series if b <= now_bucket - SPARK_BUCKETS]:
                del series[old]
            rate = tuple(series.get(b, 0) for b in range(now_bucket - SPARK_BUCKETS + 1, now_bucket + 1))
            rows.append(FindingRow(finding, rate))
        recent.clear()
        self._dirty = False
        self.publish(FindingsSnapshot(tuple(rows), self.engine.records, self._pending))
