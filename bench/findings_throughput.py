"""Findings throughput on the 1M-line nginx access log, against lnav on the same file.

    .venv/bin/python bench/findings_throughput.py [--log FILE] [--lines 1000000] [--skip-lnav]
                                                  [--record-path] [--template-lines N]

Without ``--log`` it writes the engine benchmark's log (bench/gen_access_log.py,
seed 7) to a temporary file. It then times, on this machine, in one run:

1. lnav answering one query over the file (``lnav -n -c ';SELECT ...'``: the
   4xx/5xx count per client address, the closest lnav query to what the
   detectors compute), wall and CPU time;
2. ``alsate scan FILE -n 0``, the command a user runs: the file read into the
   store with every detector and the templates view over it, the counts and the
   findings printed (a process of its own, like lnav's);
3. the same load in this process, as ``alsate scan`` does it
   (``SourceSet.load(store, consumer=FindingsEngine.feed)``: an access log goes
   to the findings engine a chunk at a time, column-wise), and the store-only
   load of ``scan --no-findings`` beside it, so the findings' own share shows;
   with ``--record-path``, also the record-by-record feed it replaced;
4. unstructured templating: the Loghub syslog/OpenSSH samples, numbers shifted
   per copy, as records through ``TemplateIndex.feed`` (masking + Drain3 +
   the view), lines/s.

CPU time is the fairer figure on a machine shared with other work; the load
average is printed with the figures. It prints the findings it got.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alsate.engine.collect import SourceSet
from alsate.engine.config import Config
from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines
from alsate.engine.sources import FileSource
from alsate.engine.store import Store
from alsate.engine.templates.index import TemplateIndex

HERE = Path(__file__).resolve().parent
LOGHUB = HERE.parent.parent / "shared" / "data" / "loghub"
LNAV_QUERY = (";SELECT c_ip, count(*) AS n FROM access_log WHERE sc_status >= 400 "
              "GROUP BY c_ip ORDER BY n DESC LIMIT 5")


def make_log(lines: int) -> Path:
    sys.path.insert(0, str(HERE))
    import gen_access_log

    out = Path(tempfile.mkdtemp(prefix="alsate-bench-")) / "access.log"
    with open(out, "w", encoding="ascii") as fh:
        fh.writelines(gen_access_log.lines(lines, 7))
    return out


def time_lnav(path: Path) -> tuple[float, float] | None:
    """(wall, CPU) seconds of lnav answering the query."""
    lnav = shutil.which("lnav")
    if lnav is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([lnav, "-n", "-c", LNAV_QUERY, str(path)], check=True, capture_output=True,
                   env={"HOME": tempfile.mkdtemp(prefix="lnav-home-"), "PATH": "/usr/bin:/bin"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_scan_command(path: Path) -> tuple[float, float, str]:
    """(wall, CPU) seconds of ``alsate scan FILE -n 0`` and its last lines."""
    alsate = Path(sys.executable).with_name("alsate")
    before = _cpu_children()
    start = time.perf_counter()
    done = subprocess.run([str(alsate), "scan", str(path), "-n", "0"], check=True, capture_output=True, text=True,
                          env={**os.environ, "HOME": tempfile.mkdtemp(prefix="alsate-home-")})
    return time.perf_counter() - start, _cpu_children() - before, done.stdout


def time_load(path: Path, findings: bool, record_path: bool = False
              ) -> tuple[float, float, FindingsEngine | None, int]:
    """(wall, CPU) seconds of loading the file into a store as ``alsate scan`` does, the engine, the count.

    ``findings``: with the findings engine as the consumer (``scan``), else none (``scan --no-findings``).
    ``record_path``: the engine fed record by record (the path before the column-wise one).
    """
    source_set = SourceSet([FileSource(str(path))])
    store = Store(capacity=Config().store_capacity)
    engine = FindingsEngine(persist_templates=False) if findings else None
    consumer = None
    if engine is not None:
        consumer = engine.feed if not record_path else (lambda record: engine.feed(record))
    start, start_cpu = time.perf_counter(), time.process_time()
    n = source_set.load(store, consumer=consumer)
    return time.perf_counter() - start, time.process_time() - start_cpu, engine, n


def templating_rate(lines: int) -> tuple[float, float]:
    """(lines per wall second, lines per CPU second)."""
    base: list[str] = []
    for name in ("Linux_2k.log", "OpenSSH_2k.log"):
        with open(LOGHUB / name, encoding="utf-8", errors="replace") as fh:
            base += [line.rstrip("\n") for line in fh]
    number = re.compile(r"(?<=\d\.)\d+(?= )|(?<=port )\d+|(?<=\[)\d+(?=\])")
    text: list[str] = []
    copy = 0
    while len(text) < lines:
        text += [number.sub(lambda m, c=copy: str(int(m.group()) + c), line) for line in base]
        copy += 1
    records = parse_lines("syslog", text[:lines], origin="loghub")
    index = TemplateIndex(persist=False)
    start, start_cpu = time.perf_counter(), time.process_time()
    for record in records:
        index.feed(record)
    return len(records) / (time.perf_counter() - start), len(records) / (time.process_time() - start_cpu)


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--skip-lnav", action="store_true")
    ap.add_argument("--record-path", action="store_true", help="also time the record-by-record feed")
    ap.add_argument("--template-lines", type=int, default=200_000)
    args = ap.parse_args(argv)
    path = args.log or make_log(args.lines)
    size = path.stat().st_size
    print(f"log: {path} ({size / 1e6:.0f} MB); {load_average()}")
    lnav = None if args.skip_lnav else time_lnav(path)
    scan_wall, scan_cpu, scan_out = time_scan_command(path)
    total, total_cpu, engine, n = time_load(path, findings=True)
    store_s, store_cpu, _, _ = time_load(path, findings=False)
    assert engine is not None
    print(f"{'':36}{'wall s':>8}{'CPU s':>8}")
    if lnav is not None:
        print(f"{'lnav query':36}{lnav[0]:8.2f}{lnav[1]:8.2f}")
    print(f"{'alsate scan FILE -n 0 (command)':36}{scan_wall:8.2f}{scan_cpu:8.2f}")
    print(f"{'alsate load with findings':36}{total:8.2f}{total_cpu:8.2f}   {n / total:,.0f} lines/s wall")
    print(f"{'  store only (scan --no-findings)':36}{store_s:8.2f}{store_cpu:8.2f}")
    print(f"{'  findings share (difference)':36}{total - store_s:8.2f}{total_cpu - store_cpu:8.2f}")
    if args.record_path:
        old, old_cpu, old_engine, _ = time_load(path, findings=True, record_path=True)
        assert old_engine is not None
        print(f"{'  record-by-record feed (before)':36}{old:8.2f}{old_cpu:8.2f}")
        same = [f.to_json() for f in old_engine.findings()] == [f.to_json() for f in engine.findings()]
        print(f"  same findings both ways: {same}")
    print(load_average())
    ok = True
    if lnav is not None:
        print(f"ratio to lnav, wall: {scan_wall / lnav[0]:.2f}x alsate scan, {total / lnav[0]:.2f}x load with "
              f"findings; CPU: {scan_cpu / lnav[1]:.2f}x, {total_cpu / lnav[1]:.2f}x (target <= 2x wall)")
        ok = scan_wall / lnav[0] <= 2.0
    print(f"templates: {len(engine.templates)}; findings:")
    for f in engine.findings():
        print(f"  {f.severity_name:7} {f.id:45} count={f.count:<7} evidence={len(f.evidence)}")
    if args.template_lines:
        rate, rate_cpu = templating_rate(args.template_lines)
        print(f"unstructured templating (records through TemplateIndex): {rate:,.0f} lines/s wall, "
              f"{rate_cpu:,.0f} per CPU second (target >= 50,000)")
        ok = ok and rate >= 50_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
