"""Parse + priority filter of a 1M-line nginx access log: alsate's engine against lnav, in one run.

    python bench/engine_vs_lnav.py [--lines 1000000] [--runs 3] [--file PATH]

alsate: every line parsed into the store (1M records held), then the default
priority view (0-4: the 4xx and 5xx requests) built and counted. lnav: its
SQL over the same file (``SELECT sc_status, count(*) FROM access_log GROUP BY
sc_status``). Both run as separate processes, alternating, best of N runs;
wall time and peak RSS come from wait4(). The two must agree on the number of
4xx+5xx requests, or the run is reported as invalid.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALSATE_SNIPPET = """
import sys
from alsate.engine.collect import SourceSet
from alsate.engine.sources import FileSource
from alsate.engine.store import Query, Store
store = Store(capacity=1_100_000)
SourceSet([FileSource(sys.argv[1])]).load(store)
view = store.view(Query.max_priority(4))
view.refresh()
print(len(store), len(view))
"""
LNAV_QUERY = ";SELECT sc_status, count(*) FROM access_log GROUP BY sc_status"


def measure(argv: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stdout) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss // 1024, out


def lnav_errors(output: str) -> int:
    total = 0
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and int(parts[0]) >= 400:
            total += int(parts[1])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--file", type=Path, default=None)
    args = parser.parse_args()
    path = args.file or HERE / "out" / f"access-{args.lines}.log"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "gen_access_log.py"), str(path), "--lines", str(args.lines)],
                       check=True)
    size_mb = path.stat().st_size / 1e6
    lnav = ["lnav", "-n", "-c", LNAV_QUERY, str(path)]
    ours = [sys.executable, "-c", ALSATE_SNIPPET, str(path)]
    best: dict[str, tuple[float, int]] = {}
    agree = True
    for _ in range(args.runs):
        for name, argv in (("lnav", lnav), ("alsate", ours)):
            wall, rss, out = measure(argv)
            if name == "lnav":
                expected = lnav_errors(out)
            else:
                held, matched = (int(x) for x in out.split())
                agree = agree and matched == expected and held == args.lines
            if name not in best or wall < best[name][0]:
                best[name] = (wall, rss)
    print(f"file: {path} ({args.lines} lines, {size_mb:.0f} MB), best of {args.runs} runs each")
    print(f"{'tool':8} {'wall s':>8} {'peak RSS MB':>12}")
    for name in ("lnav", "alsate"):
        wall, rss = best[name]
        print(f"{name:8} {wall:8.2f} {rss:12d}")
    ratio = best["alsate"][0] / best["lnav"][0]
    print(f"ratio alsate/lnav wall time: {ratio:.2f} (target <= 1.0); alsate peak RSS {best['alsate'][1]} MB "
          f"(target <= 400)")
    print("counts agree (4xx+5xx)" if agree else "INVALID: alsate and lnav disagree on the 4xx+5xx count")


if __name__ == "__main__":
    main()
