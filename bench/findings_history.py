"""The findings over a history alsate-tui holds: the feed thread reading a 1M-line store.

    .venv/bin/python bench/findings_history.py [--log FILE] [--lines 1000000]

alsate-tui shows the history first (the store is loaded without the findings
engine), then its findings thread reads what the store holds. This times, in one
run and one process, the two ways that thread can read it:

1. ``FindingsFeed.feed_history`` as the app calls it now (``Store.history``: the
   access log's held lines go to the engine column-wise, as ``alsate scan``
   reads a file);
2. what it did before: each record re-parsed from the store (``Store.get``) and
   fed in slices of 256 (``FindingsEngine.feed_all``).

Both start from a fresh findings engine (no saved template state) and must give
the same findings; the script says whether they do. The load average is printed
with the figures (2 shared cores: CPU time is the fairer figure).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(label: str, run) -> tuple[list, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    findings = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:>34}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, {len(findings)} findings")
    return findings, wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", help="an nginx access log (default: bench/gen_access_log.py's, written to /tmp)")
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()

    from alsate.engine.collect import SourceSet
    from alsate.engine.findings import FindingsEngine
    from alsate.engine.findings.feed import FindingsFeed
    from alsate.engine.sources import FileSource
    from alsate.engine.store import Store

    log = args.log
    if log is None:
        log = os.path.join(tempfile.gettempdir(), f"alsate-access-{args.lines}.log")
        if not os.path.exists(log):
            subprocess.run([sys.executable, str(ROOT / "bench" / "gen_access_log.py"), log, "--lines",
                            str(args.lines)], check=True)
    store = Store(capacity=max(args.lines, 1))
    started = time.perf_counter()
    SourceSet([FileSource(log)]).load(store)
    print(f"{'history loaded into the store':>34}: {time.perf_counter() - started:6.2f} s, {len(store):,} records, "
          f"load average {os.getloadavg()[0]:.1f}")

    def through_feed() -> list:
        done = threading.Event()
        engine = FindingsEngine(persist_templates=False)
        feed = FindingsFeed(engine, lambda snapshot: None, store=store, on_history_done=done.set)
        feed.start()
        feed.feed_history(store.first_seq, store.end_seq)
        done.wait()
        feed.stop()
        return engine.findings()

    def record_by_record() -> list:
        engine = FindingsEngine(persist_templates=False)
        get = store.get
        for start in range(store.first_seq, store.end_seq, 256):
            engine.feed_all([get(seq) for seq in range(start, min(start + 256, store.end_seq))])
        return engine.findings()

    new, new_wall, new_cpu = timed("FindingsFeed over Store.history", through_feed)
    old, old_wall, old_cpu = timed("records re-parsed, fed in slices", record_by_record)
    same = [(f.id, f.count) for f in new] == [(f.id, f.count) for f in old]
    print(f"{'same findings':>34}: {same}")
    print(f"{'speed-up':>34}: {old_wall / new_wall:.2f}x wall, {old_cpu / new_cpu:.2f}x CPU "
          f"(load average {os.getloadavg()[0]:.1f})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
