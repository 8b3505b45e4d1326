"""The findings engine in its own thread (engine/findings/feed.py): live and history feeding, snapshots with a
per-minute rate series, yielding to a front end that paints, errors shown rather than fatal."""

from __future__ import annotations

import threading
import time

import pytest
from alsate.engine.collect import SourceSet
from alsate.engine.findings import FindingsEngine
from alsate.engine.findings.feed import (
    BUCKET_SECONDS,
    COLUMN_SLICE,
    SPARK_BUCKETS,
    FindingsFeed,
    FindingsSnapshot,
)
from alsate.engine.sources.demo import demo_sources
from alsate.engine.store import Store

ANCHOR = 1_800_000_000.0


@pytest.fixture(scope="module")
def demo_store() -> Store:
    """The bundled demo history (journal + nginx), read by the engine's SourceSet."""
    store = Store()
    SourceSet(demo_sources(anchor=ANCHOR)).load(store)
    return store


class Published:
    def __init__(self) -> None:
        self.snapshots: list[FindingsSnapshot] = []
        self.event = threading.Event()

    def __call__(self, snapshot: FindingsSnapshot) -> None:
        self.snapshots.append(snapshot)
        self.event.set()

    def wait(self, condition, timeout: float = 30.0) -> FindingsSnapshot:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.snapshots and condition(self.snapshots[-1]):
                return self.snapshots[-1]
            self.event.wait(0.05)
            self.event.clear()
        raise AssertionError(f"no such snapshot in {timeout}s; last: {self.snapshots[-1:]}")


def titles(snapshot: FindingsSnapshot) -> list[str]:
    return [row.finding.title for row in snapshot.rows]


def test_live_records_make_findings_with_a_rate_series(demo_store: Store) -> None:
    published = Published()
    feed = FindingsFeed(FindingsEngine(persist_templates=False), published, interval=0.05)
    feed.start()
    try:
        records = list(demo_store)
        for start in range(0, len(records), 500):
            feed.feed(records[start:start + 500])
        snapshot = published.wait(lambda s: s.records == len(records) and s.pending == 0)
    finally:
        feed.stop()
    assert any(t.startswith("SSH brute force from 203.0.113.45") for t in titles(snapshot))
    # each finding's evidence in the last minutes, counted in its minute (event time)
    stamps = {r.id: r.ts for r in records}
    now = max(stamps.values()) // BUCKET_SECONDS
    for row in snapshot.rows:
        assert len(row.rate) == SPARK_BUCKETS
        expected = [0] * SPARK_BUCKETS
        for rid in row.finding.evidence:
            age = int(now - stamps[rid] // BUCKET_SECONDS)
            if age < SPARK_BUCKETS:
                expected[SPARK_BUCKETS - 1 - age] += 1
        assert list(row.rate) == expected, row.finding.title
    assert sum(sum(row.rate) for row in snapshot.rows) > 0


def _history_snapshot(store: Store) -> tuple[FindingsFeed, FindingsSnapshot]:
    published = Published()
    done = threading.Event()
    feed = FindingsFeed(FindingsEngine(persist_templates=False), published, interval=0.05, store=store,
                        on_history_done=done.set)
    feed.start()
    try:
        feed.feed_history(0, store.end_seq)
        assert done.wait(60)
        snapshot = published.wait(lambda s: s.pending == 0)
    finally:
        feed.stop()
    return feed, snapshot


def test_history_gives_the_findings_of_feeding_every_record(demo_store: Store) -> None:
    """The store's history read in the thread (the access log column-wise, the rest as records) finds
    what feeding each record does, with the same evidence and counts."""
    feed, snapshot = _history_snapshot(demo_store)
    assert snapshot.records == len(demo_store) and feed.pending == 0 and feed.error is None
    twin = FindingsEngine(persist_templates=False)
    for record in demo_store:
        twin.feed(record)
    expected = [(f.id, f.title, f.count, list(f.evidence)) for f in twin.findings()]
    got = [(f.id, f.title, f.count, list(f.evidence)) for f in (row.finding for row in snapshot.rows)]
    assert got == expected
    assert any("Scanner probing" in t for t in titles(snapshot))
    assert any(t.startswith("SSH brute force from 203.0.113.45") for t in titles(snapshot))


def test_history_skips_what_the_store_dropped() -> None:
    store = Store(capacity=3000)
    SourceSet(demo_sources(anchor=ANCHOR)).load(store)
    assert store.dropped > 0
    feed, snapshot = _history_snapshot(store)
    assert snapshot.records == len(store) and feed.pending == 0


def test_history_of_an_access_log_with_stray_lines_and_lines_without_a_time(tmp_path, monkeypatch) -> None:
    """An access log held as lines goes column-wise; a chunk of mostly stray lines and a line read
    with no time of its own go as records with the time the store holds."""
    from alsate.engine.formats import AccessLogParser

    parser = AccessLogParser(str(tmp_path / "access.log"))
    store = Store()
    src = store.source_id(parser.origin, parser.kind, parser)
    good = '203.0.113.9 - - [02/Mar/2024:14:{m:02d}:{s:02d} +0000] "GET /wp-login.php?{n} HTTP/1.1" 404 5 "-" "x"'
    lines = [good.format(m=n // 60, s=n % 60, n=n) for n in range(3000)]
    lines[1500:1800] = [f"stray line {n}" for n in range(300)]  # a stray run longer than a column chunk takes
    offset, positions = 0, []
    for line in lines:
        positions.append(offset)
        offset += len(line) + 1
    rows = [parser.columns(line, pos) for line, pos in zip(lines, positions, strict=True)]
    store.append_chunk(src, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], parser.unit,
                       parser.host, positions, lines)
    columnwise: list[int] = []
    original = FindingsEngine.feed_access_columns

    def counted(self, origin, positions, columns):
        columnwise.append(len(positions))
        return original(self, origin, positions, columns)

    monkeypatch.setattr(FindingsEngine, "feed_access_columns", counted)
    feed, snapshot = _history_snapshot(store)
    # Slices with few stray lines go column-wise, the slice holding the 300 stray ones line by line.
    slices = [lines[k:k + COLUMN_SLICE] for k in range(0, len(lines), COLUMN_SLICE)]
    expected = [len(part) for part in slices if sum(line.startswith("stray") for line in part) <= 256]
    assert columnwise == expected and 0 < sum(expected) < len(lines)
    monkeypatch.setattr(FindingsEngine, "feed_access_columns", original)
    twin = FindingsEngine(persist_templates=False)
    for record in store:
        twin.feed(record)
    assert snapshot.records == len(store) == 3000
    assert [(f.id, f.count, list(f.evidence)) for f in twin.findings()] == [
        (row.finding.id, row.finding.count, list(row.finding.evidence)) for row in snapshot.rows]
    assert snapshot.rows


def test_the_feed_waits_while_the_front_end_paints(demo_store: Store) -> None:
    """``may_run`` cleared: nothing is fed (records wait, none is lost); set: all of them are."""
    published = Published()
    may_run = threading.Event()
    engine = FindingsEngine(persist_templates=False)
    feed = FindingsFeed(engine, published, interval=0.05, may_run=may_run, yield_limit=60)
    feed.start()
    try:
        records = list(demo_store)[:2000]
        feed.feed(records)
        time.sleep(0.5)
        assert engine.records == 0 and feed.pending == len(records)
        may_run.set()
        published.wait(lambda s: s.records == len(records) and s.pending == 0)
    finally:
        feed.stop()


def test_the_wait_for_the_front_end_is_bounded(demo_store: Store) -> None:
    """A front end that never sets ``may_run`` slows the feed, it does not stop it."""
    published = Published()
    feed = FindingsFeed(FindingsEngine(persist_templates=False), published, interval=0.05,
                        may_run=threading.Event(), yield_limit=0.01)
    feed.start()
    try:
        feed.feed(list(demo_store)[:1000])
        published.wait(lambda s: s.records == 1000, timeout=30)
    finally:
        feed.stop()


class BrokenDetector:
    name = "broken"
    kinds = None
    policy = False

    def feed(self, record, template_key, sink) -> None:
        if "Accepted password for root" in record.message:
            raise KeyError("no such field")


def test_a_detector_error_is_reported_and_the_thread_goes_on(demo_store: Store) -> None:
    published = Published()
    feed = FindingsFeed(FindingsEngine(persist_templates=False, detectors=[BrokenDetector()]), published,
                        interval=0.05)
    feed.start()
    try:
        records = list(demo_store)
        feed.feed(records)
        published.wait(lambda s: feed.error is not None)
        feed.feed(records[:10])
        assert feed.error == "findings engine: KeyError: 'no such field'"
        published.wait(lambda s: s.records >= 10)
        assert feed._thread.is_alive()
    finally:
        feed.stop()
    assert not feed._thread.is_alive()


def test_the_rate_series_of_findings_the_engine_let_go_are_let_go_too() -> None:
    """A live view keeps a bounded number of inactive findings; the feed's per-finding series follow."""
    engine = FindingsEngine(persist_templates=False, max_inactive=5, active_window=60)
    snapshots = []
    feed = FindingsFeed(engine, snapshots.append)
    for n in range(200):  # a new scanner address every 10 s, each quiet after its one event
        engine.report(f"test.scan:{n}", detector="test", title=f"scan {n}", category="security", severity=4,
                      ts=1000.0 + n * 10, evidence=[f"a.log#{n}"])
        engine.now = 1000.0 + n * 10
        feed._snapshot()
    shown = {row.finding.id for row in snapshots[-1].rows}
    assert len(shown) <= 12 and "test.scan:199" in shown
    assert set(feed._series) == shown and set(feed._evidence_seen) == shown


def test_a_feed_that_falls_behind_skips_new_batches_and_counts_them(demo_store: Store) -> None:
    """The queue of live records is bounded: an engine that cannot keep up does not hold the flood."""
    snapshots = []
    feed = FindingsFeed(FindingsEngine(persist_templates=False), snapshots.append, max_pending=1000)
    records = list(demo_store)[:1500]
    for start in range(0, 1500, 300):
        feed.feed(records[start:start + 300])
    assert feed.pending == 900 and feed.skipped == 600
    feed.start()
    try:
        deadline = time.monotonic() + 20
        while (feed.pending or not snapshots) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert feed.pending == 0 and snapshots[-1].records == 900
        feed.feed(records[:300])  # room again
        assert feed.skipped == 600
    finally:
        feed.stop()
