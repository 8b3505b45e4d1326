"""A findings engine run in its own thread, publishing snapshots with a per-minute rate series.

:class:`FindingsFeed` owns a :class:`~alsate.engine.findings.FindingsEngine`:
only its thread touches the engine. Live records are handed over with
:meth:`~FindingsFeed.feed` (never blocks); the history held in a store is read
by sequence number in the thread (:meth:`~FindingsFeed.feed_history`). Every
``interval`` seconds, when something changed, it calls ``publish`` with a
:class:`FindingsSnapshot`: the findings in the engine's order, each with its
evidence count per minute over the last :data:`SPARK_BUCKETS` minutes (event
time), taken from the timestamps of the evidence records fed since the last
snapshot.

An interactive front end shares the interpreter (and its GIL) with this
thread. It can pass ``may_run``, an event it clears while it handles a key or
paints: the feed then waits (at most ``yield_limit`` seconds) before its next
slice of :data:`SLICE` records, so a busy findings engine does not halve the
speed of the event loop. Nothing is dropped: records wait in the queue.
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
#: Records fed between two looks at ``may_run``.
SLICE = 256
#: Records of history read before they are fed as one batch.
HISTORY_CHUNK = 5000
#: Records whose timestamps are kept for the rate series before a snapshot is forced.
RECENT_LIMIT = 50_000


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
    """A thread that owns a findings engine (set ``engine`` before :meth:`start`)."""

    def __init__(self, engine, publish: Callable[[FindingsSnapshot], None], *, interval: float = 0.5,
                 read_history: Callable[[int], Record | None] | None = None,
                 on_history_done: Callable[[], None] | None = None,
                 may_run: threading.Event | None = None, yield_limit: float = 0.25) -> None:
        self.engine = engine
        self.publish = publish
        self.interval = interval
        self.read_history = read_history
        self.on_history_done = on_history_done
        self.may_run = may_run
        self.yield_limit = yield_limit
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

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        with contextlib.suppress(Exception):  # saving template state is best effort on exit
            if self.engine is not None:
                self.engine.close()

    def feed(self, records: Sequence[Record]) -> None:
        """Live records (any thread; never blocks)."""
        if records:
            self._pending += len(records)
            self._queue.put(list(records))

    def feed_history(self, first_seq: int, end_seq: int) -> None:
        """History held in a store, read by sequence number (``read_history``) in this thread."""
        self._pending += max(0, end_seq - first_seq)
        self._queue.put((first_seq, end_seq))

    @property
    def pending(self) -> int:
        """Records handed over and not yet fed."""
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
            except Exception as exc:  # a detector bug must not kill the front end: show it
                self.error = f"findings engine: {type(exc).__name__}: {exc}"
                self._dirty = True
            if time.monotonic() - last >= self.interval and self._dirty:
                self._snapshot()
                last = time.monotonic()

    def _yield(self) -> None:
        may_run = self.may_run
        if may_run is not None and not may_run.is_set():
            may_run.wait(self.yield_limit)

    def _feed(self, records: Sequence[Record]) -> None:
        engine = self.engine
        feed_all = getattr(engine, "feed_all", None)
        recent = self._recent_ts
        for start in range(0, len(records), SLICE):
            if self._stop.is_set():
                return
            self._yield()
            part = records[start:start + SLICE]
            for record in part:
                recent[record.id] = record.ts
            if feed_all is not None:
                feed_all(part)
            else:
                for record in part:
                    engine.feed(record)
            self._pending = max(0, self._pending - len(part))
        self._dirty = True
        if len(recent) > RECENT_LIMIT:
            self._snapshot()

    def _feed_history(self, first: int, end: int) -> None:
        read = self.read_history
        if read is None:
            self._pending = max(0, self._pending - (end - first))
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
            if len(chunk) >= HISTORY_CHUNK:
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
