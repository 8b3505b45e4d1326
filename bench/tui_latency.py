"""alsate-tui under load: keypress-to-repaint latency while ingesting live lines, and start-up time.

    .venv/bin/python bench/tui_latency.py                       # 1M held + 10k lines/s, 300 keys
    .venv/bin/python bench/tui_latency.py --records 200000 --keys 100
    .venv/bin/python bench/tui_latency.py --startup-only        # time to first screen in tmux

Latency: the app runs headless (Textual's compositor still builds every frame;
only the terminal write is skipped) over a real nginx access log of
``--records`` lines (history, read by the engine's FileSource into the store)
plus a second log that a writer thread appends to at ``--rate`` lines/s and the
app follows (FileSource follow thread, reorder buffer, ``call_from_thread``
batches, view extension on the 10 Hz tick). The findings engine runs in its
thread as in the real app. A key (up, down, PgUp, PgDn, End, 3, 4) is posted as
the terminal driver would; the latency is from posting it to the first frame
composed after the app's state reflects it.

Start-up: ``alsate-tui --demo --no-model`` in a 100x30 tmux pane, polled with
``capture-pane`` until the first screen (the log pane's border) is drawn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

LINE = ('203.0.113.{a} - - [{stamp}] "GET /api/v1/items/{n} HTTP/1.1" {status} 512 "-" '
        '"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"\n')


def history_file(records: int) -> Path:
    path = OUT / f"access-{records}.log"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_access_log.py"), str(path), "--lines",
                        str(records)], check=True)
    return path


class Writer(threading.Thread):
    """Appends access-log lines to ``path`` at ``rate`` lines per second, in 10 ms slices."""

    def __init__(self, path: Path, rate: int) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.rate = rate
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        start = time.monotonic()
        with open(self.path, "a", buffering=1 << 16) as fh:
            while not self.stop.is_set():
                due = int((time.monotonic() - start) * self.rate)
                if due > self.written:
                    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
                    count = due - self.written
                    fh.write("".join(LINE.format(a=n % 250, stamp=stamp, n=self.written + n,
                                                 status=502 if n % 97 == 0 else 200) for n in range(count)))
                    fh.flush()
                    self.written = due
                time.sleep(0.01)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


async def measure(args: argparse.Namespace) -> dict:
    from alsate.engine.records import SourceKind
    from alsate.engine.sources import FileOptions, FileSource
    from alsate.tui.app import AlsateApp, LLMSettings
    from textual import events

    history = history_file(args.records)
    tmp = Path(tempfile.mkdtemp(prefix="alsate-bench-"))
    live = tmp / "live-access.log"
    live.write_text("")
    # The live log starts empty, so its format is named (an empty file cannot be sniffed).
    sources = [FileSource(str(history)), FileSource(str(live), FileOptions(kind=SourceKind.NGINX_ACCESS))]
    app = AlsateApp(sources, source_names="bench", capacity=args.capacity, llm=LLMSettings(enabled=False))
    pending: dict = {}
    done = asyncio.Event()
    original = app._display

    def state() -> tuple:
        log = app.log_pane
        return log.cursor, log.follow, app.filters.levels, int(log.scroll_y)

    def display(screen, renderable) -> None:
        original(screen, renderable)
        # A frame composed after the app's state changed shows the change: that is the repaint.
        if renderable is not None and pending and state() != pending["before"]:
            pending["latency"] = time.perf_counter() - pending["t0"]
            done.set()

    app._display = display  # type: ignore[method-assign]
    result: dict = {"records": args.records, "rate_target": args.rate, "keys": args.keys,
                    "size": f"{args.width}x{args.height}"}
    async with app.run_test(size=(args.width, args.height)) as pilot:
        started = time.perf_counter()
        while app._loading or not len(app.view):
            await asyncio.sleep(0.05)
        result["history_load_s"] = round(time.perf_counter() - started, 2)
        if not args.during_analysis:
            # Steady state: the findings thread has read the history (it shares the GIL meanwhile).
            while app.findings_feed is not None and app.findings_feed.pending:
                await asyncio.sleep(0.1)
            result["findings_history_s"] = round(time.perf_counter() - started, 2)
        await pilot.press("4")
        writer = Writer(live, args.rate)
        writer.start()
        await asyncio.sleep(args.warmup)
        log = app.log_pane
        keys = ["up", "up", "down", "pageup", "pagedown", "up", "end", "3", "4", "down"]
        latencies: list[float] = []
        per_key: dict[str, list[float]] = {}
        ingested0, t_begin = app.ingested, time.perf_counter()
        rng = random.Random(7)
        for n in range(args.keys):
            key = keys[n % len(keys)]
            if key in ("3", "4"):
                key = "3" if app.filters.levels != frozenset(range(4)) else "4"
            if key == "down" and log.cursor >= log.count - 1:
                key = "up"
            if key == "end" and log.follow:
                key = "pageup"
            done.clear()
            pending.clear()
            pending["before"] = state()
            pending["t0"] = time.perf_counter()
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            try:
                await asyncio.wait_for(done.wait(), 2.0)
                latency = pending["latency"]
                latencies.append(latency)
                per_key.setdefault(key, []).append(latency)
            except asyncio.TimeoutError:
                result.setdefault("no_repaint", []).append(key)
            pending.clear()
            await asyncio.sleep(rng.uniform(0.02, 0.08))
        elapsed = time.perf_counter() - t_begin
        writer.stop.set()
        result["ingest_lines_per_s"] = round((app.ingested - ingested0) / elapsed)
        result["written_lines_per_s"] = round(writer.written / (elapsed + args.warmup))
        result["held"] = len(app.store)
        result["dropped"] = app.store.dropped
        result["measured"] = len(latencies)
        result["p50_ms"] = round(percentile(latencies, 0.5) * 1000, 1)
        result["p99_ms"] = round(percentile(latencies, 0.99) * 1000, 1)
        result["max_ms"] = round(max(latencies, default=float("nan")) * 1000, 1)
        result["per_key_p50_ms"] = {k: round(statistics.median(v) * 1000, 1) for k, v in per_key.items()}
        result["per_key_max_ms"] = {k: round(max(v) * 1000, 1) for k, v in per_key.items()}
        app.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def startup(runs: int = 3) -> dict:
    tmux = shutil.which("tmux")
    script = Path(sys.executable).parent / "alsate-tui"
    if tmux is None or not script.exists():
        return {"startup": "skipped (needs tmux and the installed alsate-tui)"}
    times = []
    for n in range(runs):
        name = f"alsate-bench-{os.getpid()}-{n}"
        t0 = time.perf_counter()
        subprocess.run([tmux, "-L", name, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "100", "-y",
                        "30", f"{script} --demo --no-model"], check=True)
        try:
            while time.perf_counter() - t0 < 20:
                screen = subprocess.run([tmux, "-L", name, "capture-pane", "-p", "-t", name], capture_output=True,
                                        text=True).stdout
                if "╭─ Log" in screen and "Findings" in screen:
                    times.append(time.perf_counter() - t0)
                    break
                time.sleep(0.01)
        finally:
            socket_path = subprocess.run([tmux, "-L", name, "display-message", "-p", "#{socket_path}"],
                                         capture_output=True, text=True).stdout.strip()
            subprocess.run([tmux, "-L", name, "kill-server"], capture_output=True)
            if socket_path and os.path.exists(socket_path):
                os.unlink(socket_path)
        time.sleep(0.5)
    return {"startup_first_screen_s": [round(t, 3) for t in times],
            "startup_median_s": round(statistics.median(times), 3) if times else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="history lines held (default 1M)")
    parser.add_argument("--capacity", type=int, default=1_000_000, help="store capacity")
    parser.add_argument("--rate", type=int, default=10_000, help="live lines per second")
    parser.add_argument("--keys", type=int, default=300, help="keys to time")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of ingestion before timing")
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--height", type=int, default=40)
    parser.add_argument("--startup-only", action="store_true")
    parser.add_argument("--during-analysis", action="store_true",
                        help="time keys while the findings engine is still reading the history")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = startup()
    if not args.startup_only:
        result.update(asyncio.run(measure(args)))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
