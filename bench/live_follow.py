"""Live follow throughput: a writer appends access-log lines at a fixed rate; the engine follows them.

    python bench/live_follow.py [--rate 10000] [--seconds 10]

A separate process writes ``--rate`` lines per second into a temp file for
``--seconds``; the engine's SourceSet follows the file (the same path the TUI
uses: follower thread -> reorder window -> store) and this prints the lines
written and received (none may be lost or repeated), the sustained rate, the
lag at the end, and the follower's CPU time per line.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from alsate.engine.collect import SourceSet
from alsate.engine.sources import FileSource
from alsate.engine.store import Store


def writer(path: str, rate: int, seconds: float) -> None:
    batch = max(1, rate // 50)  # 50 writes a second
    start = time.monotonic()
    n = 0
    with open(path, "a", buffering=1 << 16) as fh:
        while time.monotonic() - start < seconds:
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            fh.write("".join(f'192.0.2.{n % 250} - - [{stamp}] "GET /item/{n + i} HTTP/1.1" '
                             f'{500 if (n + i) % 97 == 0 else 200} 512 "-" "bench"\n' for i in range(batch)))
            fh.flush()
            n += batch
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    Path(path + ".done").write_text(str(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "access.log")
        Path(path).write_text("")
        sources = SourceSet([FileSource(path)], window=0.5)
        store = Store()
        sources.load(store)
        sources.start_follow()
        proc = multiprocessing.Process(target=writer, args=(path, args.rate, args.seconds))
        cpu0 = time.process_time()
        start = time.monotonic()
        proc.start()
        received = 0
        while True:
            batch = sources.poll_live(0.1)
            for record in batch:
                store.append(record)
            received += len(batch)
            done = Path(path + ".done")
            if done.exists() and received >= int(done.read_text()):
                break
            if time.monotonic() - start > args.seconds + 30:
                break
        elapsed = time.monotonic() - start
        lag = elapsed - args.seconds
        cpu = time.process_time() - cpu0
        written = int(Path(path + ".done").read_text()) if Path(path + ".done").exists() else -1
        proc.join()
        sources.stop()
        ids = {store.id_of(seq) for seq in range(store.first_seq, store.end_seq)}
    print(f"written {written}, received {received}, distinct ids {len(ids)} "
          f"({'no loss, no repeats' if written == received == len(ids) else 'MISMATCH'})")
    print(f"sustained {received / elapsed:,.0f} lines/s for a target of {args.rate:,}/s; "
          f"lag after the writer stopped {lag:.2f} s")
    print(f"engine CPU {cpu:.2f} s = {1e6 * cpu / max(received, 1):.1f} us/line")


if __name__ == "__main__":
    main()
