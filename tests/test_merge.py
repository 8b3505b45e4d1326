from __future__ import annotations

import threading
import time
from pathlib import Path

from alsate.engine.collect import SourceSet
from alsate.engine.merge import ReorderBuffer, merge_history
from alsate.engine.records import Record
from alsate.engine.sources import FileSource
from alsate.engine.store import Query, Store
from conftest import wait_for


def rec(ts: float, tag: str) -> Record:
    return Record(ts, "h", "text", "u", None, 3, 3, tag, tag, None, "o", tag)


def test_history_merge_is_time_ordered_and_stable():
    a = [rec(1, "a1"), rec(3, "a3"), rec(3, "a3b")]
    b = [rec(2, "b2"), rec(3, "b3"), rec(9, "b9")]
    assert [r.message for r in merge_history([a, b])] == ["a1", "b2", "a3", "a3b", "b3", "b9"]


def test_reorder_buffer_puts_a_late_arrival_in_place():
    buffer = ReorderBuffer(window=0.5)
    buffer.push(rec(100.2, "second"), now=100.3)
    assert buffer.pop_ready(now=100.4) == []  # may still be overtaken
    buffer.push(rec(100.1, "first, arrived late"), now=100.45)
    assert [r.message for r in buffer.pop_ready(now=100.8)] == ["first, arrived late", "second"]


def test_reorder_buffer_does_not_stall_on_a_clock_running_ahead():
    buffer = ReorderBuffer(window=0.5)
    buffer.push(rec(500.0, "from the future"), now=100.0)
    assert buffer.pop_ready(now=100.5) == []
    assert [r.message for r in buffer.pop_ready(now=102.1)] == ["from the future"]


def access_line(ts: int, path: str, status: int = 500) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
    return f'192.0.2.1 - - [{stamp}] "GET {path} HTTP/1.1" {status} 1 "-" "t"\n'


def test_source_set_loads_history_then_follows_live_from_where_history_ended(tmp_path: Path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    now = int(time.time())
    first.write_text(access_line(now - 10, "/a-old") + access_line(now - 8, "/a-old2"))
    second.write_text(access_line(now - 9, "/b-old"))
    sources = SourceSet([FileSource(str(first)), FileSource(str(second))], window=0.2)
    store = Store()
    assert sources.load(store) == 3
    assert [r.extra["path"] for r in store] == ["/a-old", "/b-old", "/a-old2"]
    sources.start_follow()
    try:
        with open(first, "a") as fh:
            fh.write(access_line(now, "/a-new"))
        with open(second, "a") as fh:
            fh.write(access_line(now, "/b-new"))
        seen: list[str] = []

        def both():
            seen.extend(r.extra["path"] for r in sources.poll_live(0.2))
            return len(seen) >= 2

        wait_for(both)
        assert sorted(seen) == ["/a-new", "/b-new"]
    finally:
        sources.stop()
    assert sources.stopped


def test_follow_thread_stops_promptly(tmp_path: Path):
    log = tmp_path / "x.log"
    log.write_text("")
    sources = SourceSet([FileSource(str(log))])
    sources.load(Store())
    sources.start_follow()
    started = time.monotonic()
    sources.stop()
    assert time.monotonic() - started < 2.5
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("follow "))


def test_views_over_a_loaded_store(tmp_path: Path):
    log = tmp_path / "access.log"
    log.write_text("".join(access_line(1714521600 + n, f"/{n}", 500 if n % 3 == 0 else 200) for n in range(30)))
    store = Store()
    SourceSet([FileSource(str(log))]).load(store)
    view = store.view(Query.max_priority(4))
    view.refresh()
    assert [r.extra["path"] for r in view.page(0, 3)] == ["/0", "/3", "/6"]
    assert len(view) == 10


def test_consumer_sees_every_record_in_merged_order_and_store_keeps_lines(tmp_path: Path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(access_line(1714521600, "/a1") + access_line(1714521602, "/a2"))
    second.write_text(access_line(1714521601, "/b1") + access_line(1714521603, "/b2"))
    seen: list[str] = []
    store = Store()
    SourceSet([FileSource(str(first)), FileSource(str(second))]).load(store, consumer=lambda r: seen.append(
        r.extra["path"]))
    assert seen == ["/a1", "/b1", "/a2", "/b2"]
    assert all(isinstance(p, str) for p in store._payload)  # lines, re-parsed on display
    assert [r.extra["path"] for r in store] == seen
