"""The bounded record store the TUI pages through, and filtered views over it.

Records are held column-wise: compact arrays for time, priorities, source,
unit and host, plus one payload per record. A record read from a file keeps
only its raw line as payload and is re-parsed when it is looked at (a page is
50 lines; a million held records are not), so a million access-log records
fit in a few hundred MB. Journal records, which cannot be re-derived, keep the
Record itself.

Each record gets a sequence number that never changes; when the store is full
the oldest records are dropped in chunks. A :class:`View` is the list of
sequence numbers matching a :class:`Query`; it is built from per-priority
indexes (so a priority filter touches only matching records) and extended
incrementally as records arrive.
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from heapq import merge
from itertools import chain, islice

from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record

DEFAULT_CAPACITY = 1_000_000
ALL_PRIORITIES = frozenset(range(8))
_ORIGIN = Record._fields.index("origin")
_POS = Record._fields.index("pos")
_RAW = Record._fields.index("raw")
_EXTRA = Record._fields.index("extra")
_FIELDS = len(Record._fields)
_make_record = Record._make
_INTERNING = threading.Lock()


def _held(record: Record) -> tuple:
    """A record held whole, as one plain tuple of plain values: its fields, ``extra`` replaced by the number
    of its pairs, then the pairs (key, value, key, ...). The cyclic GC stops tracking such a tuple at its
    first collection; it never stops tracking a ``NamedTuple``, nor a tuple holding a dict or (reliably) a
    tuple (live journal records were walked by every young collection until they were evicted: pauses of
    20-300 ms under a keypress, bench/soak.py --time-loop)."""
    extra = record.extra
    if extra is None:
        return tuple(record)
    return (*record[:_EXTRA], len(extra), *record[_EXTRA + 1:], *chain.from_iterable(extra.items()))


def _whole(item: tuple) -> Record:
    pairs = item[_EXTRA]
    if pairs is None:
        return _make_record(item)
    tail = item[_FIELDS:]
    return _make_record((*item[:_EXTRA], dict(zip(tail[::2], tail[1::2], strict=True)), *item[_EXTRA + 1:_FIELDS]))


def _held_id(item: tuple) -> str:
    return f"{item[_ORIGIN]}#{item[_POS]}"


@dataclass(frozen=True)
class Query:
    """What a view shows. ``None`` means no constraint on that dimension."""

    priorities: frozenset[int] | None = None
    effective: bool = True
    kinds: frozenset[str] | None = None
    origins: frozenset[str] | None = None
    units: frozenset[str] | None = None
    hosts: frozenset[str] | None = None
    pattern: re.Pattern[str] | None = None
    since: float | None = None
    until: float | None = None
    #: Restrict to these record ids (a finding's evidence).
    ids: frozenset[str] | None = None

    @staticmethod
    def max_priority(level: int, **kwargs) -> Query:
        return Query(priorities=frozenset(range(level + 1)), **kwargs)


class _Interned:
    """Strings <-> small ints, for the unit/host/source columns."""

    __slots__ = ("ids", "names")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def id(self, name: str) -> int:
        found = self.ids.get(name)
        if found is None:
            with _INTERNING:  # live batches are prepared in the reading thread (Store.prepare)
                found = self.ids.get(name)
                if found is None:
                    found = len(self.names)
                    self.names.append(name)  # the name before its id: a reader never sees an id without a name
                    self.ids[name] = found
        return found


def _offsets_by_level(levels: bytes | bytearray) -> dict[int, array]:
    found: dict[int, array] = {}
    for k, level in enumerate(levels):
        at = found.get(level)
        if at is None:
            at = found[level] = array("q")
        at.append(k)
    return found


@dataclass(frozen=True)
class Prepared:
    """Live records as the store's columns (:meth:`Store.prepare`), ready for :meth:`Store.commit`."""

    ts: array
    priority: bytes
    effective: bytes
    src: array
    unit: array
    host: array
    pos: array
    payload: list
    #: (offset in the chunk, record id) of the records held whole.
    held: list[tuple[int, str]]
    #: level -> offsets in the chunk of the records at that level.
    by_priority: dict[int, array]
    by_effective: dict[int, array]


@dataclass(frozen=True)
class LineRun:
    """Consecutive held records of one source that are held as their lines (see :meth:`Store.history`)."""

    origin: str
    parser: ParserBase
    positions: list[int]
    lines: list[str]
    #: The stored times (a line without a time of its own has the time it was given when read).
    ts: list[float]


@dataclass
class _Source:
    origin: str
    kind: str
    parser: ParserBase | None = None


@dataclass
class Store:
    """Bounded, append-only (from the tail), evicting (from the head) record store."""

    capacity: int = DEFAULT_CAPACITY
    _base: int = 0  # sequence number of the oldest held record
    _ts: array = field(default_factory=lambda: array("d"))
    _prio: bytearray = field(default_factory=bytearray)
    _eff: bytearray = field(default_factory=bytearray)
    _src: array = field(default_factory=lambda: array("H"))
    _unit: array = field(default_factory=lambda: array("I"))
    _host: array = field(default_factory=lambda: array("I"))
    _pos: array = field(default_factory=lambda: array("q"))
    _payload: list = field(default_factory=list)
    _by_eff: list = field(default_factory=lambda: [array("q") for _ in range(8)])
    _by_prio: list = field(default_factory=lambda: [array("q") for _ in range(8)])
    _sources: list[_Source] = field(default_factory=list)
    _source_ids: dict[str, int] = field(default_factory=dict)
    _units: _Interned = field(default_factory=_Interned)
    _hosts: _Interned = field(default_factory=_Interned)
    #: id -> sequence number of the records held whole (journal records); line records are found by position.
    _record_seqs: dict[str, int] = field(default_factory=dict)
    dropped: int = 0  # records evicted to stay within capacity

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("store capacity must be at least 1")

    # -- writing -------------------------------------------------------------------------------

    def source_id(self, origin: str, kind: str, parser: ParserBase | None = None) -> int:
        """Register a source; records of a source with a parser are held as raw lines."""
        found = self._source_ids.get(origin)
        if found is not None:
            if parser is not None and self._sources[found].parser is None:
                self._sources[found].parser = parser
            return found
        found = self._source_ids[origin] = len(self._sources)
        self._sources.append(_Source(origin, kind, parser))
        return found

    def _placed(self, record: Record) -> tuple[int, bool]:
        """The record's source id, and whether it is held as its line: only when the source's
        registered parser would give this very record back."""
        src = self._source_ids.get(record.origin)
        if src is None:
            src = self.source_id(record.origin, record.kind)
        source = self._sources[src]
        return src, source.parser is not None and isinstance(record.pos, int) and source.kind == record.kind

    def append(self, record: Record) -> int:
        """Add one record; returns its sequence number."""
        src, rederivable = self._placed(record)
        return self.append_columns(src, record.ts, record.priority, record.effective, record.unit, record.host,
                                   record.pos if rederivable else -1, record.raw if rederivable else record)

    def prepare(self, records: Sequence[Record]) -> Prepared:
        """Turn live records into the store's columns, in the thread that read them.

        Only the source registry and the unit/host tables are touched (append-only, safe beside a
        reader); :meth:`commit`, on the thread that owns the store, then appends the columns in a
        few C-level extends. This keeps the per-record work of a live batch off the event loop.
        """
        ts, prio, eff = array("d"), bytearray(), bytearray()
        src_col, unit_col, host_col, pos_col = array("H"), array("I"), array("I"), array("q")
        payload: list = []
        held: list[tuple[int, str]] = []
        unit_id, host_id = self._units.id, self._hosts.id
        for k, record in enumerate(records):
            src, rederivable = self._placed(record)
            ts.append(record.ts)
            prio.append(record.priority)
            eff.append(record.effective)
            src_col.append(src)
            unit_col.append(unit_id(record.unit))
            host_col.append(host_id(record.host))
            if rederivable:
                pos_col.append(record.pos)
                payload.append(record.raw)
            else:
                pos_col.append(-1)
                held.append((k, record.id))
                payload.append(_held(record))
        return Prepared(ts, bytes(prio), bytes(eff), src_col, unit_col, host_col, pos_col, payload, held,
                        _offsets_by_level(prio), _offsets_by_level(eff))

    def commit(self, chunk: Prepared) -> int:
        """Append records made ready by :meth:`prepare`; returns the sequence number of the first."""
        seq = self._base + len(self._payload)
        self._ts.extend(chunk.ts)
        self._prio.extend(chunk.priority)
        self._eff.extend(chunk.effective)
        self._src.extend(chunk.src)
        self._unit.extend(chunk.unit)
        self._host.extend(chunk.host)
        self._pos.extend(chunk.pos)
        for k, rid in chunk.held:
            self._record_seqs[rid] = seq + k
        self._payload.extend(chunk.payload)
        for offsets, indexes in ((chunk.by_effective, self._by_eff), (chunk.by_priority, self._by_prio)):
            for level, at in offsets.items():
                indexes[level].extend(map(seq.__add__, at))
        if len(self._payload) > self.capacity:
            self._evict(max(len(self._payload) - self.capacity, self.capacity // 200))
        return seq

    def append_columns(self, src: int, ts: float, priority: int, effective: int, unit: str, host: str,
                       pos: int, payload: str | Record) -> int:
        """The fast path for sources that parse columns without building a Record."""
        seq = self._base + len(self._payload)
        self._ts.append(ts)
        self._prio.append(priority)
        self._eff.append(effective)
        self._src.append(src)
        self._unit.append(self._units.id(unit))
        self._host.append(self._hosts.id(host))
        self._pos.append(pos)
        if isinstance(payload, tuple):
            self._record_seqs[payload.id] = seq
            payload = _held(payload)
        self._payload.append(payload)
        self._by_eff[effective].append(seq)
        self._by_prio[priority].append(seq)
        if len(self._payload) > self.capacity:
            self._evict(max(len(self._payload) - self.capacity, self.capacity // 200))
        return seq

    def append_rows(self, rows: Iterable[tuple], chunk: int = 65_536) -> int:
        """Bulk :meth:`append_columns` for rows ``(ts, priority, effective, unit, host, pos, payload, src)``."""
        total = 0
        rows = iter(rows)
        while True:
            block = list(islice(rows, chunk))
            if not block:
                return total
            ts, prio, eff, unit, host, pos, payload, src = zip(*block, strict=True)
            total += self.append_chunk(src, ts, prio, eff, unit, host, pos, payload)

    def append_chunk(self, src: int | Sequence[int], ts: Sequence[float], priority: Sequence[int],
                     effective: Sequence[int], unit: str | Sequence[str], host: str | Sequence[str],
                     pos: Sequence[int], payload: Sequence[str | Record]) -> int:
        """Append records given column-wise (the fast path for loading a large file).

        ``src``, ``unit`` and ``host`` are either one value for the whole chunk or one per record.
        """
        import numpy as np  # here, not at the top: alsate-tui paints its first screen before numpy is loaded

        count = len(payload)
        if not count:
            return 0
        seq = self._base + len(self._payload)
        self._ts.extend(ts)
        self._prio.extend(priority)
        self._eff.extend(effective)
        if isinstance(src, int):
            self._src.extend(array("H", [src]) * count)
        else:
            self._src.extend(src)
        self._unit.extend(self._ids_for(self._units, unit, count))
        self._host.extend(self._ids_for(self._hosts, host, count))
        self._pos.extend(pos)
        if min(pos) < 0:  # records held whole (position -1) are indexed by id
            record_seqs = self._record_seqs
            payload = list(payload)
            for k, item in enumerate(payload):
                if isinstance(item, tuple):
                    record_seqs[item.id] = seq + k
                    payload[k] = _held(item)
        self._payload.extend(payload)
        seqs = np.arange(seq, seq + count, dtype=np.int64)
        for column, indexes in ((effective, self._by_eff), (priority, self._by_prio)):
            levels = np.frombuffer(bytes(column), dtype=np.uint8)
            for level in np.unique(levels):
                indexes[level].frombytes(seqs[levels == level].tobytes())
        if len(self._payload) > self.capacity:
            self._evict(max(len(self._payload) - self.capacity, self.capacity // 200))
        return count

    @staticmethod
    def _ids_for(table: _Interned, names: str | Sequence[str], count: int) -> array:
        if isinstance(names, str):
            return array("I", [table.id(names)]) * count
        ids = table.ids
        try:
            return array("I", [ids[name] for name in names])
        except KeyError:
            return array("I", [table.id(name) for name in names])

    def extend(self, records: Iterable[Record]) -> None:
        for record in records:
            self.append(record)

    def _evict(self, count: int) -> None:
        count = min(count, len(self._payload))
        new_base = self._base + count
        record_seqs = self._record_seqs
        if record_seqs:
            for k, item in enumerate(islice(self._payload, count)):
                if isinstance(item, tuple):
                    rid = _held_id(item)
                    if record_seqs.get(rid) == self._base + k:
                        del record_seqs[rid]
        for column in (self._ts, self._prio, self._eff, self._src, self._unit, self._host, self._pos,
                       self._payload):
            del column[:count]
        for index in (*self._by_eff, *self._by_prio):
            del index[:bisect_left(index, new_base)]
        self._base = new_base
        self.dropped += count

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._payload)

    @property
    def first_seq(self) -> int:
        return self._base

    @property
    def end_seq(self) -> int:
        """One past the newest sequence number."""
        return self._base + len(self._payload)

    def __contains__(self, seq: int) -> bool:
        return self._base <= seq < self.end_seq

    def get(self, seq: int) -> Record:
        """The record with sequence number ``seq`` (IndexError once evicted)."""
        i = seq - self._base
        if i < 0 or seq >= self.end_seq:
            raise IndexError(f"record {seq} is not held")
        payload = self._payload[i]
        if isinstance(payload, tuple):
            return _whole(payload)
        parser = self._sources[self._src[i]].parser
        assert parser is not None
        record = parser.parse(payload, self._pos[i])
        ts = self._ts[i]
        return record if record.ts == ts else record._replace(ts=ts)

    def __iter__(self) -> Iterator[Record]:
        for seq in range(self._base, self.end_seq):
            yield self.get(seq)

    def _id_at(self, i: int) -> str:
        payload = self._payload[i]
        if isinstance(payload, tuple):
            return _held_id(payload)
        return f"{self._sources[self._src[i]].origin}#{self._pos[i]}"

    def id_of(self, seq: int) -> str:
        """The stable record id (``origin#pos``) of ``seq``, without re-parsing it."""
        if seq not in self:
            raise IndexError(f"record {seq} is not held")
        return self._id_at(seq - self._base)

    def lookup(self, ids: Iterable[str]) -> dict[str, Record]:
        """The held records with these ids (``origin#pos``), found by :meth:`seqs_of`."""
        wanted = set(ids)
        found: dict[str, Record] = {}
        for seq in self.seqs_of(wanted):
            try:
                record = self.get(seq)
            except IndexError:  # evicted meanwhile
                continue
            if record.id in wanted:
                found[record.id] = record
        return found

    def seqs_of(self, ids: Iterable[str], after: int = -1) -> list[int]:
        """Sequence numbers (ascending, > ``after``) of held records that may have these ids: records
        held whole through an id index, line records by a vectorised search of the position column
        (20 ids among a million held records: ~13 ms). Callers check the id of what they read."""
        seqs: list[int] = []
        by_source: dict[int, list[int]] = {}
        for rid in ids:
            seq = self._record_seqs.get(rid)
            if seq is not None:
                if seq > after and seq in self:
                    seqs.append(seq)
                continue
            origin, _, pos = rid.rpartition("#")
            src = self._source_ids.get(origin)
            if src is not None and self._sources[src].parser is not None and pos.lstrip("-").isdigit():
                by_source.setdefault(src, []).append(int(pos))
        if by_source:
            import numpy as np

            # Copies of the columns' tails: the loader thread may be appending meanwhile.
            base = self._base
            start = max(0, after + 1 - base)
            positions = np.frombuffer(self._pos[start:].tobytes(), dtype=np.int64)
            sources = np.frombuffer(self._src[start:].tobytes(), dtype=np.uint16)
            held = min(len(positions), len(sources))
            positions, sources = positions[:held], sources[:held]
            for src, wanted_pos in by_source.items():
                hits = np.flatnonzero(np.isin(positions, wanted_pos) & (sources == src))
                seqs.extend((hits + (base + start)).tolist())
        seqs.sort()
        return seqs

    def history(self, first: int, end: int, size: int = 5000) -> Iterator[LineRun | list[Record]]:
        """The held records ``first <= seq < end`` in order, in pieces of at most ``size`` records:
        a run of one parsed source's lines as a :class:`LineRun` (for readers that take lines in bulk,
        e.g. column-wise), other records as a list. Records evicted meanwhile are skipped.

        Safe against one thread appending (and evicting) while another reads.
        """
        seq = max(first, self._base)
        while seq < min(end, self.end_seq):
            base = self._base
            i = max(seq, base) - base
            stop = min(end, self.end_seq) - base
            stop = min(stop, i + size)
            payload = self._payload[i:stop]
            src = self._src[i:stop]
            pos = self._pos[i:stop]
            ts = self._ts[i:stop]
            if self._base != base or not (len(payload) == len(src) == len(pos) == len(ts)):
                seq = max(seq, self._base)  # evicted while slicing: take the slice again
                continue
            seq = base + i + len(payload)
            yield from self._runs(payload, src, pos, ts)

    def _runs(self, payload: list, src: array, pos: array, ts: array) -> Iterator[LineRun | list[Record]]:
        start = 0
        count = len(payload)
        while start < count:
            if isinstance(payload[start], tuple):
                stop = start + 1
                while stop < count and isinstance(payload[stop], tuple):
                    stop += 1
                yield [_whole(item) for item in payload[start:stop]]
            else:
                source_id = src[start]
                stop = start + 1
                while stop < count and src[stop] == source_id and not isinstance(payload[stop], tuple):
                    stop += 1
                source = self._sources[source_id]
                assert source.parser is not None
                yield LineRun(source.origin, source.parser, pos[start:stop].tolist(), payload[start:stop],
                              ts[start:stop].tolist())
            start = stop

    def counts(self, effective: bool = True) -> list[int]:
        """Records held per priority 0-7."""
        return [len(index) for index in (self._by_eff if effective else self._by_prio)]

    def origins(self) -> list[str]:
        return [source.origin for source in self._sources]

    def units(self) -> list[str]:
        return list(self._units.names)

    def hosts(self) -> list[str]:
        return list(self._hosts.names)

    def view(self, query: Query | None = None) -> View:
        return View(self, query or Query())

    # -- matching (used by View) ---------------------------------------------------------------

    def _candidates(self, query: Query, after: int) -> Iterator[int]:
        """Sequence numbers > ``after`` that pass the priority constraint, ascending."""
        start = max(after + 1, self._base)
        if query.priorities is None or query.priorities >= ALL_PRIORITIES:
            return iter(range(start, self.end_seq))
        indexes = self._by_eff if query.effective else self._by_prio
        parts = []
        for level in sorted(query.priorities):
            if 0 <= level < 8:
                index = indexes[level]
                cut = bisect_left(index, start)
                if cut < len(index):
                    parts.append(islice(index, cut, None))
        if len(parts) == 1:
            return parts[0]
        return merge(*parts)

    def _priority_matches(self, query: Query, after: int) -> array:
        """Sequence numbers > ``after`` passing the priority constraint, ascending: copies of the per-priority
        index slices merged by numpy's sort of sorted runs (a million held records: a few ms, where a merge
        in Python takes a second)."""
        import numpy as np

        start = max(after + 1, self._base)
        if query.priorities is None or query.priorities >= ALL_PRIORITIES:
            return array("q", np.arange(start, max(start, self.end_seq), dtype=np.int64).tobytes())
        indexes = self._by_eff if query.effective else self._by_prio
        # Slices are copies (the loader thread may be appending to the indexes).
        parts = [indexes[level][bisect_left(indexes[level], start):] for level in sorted(query.priorities)
                 if 0 <= level < 8]
        parts = [part for part in parts if part]
        if not parts:
            return array("q")
        if len(parts) == 1:
            return parts[0]
        merged = np.concatenate([np.frombuffer(part, dtype=np.int64) for part in parts])
        merged.sort(kind="stable")  # timsort: linear in the runs it is given
        return array("q", merged.tobytes())

    def _predicate(self, query: Query):
        """A function seq -> bool for the constraints other than priority (None if there are none)."""
        tests = []
        base_ref = self
        if query.origins is not None:
            wanted = {i for i, s in enumerate(self._sources) if s.origin in query.origins}
            tests.append(lambda i: base_ref._src[i] in wanted)
        if query.kinds is not None:
            wanted_k = {i for i, s in enumerate(self._sources) if s.kind in query.kinds}
            tests.append(lambda i: base_ref._src[i] in wanted_k)
        if query.units is not None:
            wanted_u = {self._units.ids[u] for u in query.units if u in self._units.ids}
            tests.append(lambda i: base_ref._unit[i] in wanted_u)
        if query.hosts is not None:
            wanted_h = {self._hosts.ids[h] for h in query.hosts if h in self._hosts.ids}
            tests.append(lambda i: base_ref._host[i] in wanted_h)
        if query.since is not None:
            since = query.since
            tests.append(lambda i: base_ref._ts[i] >= since)
        if query.until is not None:
            until = query.until
            tests.append(lambda i: base_ref._ts[i] <= until)
        if query.pattern is not None:
            search = query.pattern.search

            def text_matches(i: int) -> bool:
                payload = base_ref._payload[i]
                return search(payload[_RAW] if isinstance(payload, tuple) else payload) is not None

            tests.append(text_matches)
        if query.ids is not None:
            ids = query.ids
            tests.append(lambda i: base_ref._id_at(i) in ids)
        if not tests:
            return None
        if len(tests) == 1:
            only = tests[0]
            return lambda seq: only(seq - base_ref._base)
        return lambda seq: all(test(seq - base_ref._base) for test in tests)


class View:
    """The sequence numbers of the records matching a query, kept up to date incrementally."""

    def __init__(self, store: Store, query: Query) -> None:
        self.store = store
        self.query = query
        self.matches = array("q")
        self._scanned = -1  # highest sequence number examined
        self._predicate = None
        self._predicate_sources = -1

    def refresh(self, budget: int | None = None) -> int:
        """Examine records that arrived since the last call (at most ``budget``); returns how many matched.

        Drops matches the store has evicted. With a budget, call again until :attr:`complete`.
        """
        store = self.store
        if self.matches and self.matches[0] < store.first_seq:
            del self.matches[:bisect_left(self.matches, store.first_seq)]
        if self._predicate_sources != (len(store._sources), len(store._units.names), len(store._hosts.names)):
            # New sources/units/hosts may now satisfy the query's name sets.
            self._predicate = store._predicate(self.query)
            self._predicate_sources = (len(store._sources), len(store._units.names), len(store._hosts.names))
        candidates = store._candidates(self.query, self._scanned)
        if budget is not None:
            candidates = islice(candidates, budget)
        before = len(self.matches)
        predicate = self._predicate
        last = self._scanned
        if self.query.ids is not None:  # a finding's evidence: its records are looked up, not scanned for
            end = store.end_seq
            levels = self.query.priorities
            column = store._eff if self.query.effective else store._prio
            append = self.matches.append
            for seq in store.seqs_of(self.query.ids, self._scanned):
                if seq >= end:
                    break
                i = seq - store.first_seq
                if i >= 0 and (levels is None or column[i] in levels) and (predicate is None or predicate(seq)):
                    append(seq)
            self._scanned = end - 1
            return len(self.matches) - before
        if predicate is None:  # priorities only: all at once, whatever the budget (numpy, milliseconds)
            end = store.end_seq  # records a loading thread appends meanwhile are left for the next call
            chunk = store._priority_matches(self.query, self._scanned)
            if chunk and chunk[-1] >= end:
                del chunk[bisect_left(chunk, end):]
            if self.matches:
                self.matches.extend(chunk)
            else:
                self.matches = chunk  # a fresh array: no copy
            self._scanned = end - 1
            return len(self.matches) - before
        else:
            append = self.matches.append
            for seq in candidates:
                last = seq
                if predicate(seq):
                    append(seq)
        if budget is None or last == self._scanned:
            self._scanned = store.end_seq - 1
        else:
            self._scanned = last
        return len(self.matches) - before

    @property
    def complete(self) -> bool:
        return self._scanned >= self.store.end_seq - 1

    def __len__(self) -> int:
        return len(self.matches)

    def page(self, start: int, count: int) -> list[Record]:
        """Records ``start`` .. ``start + count`` of the view (oldest first)."""
        if start < 0:
            start = max(0, len(self.matches) + start)
        return [self.store.get(seq) for seq in self.matches[start:start + count]]

    def index_of(self, seq: int) -> int:
        """Position of ``seq`` in the view, or of the first match after it."""
        return bisect_left(self.matches, seq)

    def nearest(self, seq: int) -> int:
        """Position of the last match at or before ``seq`` (0 when none)."""
        return max(0, bisect_right(self.matches, seq) - 1)

    def __iter__(self) -> Iterator[Record]:
        for seq in self.matches:
            yield self.store.get(seq)
