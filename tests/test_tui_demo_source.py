"""The --demo replay source: the bundled logs as history ending now, then a paced, looping live replay."""

from __future__ import annotations

import threading
import time

from alsate.engine.collect import SourceSet
from alsate.engine.findings import FindingsEngine
from alsate.engine.records import SourceKind
from alsate.engine.sources.demo import DEFAULT_SPLIT, LENGTH, demo_sources
from alsate.engine.store import Query, Store


def test_history_ends_now_in_time_order_with_all_three_logs() -> None:
    now = time.time()
    sources = demo_sources(anchor=now)
    assert [s.kind for s in sources] == [SourceKind.JOURNAL, SourceKind.NGINX_ACCESS, SourceKind.NGINX_ERROR]
    source_set = SourceSet(sources)
    store = Store()
    count = source_set.load(store)
    assert count == len(store) > 6000
    records = list(store)
    assert all(a.ts <= b.ts for a, b in zip(records, records[1:], strict=False))
    assert now - DEFAULT_SPLIT - 1 <= records[0].ts and records[-1].ts <= now
    assert {r.host for r in records} == {"web-01"}
    # the text is re-stamped too: an access line shows the time it is replayed at
    access = next(r for r in reversed(records) if r.kind == SourceKind.NGINX_ACCESS)
    assert time.strftime("%d/%b/%Y:%H:%M:%S", time.localtime(access.ts)) in access.raw
    assert len({r.id for r in records}) == len(records)
    assert any("demo replay" in line for line in source_set.describe())


def test_planted_incidents_are_found() -> None:
    sources = demo_sources(anchor=time.time())
    engine = FindingsEngine(persist_templates=False)
    # the history and one live loop, in time order
    records = sorted([r for s in sources for r in s.records()] +
                     [r for s in sources for _, r in s.live_entries(0)], key=lambda r: r.ts)
    engine.feed_all(records)
    titles = " | ".join(f.title for f in engine.findings())
    for expected in ("SSH brute force from 203.0.113.45", "SSH login as 'root' from 203.0.113.45",
                     "Scanner probing from 198.51.100.23", "No space left on device", "OOM killer",
                     "restart loop", "Upstream refused connections"):
        assert expected in titles, (expected, titles)


def test_hostile_lines_are_in_the_logs_verbatim() -> None:
    messages = [r.message for s in demo_sources() for r in s.records()]
    assert any("[bold red]FREE MONEY[/bold red] [@click=app.quit]" in m for m in messages)
    assert any("\x1b]0;you have been pwned\x07" in m for m in messages)
    assert any("progress 99%\rOK" in m for m in messages)
    raised = Store()
    raised.extend(r for s in demo_sources() for r in s.records())
    view = raised.view(Query.max_priority(3))
    view.refresh()
    assert any("FREE MONEY" in r.message and r.priority == 6 and r.effective == 3 for r in view)


def test_live_replay_is_paced_loops_and_stops() -> None:
    speed = 200.0  # the 6 recorded minutes play in 1.8 s
    sources = demo_sources(speed=speed)
    journal = sources[0]
    stop = threading.Event()
    seen = []
    started = time.time()

    def run() -> None:
        for record in journal.follow(stop):
            seen.append((time.time(), record))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(2.5)
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert seen
    # paced: records come out when they are due (their timestamps), not all at once
    late = [at - record.ts for at, record in seen]
    assert max(late) < 0.5 and min(late) > -0.05
    assert seen[-1][0] - seen[0][0] > 1.0
    # looped: a second loop started, with new ids and later timestamps
    loops = {record.pos.split(".")[0] for _, record in seen}
    assert loops >= {"l0", "l1"}
    assert len({record.id for _, record in seen}) == len(seen)
    assert (LENGTH - DEFAULT_SPLIT) / speed < 2.5
    assert all(record.ts >= started - 1 for _, record in seen)


def test_an_anchor_in_the_past_does_not_flood() -> None:
    sources = demo_sources(speed=3.0, anchor=time.time() - 3600)
    stop = threading.Event()
    out = []

    def run() -> None:
        for record in sources[1].follow(stop):
            out.append(record)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.5)
    stop.set()
    thread.join(timeout=2)
    assert len(out) < 200  # seconds of traffic, not an hour of it
