"""The findings engine in its own thread (engine/findings/feed.py): live and history feeding, snapshots with a
per-minute rate series, yielding to a front end that paints, errors shown rather than fatal."""

from __future__ import annotations

import threading
import time

import pytest
from alsate.engine.collect import SourceSet
from alsate.engine.findings import FindingsEngine
from alsate.engine.findings.feed import BUCKET_SECONDS, SPARK_BUCKETS, FindingsFeed, FindingsSnapshot
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


def test_history_is_read_by_sequence_number_and_gaps_are_skipped(demo_store: Store) -> None:
    published = Published()
    done = threading.Event()
    missing = set(range(demo_store.first_seq, demo_store.end_seq, 7))

    def read(seq: int):
        return None if seq in missing else demo_store.get(seq)

    feed = FindingsFeed(FindingsEngine(persist_templates=False), published, interval=0.05, read_history=read,
                        on_history_done=done.set)
    feed.start()
    try:
        feed.feed_history(demo_store.first_seq, demo_store.end_seq)
        assert feed.pending == len(demo_store)
        assert done.wait(30)
        snapshot = published.wait(lambda s: s.pending == 0)
    finally:
        feed.stop()
    assert snapshot.records == len(demo_store) - len(missing)
    assert feed.pending == 0 and feed.error is None
    assert any("Scanner probing" in t for t in titles(snapshot))


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
