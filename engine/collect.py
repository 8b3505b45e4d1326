"""Several sources as one stream: their history merged in time order, then live records.

:class:`SourceSet` is what the CLI and the TUI hold. ``history()`` merges what
the sources hold now. ``start_follow()`` runs one thread per source (journal
waits and file tails block there, never in an event loop) feeding a
:class:`~alsate.engine.merge.ReorderBuffer`; ``live()`` / ``poll_live()``
hand out the merged live records.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter

from alsate.engine.errors import SourceError
from alsate.engine.formats.nginx_access import AccessLogParser
from alsate.engine.merge import ReorderBuffer, merge_history
from alsate.engine.records import Record
from alsate.engine.sources import FileSource, JournalSource, Source
from alsate.engine.store import Store


@dataclass
class SourceSet:
    sources: Sequence[Source]
    window: float = 0.5
    #: Problems met while following (a source gone, permission lost): shown, never fatal.
    warnings: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _queue: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=1000))  # of batches
    _threads: list[threading.Thread] = field(default_factory=list)
    _buffer: ReorderBuffer | None = None
    #: File offsets where history reading ended, so following starts exactly there.
    _offsets: dict[str, int] = field(default_factory=dict)
    _journal_cursor: dict[str, str] = field(default_factory=dict)
    #: Cleared by an interactive front end while it handles a key or paints: the follower threads then
    #: wait (at most ``yield_limit`` seconds) before reading and parsing their next batch. Nothing is lost.
    may_run: threading.Event | None = None
    yield_limit: float = 0.25

    def __post_init__(self) -> None:
        for source in self.sources:
            warning = getattr(source, "warning", None)
            if warning:
                self.warnings.append(warning)

    def describe(self) -> list[str]:
        out = []
        for source in self.sources:
            if isinstance(source, FileSource):
                out.append(f"{source.origin} ({source.kind})")
            else:
                out.append(f"{source.origin} (journal, {source.backend})")
        return out

    # -- history --------------------------------------------------------------------------------

    def _history_of(self, source: Source) -> Iterator[Record]:
        last = None
        for record in source.records():
            last = record
            yield record
        if isinstance(source, FileSource):
            self._offsets[source.origin] = source.end_offset
        elif last is not None:
            self._journal_cursor[source.origin] = str(last.pos)

    def history(self) -> Iterator[Record]:
        """Every record the sources hold now, in time order."""
        return merge_history(self._history_of(source) for source in self.sources)

    def _row_chunks(self, source: Source, store: Store, parsed: bool) -> Iterator[list[tuple]]:
        """History as lists of store rows ``(ts, priority, effective, unit, host, pos, payload, src)``.

        File lines are indexed by their parser's ``rows``: no Record is built, the store keeps the
        line and re-parses it on display. With ``parsed``, every line becomes a Record (payload) so
        a consumer can see it; :meth:`load` swaps it for the line before storing.
        """
        if isinstance(source, FileSource) and source.parser is not None:
            src = store.source_id(source.origin, source.kind, source.parser)
            if parsed:
                parse = source.parser.parse
                for offsets, lines in source.chunks():
                    yield [(r.ts, r.priority, r.effective, r.unit, r.host, pos, r, src)
                           for r, pos in ((parse(line, pos), pos) for pos, line in zip(offsets, lines, strict=True))]
            else:
                rows = source.parser.rows
                for offsets, lines in source.chunks():
                    yield rows(offsets, lines, src)
            self._offsets[source.origin] = source.end_offset
            return
        src = store.source_id(source.origin, source.kind if isinstance(source, FileSource) else "journal")
        records = self._history_of(source)
        while True:
            block = [(r.ts, r.priority, r.effective, r.unit, r.host, -1, r, src) for r in islice(records, 8192)]
            if not block:
                return
            yield block

    def load(self, store: Store, on_batch: Callable[[int], None] | None = None, batch: int = 65_536,
             consumer: Callable[[Record], None] | None = None) -> int:
        """Read the history of every source into ``store`` in time order; returns the records read.

        ``consumer`` (e.g. ``FindingsEngine.feed``) sees every record, in the merged time order,
        before it is stored. When it is the ``feed`` of an object that takes access-log lines
        column-wise (``FindingsEngine.feed_access_columns``) and the one source is an nginx access
        log, the lines go to it a chunk at a time instead, with the same result, and faster.
        """
        parsed = consumer is not None
        if len(self.sources) == 1:
            only = self.sources[0]
            if isinstance(only, FileSource) and only.parser is not None:
                if not parsed:
                    return self._load_columns(only, store, on_batch)
                feed_columns = _access_columns_feed(consumer, only)
                if feed_columns is not None:
                    return self._load_access_columns(only, store, on_batch, feed_columns, consumer)
        streams = [self._row_chunks(source, store, parsed) for source in self.sources]
        if len(streams) == 1:
            chunks: Iterator[list[tuple]] = streams[0]
        else:
            merged = heapq.merge(*(chain.from_iterable(s) for s in streams), key=itemgetter(0))
            chunks = iter(lambda: list(islice(merged, batch)), [])
        count = 0
        for chunk in chunks:
            if consumer is not None:
                chunk = [self._consume(row, consumer) for row in chunk]
            count += store.append_rows(chunk)
            if on_batch is not None:
                on_batch(count)
        return count

    def _load_columns(self, source: FileSource, store: Store, on_batch: Callable[[int], None] | None) -> int:
        """One file and no consumer: its chunks go column-wise into the store (the fastest path)."""
        assert source.parser is not None
        src = store.source_id(source.origin, source.kind, source.parser)
        column_chunk = source.parser.column_chunk
        count = 0
        for offsets, lines in source.chunks():
            ts, priority, effective, units, hosts = column_chunk(offsets, lines)
            count += store.append_chunk(src, ts, priority, effective, units, hosts, offsets, lines)
            if on_batch is not None:
                on_batch(count)
        self._offsets[source.origin] = source.end_offset
        return count

    def _load_access_columns(self, source: FileSource, store: Store, on_batch: Callable[[int], None] | None,
                             feed_columns: Callable, consumer: Callable[[Record], None]) -> int:
        """One access log and a findings engine: each chunk parsed column-wise once, for both."""
        parser = source.parser
        assert isinstance(parser, AccessLogParser)
        src = store.source_id(source.origin, source.kind, parser)
        count = 0
        for offsets, lines in source.chunks():
            columns = parser.batch_columns(offsets, lines)
            if columns is None:  # no $time_local, or a chunk of mostly stray lines: record by record
                parse = parser.parse
                records = [parse(line, pos) for pos, line in zip(offsets, lines, strict=True)]
                for record in records:
                    consumer(record)
                count += store.append_chunk(src, [r.ts for r in records], [r.priority for r in records],
                                            [r.effective for r in records], [r.unit for r in records],
                                            [r.host for r in records], offsets, lines)
            else:
                feed_columns(parser.origin, offsets, columns)
                count += store.append_chunk(src, columns.ts, columns.priority, columns.effective, parser.unit,
                                            parser.host, offsets, lines)
            if on_batch is not None:
                on_batch(count)
        self._offsets[source.origin] = source.end_offset
        return count

    @staticmethod
    def _consume(row: tuple, consumer: Callable[[Record], None]) -> tuple:
        record = row[6]
        consumer(record)
        if row[5] >= 0:  # a file line: store the line, not the Record
            return (*row[:6], record.raw, row[7])
        return row

    # -- live ----------------------------------------------------------------------------------------

    def _follow_one(self, source: Source) -> None:
        try:
            if isinstance(source, FileSource):
                stream = source.follow_batches(self._stop, self._offsets.get(source.origin))
            else:
                cursor = self._journal_cursor.get(source.origin)
                if cursor:
                    source.cursor = cursor
                if hasattr(source, "follow_batches"):
                    stream = source.follow_batches(self._stop, from_tail=cursor is None)
                else:  # a source with only a per-record follow (the demo replay)
                    stream = ([record] for record in source.follow(self._stop, from_tail=cursor is None))
            may_run = self.may_run
            stream = iter(stream)
            while True:
                if may_run is not None and not may_run.is_set():
                    may_run.wait(self.yield_limit)
                batch = next(stream, None)
                if batch is None:
                    break
                while not self._stop.is_set():
                    try:
                        self._queue.put(batch, timeout=0.25)
                        break
                    except queue.Full:
                        continue
        except SourceError as exc:
            self.warnings.append(str(exc))
        except OSError as exc:
            self.warnings.append(f"{source.origin}: {exc}")

    def start_follow(self) -> None:
        """Start one follower thread per source (after :meth:`history` / :meth:`load`)."""
        if self._threads:
            return
        self._buffer = ReorderBuffer(self.window)
        for source in self.sources:
            thread = threading.Thread(target=self._follow_one, args=(source,), daemon=True,
                                      name=f"follow {source.origin}")
            thread.start()
            self._threads.append(thread)

    def poll_live(self, timeout: float = 0.1) -> list[Record]:
        """Live records ready now, in time order; waits up to ``timeout`` for the first."""
        assert self._buffer is not None, "start_follow() first"
        buffer = self._buffer
        deadline = time.monotonic() + timeout
        while True:
            try:
                remaining = max(0.0, deadline - time.monotonic())
                batch = self._queue.get(timeout=remaining) if remaining else self._queue.get_nowait()
                buffer.extend(batch)
                while True:
                    buffer.extend(self._queue.get_nowait())
            except queue.Empty:
                pass
            ready = buffer.pop_ready()
            if ready or time.monotonic() >= deadline:
                return ready

    def live(self) -> Iterator[Record]:
        """Live records in time order until :meth:`stop`."""
        self.start_follow()
        while not self._stop.is_set():
            yield from self.poll_live(0.2)
        assert self._buffer is not None
        yield from self._buffer.drain()

    def take_notices(self) -> list[str]:
        """What followed files told since the last call (deleted, recreated, cannot be reopened), oldest first."""
        out: list[str] = []
        for source in self.sources:
            notices = getattr(source, "notices", None)
            while notices:
                out.append(notices.popleft())
        return out

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for source in self.sources:
            if isinstance(source, FileSource):
                source.close()  # the file its history was read from, if it was never followed

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


def _access_columns_feed(consumer: Callable[[Record], None], source: FileSource) -> Callable | None:
    """``feed_access_columns`` of the object whose ``feed`` is ``consumer``, when it takes this
    source's lines column-wise (an nginx access log, and a findings engine that accepts them)."""
    owner = getattr(consumer, "__self__", None)
    feed_columns = getattr(owner, "feed_access_columns", None)
    if feed_columns is None or consumer != getattr(owner, "feed", None) or not isinstance(source.parser, AccessLogParser):
        return None
    return feed_columns if owner.accepts_access_columns() else None


def journal_sources(sources: Sequence[Source]) -> list[JournalSource]:
    return [s for s in sources if isinstance(s, JournalSource)]
