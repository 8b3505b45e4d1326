"""Findings throughput on the 1M-line nginx access log, against lnav on the same file.

    .venv/bin/python bench/findings_throughput.py [--log FILE] [--lines 1000000] [--skip-lnav]

Without ``--log`` it writes the engine benchmark's log (bench/gen_access_log.py,
seed 7) to a temporary file. It then times, on this machine, in one run:

1. lnav answering one query over the file (``lnav -n -c ';SELECT ...'``: the
   4xx/5xx count per client address, the closest lnav query to what the
   detectors compute), wall and CPU time;
2. alsate: every line parsed by the engine's parser and fed, one record at a
   time, to a ``FindingsEngine`` (templates view + all detectors), wall and
   CPU time, split into parsing and findings (CPU time is the fairer figure on
   a machine shared with other work);
3. unstructured templating: the Loghub syslog/OpenSSH samples, numbers shifted
   per copy, as records through ``TemplateIndex.feed`` (masking + Drain3 +
   the view), lines/s.

and prints the findings it got.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alsate.engine.findings import FindingsEngine
from alsate.engine.formats import parser_for
from alsate.engine.parse import parse_lines
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


def time_alsate(path: Path) -> tuple[float, float, float, float, FindingsEngine, int]:
    """(wall, CPU, parse wall, parse CPU) seconds, the engine, the line count."""
    parser = parser_for("nginx-access", str(path))
    engine = FindingsEngine(persist_templates=False)
    feed = engine.feed
    parse = parser.parse
    parse_s = parse_cpu = 0.0
    n = 0
    start, start_cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8", errors="replace") as fh:
        while True:
            chunk = fh.readlines(8 << 20)
            if not chunk:
                break
            t, c = time.perf_counter(), time.process_time()
            records = [parse(line.rstrip("\n"), n + i) for i, line in enumerate(chunk)]
            parse_s += time.perf_counter() - t
            parse_cpu += time.process_time() - c
            n += len(records)
            for record in records:
                feed(record)
    return time.perf_counter() - start, time.process_time() - start_cpu, parse_s, parse_cpu, engine, n


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--skip-lnav", action="store_true")
    ap.add_argument("--template-lines", type=int, default=200_000)
    args = ap.parse_args(argv)
    path = args.log or make_log(args.lines)
    size = path.stat().st_size
    print(f"log: {path} ({size / 1e6:.0f} MB)")
    lnav = None if args.skip_lnav else time_lnav(path)
    total, total_cpu, parse_s, parse_cpu, engine, n = time_alsate(path)
    findings_s, findings_cpu = total - parse_s, total_cpu - parse_cpu
    print(f"{'':26}{'wall s':>8}{'CPU s':>8}")
    if lnav is not None:
        print(f"{'lnav query':26}{lnav[0]:8.2f}{lnav[1]:8.2f}")
    print(f"{'alsate parse + findings':26}{total:8.2f}{total_cpu:8.2f}   {n / total:,.0f} lines/s wall")
    print(f"{'  parsing (engine parser)':26}{parse_s:8.2f}{parse_cpu:8.2f}")
    print(f"{'  findings (this issue)':26}{findings_s:8.2f}{findings_cpu:8.2f}   {n / findings_s:,.0f} records/s wall")
    ok = True
    if lnav is not None:
        print(f"ratio to lnav, wall: {total / lnav[0]:.2f}x end to end, {findings_s / lnav[0]:.2f}x findings alone; "
              f"CPU: {total_cpu / lnav[1]:.2f}x end to end, {findings_cpu / lnav[1]:.2f}x findings alone "
              f"(target <= 2x)")
        ok = total / lnav[0] <= 2.0
    print(f"templates: {len(engine.templates)}; findings:")
    for f in engine.findings():
        print(f"  {f.severity_name:7} {f.id:45} count={f.count:<7} evidence={len(f.evidence)}")
    rate, rate_cpu = templating_rate(args.template_lines)
    print(f"unstructured templating (records through TemplateIndex): {rate:,.0f} lines/s wall, "
          f"{rate_cpu:,.0f} per CPU second (target >= 50,000)")
    ok = ok and rate >= 50_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
