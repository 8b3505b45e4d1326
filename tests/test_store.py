from __future__ import annotations

import re

import pytest
from alsate.engine.formats import AccessLogParser
from alsate.engine.records import Record
from alsate.engine.store import Query, Store


def rec(n: int, priority: int, unit: str = "app", host: str = "h1", effective: int | None = None,
        message: str | None = None) -> Record:
    text = message or f"message {n}"
    return Record(1000.0 + n, host, "journal", unit, None, priority,
                  priority if effective is None else effective, text, text, None, "journal", f"c{n}")


#: An nginx access line; ``{n}`` makes each one's path its own.
ACCESS_LINE = '192.0.2.1 - - [02/Mar/2024:14:01:33 +0000] "GET /{n} HTTP/1.1" {status} 5 "-" "curl/8"'


def access_log(store: Store, origin: str) -> AccessLogParser:
    """A parser for ``origin``, registered with ``store`` (its records are held as lines)."""
    parser = AccessLogParser(origin)
    store.source_id(parser.origin, parser.kind, parser)
    return parser


def test_priority_view_uses_only_matching_records_and_pages():
    store = Store(capacity=1000)
    for n in range(100):
        store.append(rec(n, n % 8))
    view = store.view(Query.max_priority(2))
    view.refresh()
    assert len(view) == 39  # n % 8 in {0,1,2}: 13 + 13 + 13
    page = view.page(0, 5)
    assert [r.pos for r in page] == ["c0", "c1", "c2", "c8", "c9"]
    assert all(r.effective <= 2 for r in view)
    assert view.page(-2, 2)[-1].pos == "c98"


def test_effective_and_syslog_priority_filters_differ():
    store = Store()
    store.append(rec(1, 6, effective=3, message="level=error boom"))
    store.append(rec(2, 6))
    effective = store.view(Query.max_priority(4))
    syslog = store.view(Query.max_priority(4, effective=False))
    effective.refresh()
    syslog.refresh()
    assert [r.pos for r in effective] == ["c1"]
    assert len(syslog) == 0
    assert store.counts() == [0, 0, 0, 1, 0, 0, 1, 0]
    assert store.counts(effective=False) == [0, 0, 0, 0, 0, 0, 2, 0]


def test_filters_combine_unit_host_text_and_time():
    store = Store()
    for n in range(40):
        store.append(rec(n, 3, unit=f"u{n % 2}", host=f"h{n % 4}", message=f"event {n} {'disk' if n % 5 == 0 else ''}"))
    query = Query(units=frozenset({"u0"}), hosts=frozenset({"h0", "h2"}), pattern=re.compile("disk"),
                  since=1010.0, until=1030.0)
    view = store.view(query)
    view.refresh()
    assert [r.pos for r in view] == ["c10", "c20", "c30"]


def test_view_extends_incrementally_and_survives_eviction():
    store = Store(capacity=100)
    view = store.view(Query.max_priority(3))
    for n in range(80):
        store.append(rec(n, 3 if n % 2 else 6))
    view.refresh()
    assert len(view) == 40
    for n in range(80, 300):
        store.append(rec(n, 3 if n % 2 else 6))
    view.refresh()
    assert store.dropped >= 200
    assert len(store) <= 100
    held = [r.pos for r in view]
    assert held == [f"c{n}" for n in range(store.first_seq, 300) if n % 2]
    with pytest.raises(IndexError):
        store.get(0)


def test_refresh_with_a_budget_finishes_in_steps():
    store = Store()
    for n in range(1000):
        store.append(rec(n, 3, message="needle" if n % 100 == 0 else "hay"))
    view = store.view(Query(pattern=re.compile("needle")))
    steps = 0
    while not view.complete:
        view.refresh(budget=250)
        steps += 1
    assert steps >= 4
    assert len(view) == 10


def test_file_records_are_held_as_lines_and_reparsed_identically():
    store = Store()
    parser = access_log(store, "/var/log/nginx/access.log")
    line = ACCESS_LINE.format(n="x", status=503)
    original = parser.parse(line, 4096)
    seq = store.append(original)
    assert store._payload[0] == line  # only the line is kept
    again = store.get(seq)
    assert again == original
    assert store.id_of(seq) == original.id == "/var/log/nginx/access.log#4096"


def test_view_restricted_to_evidence_ids():
    store = Store()
    for n in range(10):
        store.append(rec(n, 3))
    view = store.view(Query(ids=frozenset({"journal#c3", "journal#c7"})))
    view.refresh()
    assert [r.pos for r in view] == ["c3", "c7"]


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        Store(capacity=0)


def test_lookup_finds_line_and_whole_records_by_id():
    store = Store()
    parser = access_log(store, "/var/log/nginx/access.log")
    for n in range(50):
        store.append(parser.parse(ACCESS_LINE.format(n=n, status=503), n * 100))
    store.append(rec(7, 3))
    found = store.lookup(["/var/log/nginx/access.log#300", "journal#c7", "nope#1", "/var/log/nginx/access.log#301"])
    assert sorted(found) == ["/var/log/nginx/access.log#300", "journal#c7"]
    assert found["/var/log/nginx/access.log#300"].extra["path"] == "/3"


def test_lookup_after_eviction_and_across_sources_with_equal_positions():
    store = Store(capacity=400)
    first, second = access_log(store, "/logs/a.log"), access_log(store, "/logs/b.log")
    for n in range(300):
        for parser in (first, second):
            store.append(parser.parse(ACCESS_LINE.format(n=f"{parser.origin}/{n}", status=503), n))
        store.append(rec(n, 3))
    # 900 appended, 400 held: the oldest went in chunks.
    assert store.first_seq > 0 and len(store) <= 400
    held = {store.get(seq).id for seq in range(store.first_seq, store.end_seq)}
    asked = ["/logs/a.log#5", "/logs/b.log#5", "journal#c5", "/logs/a.log#299", "/logs/b.log#299",
             "journal#c299", "journal#c298"]
    found = store.lookup(asked)
    assert set(found) == {rid for rid in asked if rid in held}
    assert found["/logs/b.log#299"].extra["path"] == "//logs/b.log/299"
    assert found["journal#c299"].pos == "c299"
    # The id index forgets what was evicted.
    assert all(seq >= store.first_seq for seq in store._record_seqs.values())
    assert len(store._record_seqs) == sum(1 for rid in held if rid.startswith("journal#"))


def test_lookup_of_journal_records_appended_in_a_chunk():
    store = Store()
    rows = [(1000.0 + n, 3, 3, "app", "h1", -1, rec(n, 3), store.source_id("journal", "journal")) for n in range(10)]
    store.append_rows(rows)
    assert sorted(store.lookup(["journal#c2", "journal#c9", "journal#c10"])) == ["journal#c2", "journal#c9"]


def test_evidence_view_of_line_and_journal_records_grows_and_keeps_other_constraints():
    store = Store()
    parser = access_log(store, "/logs/a.log")
    for n in range(200):
        store.append(parser.parse(ACCESS_LINE.format(n=n, status=503 if n % 2 else 200), n * 10))
        store.append(rec(n, n % 8))
    ids = frozenset({"/logs/a.log#30", "/logs/a.log#40", "/logs/a.log#1990", "/logs/a.log#31", "journal#c4",
                     "journal#c3", "nope#1"})
    every = store.view(Query(ids=ids))
    errors = store.view(Query(ids=ids, priorities=frozenset(range(4))))
    for view in (every, errors):
        view.refresh()
    expected = [seq for seq in range(store.end_seq) if store.id_of(seq) in ids]
    assert list(every.matches) == expected and len(expected) == 5
    assert [store.get(s).id for s in errors.matches] == ["/logs/a.log#30", "journal#c3", "/logs/a.log#1990"]
    # Records arriving later join the view on the next refresh; older ones are not added twice.
    wider = ids | {"/logs/a.log#5000", "journal#c900"}
    grows = store.view(Query(ids=wider))
    grows.refresh()
    assert list(grows.matches) == expected
    store.append(parser.parse(ACCESS_LINE.format(n="late", status=502), 5000))
    store.append(rec(900, 3))
    grows.refresh()
    fresh = store.view(Query(ids=wider))
    fresh.refresh()
    assert list(grows.matches) == list(fresh.matches) == expected + [store.end_seq - 2, store.end_seq - 1]


def test_records_held_whole_come_back_equal_and_leave_the_gc_alone():
    """Journal records are held as plain tuples of plain values: the cyclic GC untracks them at their
    first collection (a held NamedTuple, or a tuple holding a dict, is walked by every collection until
    it is evicted), and reading gives back the very record, ``extra`` included."""
    import gc

    from alsate.engine.formats.journal_fields import record_from_fields

    fields = {"MESSAGE": "disk full", "PRIORITY": "3", "_HOSTNAME": "db-01", "SYSLOG_IDENTIFIER": "app",
              "_SYSTEMD_UNIT": "app.service", "_PID": "42"}
    records = [record_from_fields({**fields, "__CURSOR": f"s=1;i={n}"}, origin="journal") for n in range(4)]
    records.append(records[0]._replace(extra=None, pos="s=1;i=99"))
    records.append(records[1]._replace(extra={}, pos="s=1;i=100"))
    store = Store(capacity=100)
    for record in records[:3]:
        store.append(record)
    store.append_chunk(0, [r.ts for r in records[3:]], [r.priority for r in records[3:]],
                       [r.effective for r in records[3:]], [r.unit for r in records[3:]],
                       [r.host for r in records[3:]], [-1] * 3, records[3:])
    gc.collect(0)
    assert not any(gc.is_tracked(item) for item in store._payload)
    held = list(store)
    assert held == records and all(type(r) is Record for r in held)
    assert held[0].extra == {"_SYSTEMD_UNIT": "app.service", "SYSLOG_IDENTIFIER": "app"}
    assert store.lookup([records[4].id])[records[4].id] == records[4]
    assert [r.id for r in next(store.history(store.first_seq, store.end_seq))] == [r.id for r in records]


def _twin_stores(capacity: int) -> tuple[Store, Store, AccessLogParser, AccessLogParser]:
    one, two = Store(capacity=capacity), Store(capacity=capacity)
    return one, two, access_log(one, "/var/log/nginx/access.log"), access_log(two, "/var/log/nginx/access.log")


def test_prepared_batches_commit_to_the_same_store_as_appends_one_by_one():
    """Live batches are turned into columns in the reading thread (prepare) and appended on the event
    loop (commit): the store must end up as if each record had been appended, evictions included."""
    by_one, by_batch, parser, _ = _twin_stores(capacity=120)
    batch: list[Record] = []
    for n in range(300):
        if n % 3 == 0:
            record = parser.parse(ACCESS_LINE.format(n=n, status=(200, 404, 503)[n % 9 // 3]), n * 100)
        else:  # journal records held whole, on units and hosts first seen in this batch
            record = rec(n, n % 8, unit=f"u{n % 5}", host=f"h{n % 4}", effective=(n + 3) % 8)
        by_one.append(record)
        batch.append(record)
        if len(batch) == 37 or n == 299:
            first = by_batch.commit(by_batch.prepare(batch))
            assert first == by_batch.end_seq - len(batch)
            batch = []
    assert (by_batch.first_seq, by_batch.end_seq, by_batch.dropped) == (by_one.first_seq, by_one.end_seq,
                                                                         by_one.dropped)
    assert by_batch.dropped > 0  # eviction happened between commits
    assert list(by_batch) == list(by_one)
    assert sorted(by_batch.units()) == sorted(by_one.units()) and sorted(by_batch.hosts()) == sorted(by_one.hosts())
    for query in (Query.max_priority(3), Query.max_priority(3, effective=False), Query(units=frozenset({"u2"})),
                  Query(hosts=frozenset({"h3"}), priorities=frozenset({1, 6}))):
        views = [store.view(query) for store in (by_one, by_batch)]
        for view in views:
            view.refresh()
        assert list(views[0].matches) == list(views[1].matches) and len(views[0]) > 0
    ids = [by_one.id_of(seq) for seq in range(by_one.first_seq, by_one.end_seq, 7)]
    assert by_batch.lookup(ids) == by_one.lookup(ids) and len(by_batch.lookup(ids)) == len(ids)


def test_a_batch_prepared_in_another_thread_commits_while_the_store_is_read():
    import threading

    store = Store(capacity=5000)
    done = threading.Event()
    prepared = []

    def reader_thread() -> None:
        for b in range(40):
            prepared.append(store.prepare([rec(b * 50 + k, k % 8, unit=f"unit-{b}", host=f"host-{k % 3}")
                                           for k in range(50)]))
        done.set()

    thread = threading.Thread(target=reader_thread)
    thread.start()
    committed = 0
    while not done.is_set() or committed < len(prepared):
        if committed < len(prepared):
            store.commit(prepared[committed])
            committed += 1
        view = store.view(Query.max_priority(2))
        view.refresh()
        assert all(store.get(seq).priority <= 2 for seq in view.matches)
    thread.join()
    assert len(store) == 2000 and len(store.units()) == 40 and sorted(store.hosts()) == ["host-0", "host-1", "host-2"]
    assert [r.pos for r in store] == [f"c{n}" for n in range(2000)]
