"""alsate-tui under load: keypress-to-repaint latency while ingesting live lines.

    .venv/bin/python bench/tui_latency.py                       # 1M held + 10k lines/s, 300 keys
    .venv/bin/python bench/tui_latency.py --records 200000 --keys 100

The app runs headless (Textual's compositor still builds every frame; only the
terminal write is skipped) over a real nginx access log of ``--records`` lines
(history, read by the engine's FileSource into the store) plus a second log
that a writer *process* (as nginx would be) appends to at ``--rate`` lines/s
and the app follows (FileSource follow thread, reorder buffer,
``call_from_thread`` batches, view extension on the 10 Hz tick). The findings
engine runs in its thread as in the real app. A key (up, down, PgUp, PgDn, End,
3, 4) is posted as the terminal driver would; the latency is from posting it to
the first frame composed once the app's state shows that key's effect, each key
with its own test (3/4: the filter's levels, with the filter applied to every
record held when the key was pressed; up/PgUp: following stopped or the cursor
on an older record; down/PgDn: a newer one; End: following again), so that a
frame that only shows new live lines is not taken for the key's repaint.

Start-up time is measured by bench/tui_startup.py.
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
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _keyprobe import percentile  # noqa: E402

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


def write_live(path: str, rate: int) -> None:
    """Append access-log lines to ``path`` at ``rate`` lines per second, in 10 ms slices, until killed
    (or the benchmark is gone); the count written so far is in ``path + '.count'``."""
    start = time.monotonic()
    parent = os.getppid()
    written = 0
    with open(path, "a", buffering=1 << 16) as fh:
        while os.getppid() == parent:
            due = int((time.monotonic() - start) * rate)
            if due > written:
                stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
                fh.write("".join(LINE.format(a=n % 250, stamp=stamp, n=written + n,
                                             status=502 if n % 97 == 0 else 200) for n in range(due - written)))
                fh.flush()
                written = due
                Path(path + ".count").write_text(str(written))
            time.sleep(0.01)


class Writer:
    """The writer process (a log writer is not in the app's interpreter: it takes no GIL from it)."""

    def __init__(self, path: Path, rate: int) -> None:
        self.path = path
        self.rate = rate
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--write-live", str(self.path), "--rate",
                                      str(self.rate)])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    @property
    def written(self) -> int:
        for _ in range(20):  # the writer may be rewriting the file: read again
            try:
                return int(Path(str(self.path) + ".count").read_text())
            except (OSError, ValueError):
                time.sleep(0.01)
        return 0


async def measure(args: argparse.Namespace) -> dict:
    from alsate.engine.records import SourceKind
    from alsate.engine.sources import FileOptions, FileSource
    from alsate.tui.app import AlsateApp, LLMSettings
    from textual import events

    # The theme is named: the default depends on the terminal's colours (16-colour terminals get the ANSI one).
    os.environ["ALSATE_THEME"] = args.theme
    history = history_file(args.records)
    tmp = Path(tempfile.mkdtemp(prefix="alsate-bench-"))
    live = tmp / "live-access.log"
    live.write_text("")
    # The live log starts empty, so its format is named (an empty file cannot be sniffed).
    sources = [FileSource(str(history)), FileSource(str(live), FileOptions(kind=SourceKind.NGINX_ACCESS))]
    factory = None
    if args.no_follow_yield:
        from alsate.engine.collect import SourceSet

        class FollowersNeverYield(SourceSet):
            """The app's SourceSet with the follower threads' pause during keys turned off (for comparison)."""

            may_run = property(lambda self: None, lambda self, value: None)

        factory = FollowersNeverYield
    app = AlsateApp(sources, source_names="bench", capacity=args.capacity, llm=LLMSettings(enabled=False),
                    source_set_factory=factory, findings=not args.no_findings)
    if args.no_key_order:  # for comparison: each key handed on at once, as Textual does
        app.ordered_key = app.hand_on_key
    pending: dict = {}
    done = asyncio.Event()
    original = app._display

    def shown(key: str) -> bool:
        """Whether the app's state shows this key's effect. Each key has its own test: while following,
        every tick moves the cursor with the new lines, and such a frame is not the key's repaint."""
        log = app.log_pane
        before = pending["before"]
        if key in ("3", "4"):
            return app.filters.levels == frozenset(range(int(key) + 1))
        if key == "end":
            return log.follow
        seq = log.cursor_seq()
        if key in ("up", "pageup"):
            return (before["follow"] and not log.follow) or (seq is not None and seq < before["seq"])
        return seq is not None and seq > before["seq"]  # down, pagedown (pressed while paused)

    def display(screen, renderable) -> None:
        original(screen, renderable)
        # The first frame composed once the app's state shows the key's effect: that is the repaint.
        if renderable is not None and pending and "latency" not in pending and shown(pending["key"]):
            pending["latency"] = time.perf_counter() - pending["t0"]
            # A filter key's frame must show the filter applied to every record held when the key was
            # pressed, not the part of the view built so far (records that arrived since come next tick).
            pending["complete"] = app.view._scanned >= pending["end_seq"] - 1
            done.set()

    app._display = display  # type: ignore[method-assign]
    timer = sampler = None
    if args.time_loop:
        from _loop_sampler import time_app_loop

        timer = time_app_loop(app)
    probe = SimpleNamespace(_check=None, _t0=0.0)  # what the sampler reads: a key waiting since _t0
    if args.sample_slow_keys:
        from _loop_sampler import SlowKeySampler

        sampler = SlowKeySampler(probe, after=args.sample_slow_keys / 1000)
    result: dict = {"records": args.records, "rate_target": args.rate, "keys": args.keys,
                    "size": f"{args.width}x{args.height}"}
    async with app.run_test(size=(args.width, args.height)) as pilot:
        started = time.perf_counter()
        while app._loading or not len(app.view):
            await asyncio.sleep(0.05)
        result["history_load_s"] = round(time.perf_counter() - started, 2)
        if not args.during_analysis:
            # Steady state: the findings thread has read the history (it shares the GIL meanwhile).
            # The feed starts after the history is loaded.
            while app.findings_enabled and (app.findings_feed is None or app.findings_feed.pending):
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
        result["partial_view_repaints"] = 0
        rng = random.Random(7)
        if sampler is not None:
            sampler.start()
        timed_from = time.perf_counter()
        if timer is not None:
            for values in timer.times.values():
                values.clear()
        for n in range(args.keys):
            key = keys[n % len(keys)]
            if key in ("3", "4"):
                key = "3" if app.filters.levels != frozenset(range(4)) else "4"
            if key in ("down", "pagedown") and (log.follow or log.cursor >= log.count - 1):
                key = "up"
            if key == "end" and log.follow:
                key = "pageup"
            done.clear()
            pending.clear()
            pending["key"] = key
            pending["before"] = {"follow": log.follow, "seq": log.cursor_seq() or 0}
            pending["end_seq"] = app.store.end_seq
            pending["t0"] = probe._t0 = time.perf_counter()
            probe._check = key
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            try:
                await asyncio.wait_for(done.wait(), 2.0)
                latency = pending["latency"]
                if key in ("3", "4") and not pending["complete"]:
                    result["partial_view_repaints"] = result.get("partial_view_repaints", 0) + 1
                latencies.append(latency)
                per_key.setdefault(key, []).append(latency)
            except asyncio.TimeoutError:
                result.setdefault("no_repaint", []).append(key)
            probe._check = None
            pending.clear()
            await asyncio.sleep(rng.uniform(0.02, 0.08))
        elapsed = time.perf_counter() - t_begin
        if timer is not None:
            result["loop"] = timer.report(time.perf_counter() - timed_from)
        if sampler is not None:
            sampler.stop()
            result["slow_keys"] = sampler.report(top=20)
        written = writer.written
        writer.stop()
        result["ingest_lines_per_s"] = round((app.ingested - ingested0) / elapsed)
        result["written_lines_per_s"] = round(written / (elapsed + args.warmup))
        # Records the findings thread has not read yet (it waits while the app paints: it must keep up).
        result["findings_pending"] = app.findings_feed.pending if app.findings_feed is not None else None
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="history lines held (default 1M)")
    parser.add_argument("--capacity", type=int, default=1_000_000, help="store capacity")
    parser.add_argument("--rate", type=int, default=10_000, help="live lines per second")
    parser.add_argument("--keys", type=int, default=300, help="keys to time")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of ingestion before timing")
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--height", type=int, default=40)
    parser.add_argument("--theme", default="textual-dark", help="theme (default textual-dark)")
    parser.add_argument("--write-live", metavar="PATH", help=argparse.SUPPRESS)  # the writer process
    parser.add_argument("--during-analysis", action="store_true",
                        help="time keys while the findings engine is still reading the history")
    parser.add_argument("--no-follow-yield", action="store_true",
                        help="for comparison: follower threads do not pause while a key is handled")
    parser.add_argument("--no-key-order", action="store_true",
                        help="for comparison: keys handed on at once, not after the key before them")
    parser.add_argument("--no-findings", action="store_true",
                        help="for comparison: no findings engine (its thread and its panel updates)")
    parser.add_argument("--time-loop", action="store_true",
                        help="also time the app's loop callbacks (live batches, tick, frames) and GC")
    parser.add_argument("--sample-slow-keys", type=float, default=0, metavar="MS",
                        help="sample the loop's stack while a key has waited over MS milliseconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.write_live:
        write_live(args.write_live, args.rate)
        return 0
    result = {"load_average": os.getloadavg()[0]}
    result.update(asyncio.run(measure(args)))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key == "loop":
                for row in value:
                    print(f"{'loop':>24}: {row}")
            elif key == "slow_keys":
                print(f"{'slow-key samples':>24}: {value['samples']}")
                for kind in ("inclusive", "leaf"):
                    for where, pct in value[kind]:
                        print(f"{kind:>24}: {pct:5.1f}%  {where}")
            else:
                print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
