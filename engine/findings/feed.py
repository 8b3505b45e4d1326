"""A findings engine run in its own thread, publishing snapshots with a per-minute rate series.

:class:`FindingsFeed` owns a :class:`~alsate.engine.findings.FindingsEngine`:
only its thread touches the engine. Live records are handed over with
:meth:`~FindingsFeed.feed` (never blocks); the history held in a store is read
in the thread (:meth:`~FindingsFeed.feed_history`), an access log's lines
column-wise when the engine takes them so (the way ``alsate scan`` reads a
file), other lines re-parsed into records. Every
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
from typing import TYPE_CHECKING

from alsate.engine.records import Record

if TYPE_CHECKING:
    from alsate.engine.store import LineRun, Store

SPARK_BUCKETS = 12
BUCKET_SECONDS = 60.0
#: Records fed between two looks at ``may_run``.
SLICE = 256
#: Records of history read before they are fed as one batch.
HISTORY_CHUNK = 5000
#: Access-log lines of history fed column-wise at once (a few ms: the front end is not held up).
COLUMN_SLICE = 2048
#: Records whose timestamps are kept for the rate series before a snapshot is forced.
RECENT_LIMIT = 50_000
#: Live records that may wait for the engine; beyond that new batches are skipped (and counted), so an
#: engine that cannot keep up with a flood does not hold the flood in memory.
MAX_PENDING = 500_000


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
                 store: Store | None = None,
                 on_history_done: Callable[[], None] | None = None,
                 may_run: threading.Event | None = None, yield_limit: float = 0.25,
                 max_pending: int = MAX_PENDING) -> None:
        self.engine = engine
        self.publish = publish
        self.interval = interval
        self.store = store
        self._parsers: dict[str, object] = {}  # this thread's copies of the store's parsers
        self.on_history_done = on_history_done
        self.may_run = may_run
        self.yield_limit = yield_limit
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self.max_pending = max_pending
        #: Live records never fed: they came while :attr:`max_pending` records were waiting.
        self.skipped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alsate findings", daemon=True)
        self._series: dict[str, dict[int, int]] = {}
        self._evidence_seen: dict[str, int] = {}  # per finding: evidence ids added, as of the last snapshot
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
        """Live records (any thread; never blocks). Skipped, and counted in :attr:`skipped`, while
        :attr:`max_pending` records wait already."""
        if records:
            if self._pending + len(records) > self.max_pending:
                self.skipped += len(records)
                return
            self._pending += len(records)
            self._queue.put(list(records))

    def feed_history(self, first_seq: int, end_seq: int) -> None:
        """The records ``first_seq <= seq < end_seq`` held in ``store``, read in this thread."""
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
        store = self.store
        fed = 0
        if store is not None:
            for piece in store.history(first, end, HISTORY_CHUNK):
                if self._stop.is_set():
                    return
                if isinstance(piece, list):
                    self._feed(piece)
                else:
                    self._feed_lines(piece)
                fed += len(piece.lines) if not isinstance(piece, list) else len(piece)
        self._pending = max(0, self._pending - (end - first - fed))  # evicted before they were read
        self._snapshot()
        if self.on_history_done is not None:
            self.on_history_done()

    def _parser(self, run: LineRun):
        """A copy of the run's parser for this thread (its state, the last time seen, is its own)."""
        import copy

        parser = self._parsers.get(run.origin)
        if parser is None or type(parser) is not type(run.parser):
            parser = self._parsers[run.origin] = copy.copy(run.parser)
        return parser

    def _feed_lines(self, run: LineRun) -> None:
        """History lines: column-wise for an access log when the engine takes it so, else as records
        (the same records :meth:`Store.get` gives: the stored time wins)."""
        from alsate.engine.formats.nginx_access import AccessLogParser

        parser = self._parser(run)
        accepts = getattr(self.engine, "accepts_access_columns", None)
        columnwise = isinstance(parser, AccessLogParser) and accepts is not None and accepts()
        for start in range(0, len(run.lines), COLUMN_SLICE if columnwise else HISTORY_CHUNK):
            stop = start + (COLUMN_SLICE if columnwise else HISTORY_CHUNK)
            positions, lines, stamps = run.positions[start:stop], run.lines[start:stop], run.ts[start:stop]
            columns = parser.batch_columns(positions, lines) if columnwise else None
            if columns is None:
                parse = parser.parse
                records = [parse(line, pos) for line, pos in zip(lines, positions, strict=True)]
                self._feed([r if r.ts == ts else r._replace(ts=ts) for r, ts in zip(records, stamps, strict=True)])
                continue
            if self._stop.is_set():
                return
            self._yield()
            if columns.ts != stamps:
                parsed = {i: r if r.ts == stamps[i] else r._replace(ts=stamps[i]) for i, r in columns.parsed.items()}
                columns = columns._replace(ts=stamps, parsed=parsed)
            origin = run.origin
            self._recent_ts.update(zip([f"{origin}#{pos}" for pos in positions], stamps, strict=True))
            self.engine.feed_access_columns(origin, positions, columns)
            self._pending = max(0, self._pending - len(lines))
            self._dirty = True
        if len(self._recent_ts) > RECENT_LIMIT:
            self._snapshot()

    def _snapshot(self) -> None:
        findings = self.engine.findings()
        recent = self._recent_ts
        now_bucket = int(self.engine.now // BUCKET_SECONDS)
        rows = []
        for finding in findings:
            # Evidence added since the last snapshot: the tail of the list (the engine drops ids from
            # the middle of a long one, so the count of ids ever added says how many are new).
            added = len(finding.evidence) + finding.evidence_dropped
            new = added - self._evidence_seen.get(finding.id, 0)
            series = self._series.setdefault(finding.id, {})
            if new > 0:
                for rid in finding.evidence[-new:]:
                    ts = recent.get(rid, finding.last_seen)
                    bucket = int(ts // BUCKET_SECONDS)
                    series[bucket] = series.get(bucket, 0) + 1
            self._evidence_seen[finding.id] = added
            for old in [b for b in series if b <= now_bucket - SPARK_BUCKETS]:
                del series[old]
            rate = tuple(series.get(b, 0) for b in range(now_bucket - SPARK_BUCKETS + 1, now_bucket + 1))
            rows.append(FindingRow(finding, rate))
        if len(self._series) > len(rows):  # findings the engine let go (a live view's bound on inactive ones)
            alive = {row.finding.id for row in rows}
            for gone in [fid for fid in self._series if fid not in alive]:
                del self._series[gone]
                self._evidence_seen.pop(gone, None)
        recent.clear()
        self._dirty = False
        self.publish(FindingsSnapshot(tuple(rows), self.engine.records, self._pending))
