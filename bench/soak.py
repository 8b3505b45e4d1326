"""Soak: alsate-tui following a real nginx and a journald under steady load, for --minutes.

    sudo .venv/bin/python bench/soak.py                          # 30 min at 5,000 lines/s (issue 7)
    sudo .venv/bin/python bench/soak.py --minutes 2 --rate 1000 --warmup 60

What runs (all real, all on this machine):

- nginx on 127.0.0.1 with its prefix, config and logs in a temp dir; a load
  process sends it HTTP requests (keep-alive, pipelined) at its share of
  ``--rate``: 200s, 404s, 403s, 503s and 502s (a proxy to a closed port, each
  also an error-log line);
- a journald namespace instance of its own (``systemd-journald NAME``, files in
  /var/log/journal/MACHINE-ID.NAME, removed at the end); a second process
  sends it messages at priorities 0-7 at the rest of the rate;
- alsate-tui, built from its command line exactly as the installed script does
  (``access.log error.log -D JOURNAL-DIR --no-model --capacity N``; findings on),
  run headless in this process with Textual's ``run_test`` (every frame is
  composed; only the terminal write is skipped), following all three sources.

Every ``--interval`` seconds a row shows the lines written (the access and error
logs' line counts, journal messages sent) against the records the app took in
(counted per source as its live batches reach the store), the app's RSS and
store, keypress-to-repaint latency for the keys pressed in that window (about
two a second, timed as bench/tui_latency.py does; see bench/_keyprobe.py), CPU
per process and the load average. At the end the load stops, the app gets
``--drain`` seconds to catch up, and the summary gives RSS growth from the end
of warm-up to the end of the load, lost lines per source, and latency p50 /
p99 / max overall and per window, against issue 7's targets (growth <= 10 %,
no lost line, p99 <= 100 ms). JSON goes to bench/out/soak-*.json.

The store is bounded: until it is full RSS grows with it, which is not a leak.
By default its capacity is 40 s of the target rate and the warm-up at least
that fill time plus a minute (and at least 2 minutes), so the growth measured
after the warm-up is what a store that only evicts still gains: a leak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _keyprobe import KeyProbe, percentile  # noqa: E402
from _soak_load import http_load, journal_identifiers, journal_load  # noqa: E402
from _soak_services import (  # noqa: E402
    JournaldNamespace,
    NginxServer,
    SetupError,
    cpu_seconds,
    memory_bytes,
    remove_stale_namespaces,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TARGET_GROWTH_PCT = 10.0
TARGET_P99_MS = 100.0
#: Capacity default: this many seconds of the target rate.
FILL_SECONDS = 40
NAMESPACE_PREFIX = "alsate-soak-"


def log(text: str = "") -> None:
    """Print even while Textual runs (it captures sys.stdout)."""
    sys.__stdout__.write(text + "\n")
    sys.__stdout__.flush()


class LineCounter:
    """Lines in a growing file, counted incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def update(self) -> int:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            while chunk := fh.read(1 << 22):
                self.lines += chunk.count(b"\n")
                self.offset += len(chunk)
        return self.lines


@dataclass
class Seen:
    """Records the app took in, per source, counted as its live batches reach the store."""

    tag: str
    access: str
    error: str
    counts: Counter = field(default_factory=Counter)

    def add(self, records) -> None:
        counts = self.counts
        tag, access, error = self.tag, self.access, self.error
        for record in records:
            origin = record.origin
            if origin == access:
                counts["access"] += 1
            elif origin == error:
                counts["error"] += 1
            elif record.unit.startswith(tag):
                counts["journal"] += 1
            else:
                counts["other"] += 1


@dataclass
class Rig:
    """The services, the load processes and their shared counters."""

    nginx: NginxServer
    journald: JournaldNamespace
    tag: str
    go: object
    stop: object
    http_sent: object
    http_answered: object
    http_skipped: object
    http_reconnects: object
    journal_sent: object
    journal_skipped: object
    procs: list


def start_rig(tmp: Path, args: argparse.Namespace) -> Rig:
    nginx = NginxServer(tmp / "nginx")
    for name in remove_stale_namespaces(NAMESPACE_PREFIX):
        log(f"soak: removed journal namespace {name} left by a killed run")
    try:
        journald = JournaldNamespace(f"{NAMESPACE_PREFIX}{os.getpid()}")
    except SetupError:
        nginx.stop()
        raise
    ctx = multiprocessing.get_context("fork")  # forked before the app is imported: small processes
    counter = lambda: ctx.Value("q", 0, lock=False)  # noqa: E731 - one writer each
    rig = Rig(nginx, journald, f"soak{os.getpid()}", ctx.Event(), ctx.Event(), counter(), counter(), counter(),
              counter(), counter(), counter(), [])
    http_rate = args.rate * (1 - args.journal_share)
    journal_rate = args.rate * args.journal_share
    if http_rate > 0:
        rig.procs.append(ctx.Process(target=http_load, name="soak-http", daemon=True, args=(
            nginx.port, http_rate, rig.go, rig.stop, rig.http_sent, rig.http_answered, rig.http_skipped,
            rig.http_reconnects)))
    if journal_rate > 0:
        rig.procs.append(ctx.Process(target=journal_load, name="soak-journal", daemon=True, args=(
            str(journald.socket_path), rig.tag, journal_rate, rig.go, rig.stop, rig.journal_sent,
            rig.journal_skipped)))
    for proc in rig.procs:
        proc.start()
    return rig


def stop_rig(rig: Rig) -> None:
    rig.stop.set()
    rig.go.set()  # a process still waiting to begin ends at once
    for proc in rig.procs:
        proc.join(timeout=15)
        if proc.is_alive():
            proc.kill()
            proc.join()
    rig.nginx.stop()
    rig.journald.stop()


class CpuMeter:
    """CPU% per role over the last window."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = roles
        self.last = {role: self._seconds(pids) for role, pids in roles.items()}
        self.first = dict(self.last)
        self.at = time.monotonic()

    @staticmethod
    def _seconds(pids: list[int]) -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    def sample(self) -> dict[str, float]:
        now = time.monotonic()
        current = {role: self._seconds(pids) for role, pids in self.roles.items()}
        dt = max(now - self.at, 1e-6)
        result = {role: round(100 * (current[role] - self.last[role]) / dt, 1) for role in self.roles}
        self.last, self.at = current, now
        return result

    def totals(self) -> dict[str, float]:
        return {role: round(self.last[role] - self.first[role], 1) for role in self.roles}


def short_path(path: str) -> str:
    for base in (str(ROOT) + "/", sys.prefix + "/lib/"):
        if path.startswith(base):
            return path[len(base):]
    return path


def allocation_growth(before, after, top: int = 15) -> list[dict]:
    """Where Python allocations grew between two tracemalloc snapshots (largest first)."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__),
              tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    rows = []
    for stat in stats[:top]:
        frames = [f"{short_path(frame.filename)}:{frame.lineno}" for frame in stat.traceback]
        rows.append({"kib": round(stat.size_diff / 1024), "count": stat.count_diff, "where": frames})
    return rows


def census(app) -> dict:
    """What the app holds, by structure (lengths), and Python's allocated blocks: where growth goes.

    Read from the event loop while the findings thread runs: lengths only, each read once."""
    import gc

    store = app.store
    tracked = gc.get_objects()
    kinds = Counter(type(o).__name__ for o in tracked)
    del tracked
    figures = {"py_blocks": sys.getallocatedblocks(), "gc_objects": sum(kinds.values()),
               "gc_types": dict(kinds.most_common(25)),
               "store_record_ids": len(store._record_seqs), "store_payload": len(store._payload)}
    feed = app.findings_feed
    if feed is not None:
        engine = feed.engine
        states = list(engine._states.values())
        evidence = [len(state.evidence) for state in states]
        figures.update(findings=len(states), evidence_ids=sum(evidence), evidence_max=max(evidence, default=0),
                       evidence_id_chars=sum(len(i) for state in states for i in state.evidence[-100:])
                       // max(1, sum(min(100, n) for n in evidence)),
                       feed_series=len(feed._series), feed_evidence_seen=len(feed._evidence_seen),
                       feed_recent=len(feed._recent_ts), feed_pending=feed.pending,
                       template_entries=len(engine.templates._entries),
                       template_access=len(engine.templates._access),
                       template_drain_keys=len(engine.templates._drain_keys),
                       miner_fast=sum(len(m._fast) for m in engine.templates._miners.values()),
                       miner_clusters=sum(len(m._drain.id_to_cluster) for m in engine.templates._miners.values()))
    return figures


def latency_figures(values: list[float]) -> dict:
    if not values:
        return {"keys": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"keys": len(values), "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1), "max_ms": round(max(values) * 1000, 1)}


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADER = (f"{'t s':>6} {'phase':<5} {'target':>6} {'wrote/s':>7} {'http/s':>6} {'jrnl/s':>6} {'seen/s':>6} "
          f"{'behind':>7} {'held':>8} {'RSS MB':>7} {'anon':>6} {'file':>5} {'keys':>4} {'p50':>4} {'p99':>4} "
          f"{'max':>5} {'cpu app':>7} {'nginx':>5} {'jrnld':>5} {'load':>5} {'load1':>5}")
LEGEND = ("columns: target = HTTP requests + journal messages asked per s; wrote/s = lines written (access log + "
          "error log + journal); http/s, jrnl/s = access-log lines, journal messages; seen/s = lines the app "
          "took in; behind = written - seen so far (in flight); held = store records; RSS, anon (heap), file "
          "(mapped files) in MB; keys p50 p99 max = keypress->repaint ms in the window; cpu = % of one core per "
          "process (load = the two generators); load1 = load average")


class Soak:
    """One run: the app following the rig's sources, sampled every ``--interval`` seconds."""

    def __init__(self, args: argparse.Namespace, rig: Rig, capacity: int) -> None:
        self.args = args
        self.rig = rig
        self.capacity = capacity
        self.access = LineCounter(rig.nginx.access_log)
        self.error = LineCounter(rig.nginx.error_log)
        self.error_before = 0
        self.seen = Seen(rig.tag, str(rig.nginx.access_log), str(rig.nginx.error_log))
        self.samples: list[dict] = []
        self.keys: list[tuple[float, str, float | None]] = []
        self.last = {"t": 0.0, "written": 0, "access": 0, "journal": 0, "seen": 0, "keys": 0}
        self.store_full_at: float | None = None
        self.snapshots: dict = {}
        self.finished = asyncio.Event()
        self.t0 = 0.0
        self.app = None
        self.cpu: CpuMeter | None = None
        self.census_at = float("-inf")  # when the last --census was taken
        self.first_census: dict[str, int] | None = None  # tracked objects by type, at the first one

    def argv(self) -> list[str]:
        nginx = self.rig.nginx
        return [str(nginx.access_log), str(nginx.error_log), "-D", str(self.rig.journald.directory),
                "--no-model", "--capacity", str(self.capacity)]

    async def run(self) -> dict:
        from alsate.tui.app import prepare

        args, rig = self.args, self.rig
        if args.trace_memory:
            tracemalloc.start(args.trace_memory)
        self.app = app = prepare(self.argv())
        ingest = app._ingest

        def counted(records, prepared) -> None:  # the live thread hands every batch to the store through here
            self.seen.add(records)
            ingest(records, prepared)

        app._ingest = counted
        timer = None
        if args.time_loop:
            from _loop_sampler import time_app_loop

            timer = time_app_loop(app)
        width, height = (int(n) for n in args.size.split("x"))
        result: dict = {"app_argv": ["alsate-tui", *self.argv()]}
        async with app.run_test(size=(width, height)):
            await self._wait_loaded()
            history = len(app.store)
            probe = KeyProbe(app, timeout=args.key_timeout)
            sampler = None
            if args.sample_slow_keys:
                from _loop_sampler import SlowKeySampler

                sampler = SlowKeySampler(probe, after=args.sample_slow_keys / 1000)
                sampler.start()
            self.cpu = CpuMeter({"app": [os.getpid()], "nginx": rig.nginx.pids(),
                                 "journald": [rig.journald.proc.pid], "load": [p.pid for p in rig.procs]})
            rig.go.set()
            self.t0 = time.monotonic()
            log(f"load started: target {args.rate:,.0f} lines/s ({args.rate * (1 - args.journal_share):,.0f} HTTP "
                f"requests + {args.rate * args.journal_share:,.0f} journal messages); app history {history} "
                f"records")
            log(LEGEND)
            log(HEADER)
            presser = asyncio.create_task(self._press_keys(probe))
            end_row = await self._load_phase()
            load_seconds = time.monotonic() - self.t0
            rig.stop.set()
            if "warm" in self.snapshots:
                result["memory_growth_by_line"] = allocation_growth(self.snapshots["warm"],
                                                                    tracemalloc.take_snapshot())
                tracemalloc.stop()
            for proc in rig.procs:
                await asyncio.to_thread(proc.join, 15)
            drain_start = time.monotonic()
            await self._drain()
            drain_row = await self._sample("drain")
            if drain_row["written"]["journal"] != drain_row["seen"]["journal"]:
                # Tell a message journald did not store from one the app missed.
                result["journal_entries_in_files"] = await asyncio.to_thread(
                    rig.journald.count_entries, journal_identifiers(rig.tag))
            self.finished.set()
            await presser
            if timer is not None:
                result["loop_times"] = timer.report(time.monotonic() - self.t0)
            if sampler is not None:
                sampler.stop()
                result["slow_key_samples"] = sampler.report(40)
            result.update(history_records=history, load_seconds=round(load_seconds, 1),
                          drain_seconds=round(time.monotonic() - drain_start, 1),
                          store_full_at_s=self.store_full_at, end_row=end_row, drain_row=drain_row,
                          cpu_seconds=self.cpu.totals(), http_reconnects=rig.http_reconnects.value,
                          app_ingested=app.ingested, counted_ingested=sum(self.seen.counts.values()))
            app.shutdown()
        result["samples"] = self.samples
        result["keys"] = [{"t": round(t, 2), "key": key, "ms": None if lat is None else round(lat * 1000, 2)}
                          for t, key, lat in self.keys]
        return result

    async def _wait_loaded(self) -> None:
        """Until the history is in the store and the follower threads have opened their sources."""
        app = self.app
        started = time.monotonic()
        while app._loading or not getattr(app.source_set, "_threads", True):
            if time.monotonic() - started > 120:
                raise SetupError("the app did not finish loading within 120 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(self.error.update)
        self.error_before = self.error.lines  # nginx's start-up notices: history, not live lines

    async def _press_keys(self, probe: KeyProbe) -> None:
        rng = random.Random(7)
        gap = self.args.key_gap
        while not self.finished.is_set():
            pressed = await probe.press()
            if pressed is not None:
                self.keys.append((time.monotonic() - self.t0, *pressed))
            await asyncio.sleep(rng.uniform(gap * 0.6, gap * 1.4))

    async def _load_phase(self) -> dict:
        """Rows every interval until the end of the load; the row at the end of the load."""
        args = self.args
        load_end = self.t0 + args.minutes * 60
        next_at = self.t0 + args.interval
        while time.monotonic() < load_end:
            await asyncio.sleep(max(0.0, min(next_at, load_end) - time.monotonic()))
            if time.monotonic() >= next_at - 0.01:
                await self._sample("warm" if time.monotonic() - self.t0 < args.warmup else "load")
                next_at += args.interval
        if self.samples and self.samples[-1]["t"] >= args.minutes * 60 - 1:
            return self.samples[-1]
        return await self._sample("load")

    async def _drain(self) -> None:
        """The reorder window, the last batches and nginx's closing lines reach the app: wait for them."""
        start = steady_since = time.monotonic()
        last_seen = -1
        while time.monotonic() - start < self.args.drain:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(self.access.update)
            await asyncio.to_thread(self.error.update)
            written, counts = self._written(), self.seen.counts
            if time.monotonic() - start > 2 and all(counts[name] >= written[name] for name in written):
                return
            total = sum(counts[name] for name in written)
            if total != last_seen:
                steady_since, last_seen = time.monotonic(), total
            elif time.monotonic() - steady_since > 15:
                return  # nothing arrived for 15 s: what is missing is lost

    def _written(self) -> dict[str, int]:
        return {"access": self.access.lines, "error": self.error.lines - self.error_before,
                "journal": self.rig.journal_sent.value}

    async def _sample(self, phase: str) -> dict:
        args, rig, app, last = self.args, self.rig, self.app, self.last
        await asyncio.to_thread(self.access.update)
        await asyncio.to_thread(self.error.update)
        now = time.monotonic() - self.t0
        dt = max(now - last["t"], 1e-6)
        wrote = self._written()
        seen = {name: self.seen.counts[name] for name in wrote}
        total_written, total_seen = sum(wrote.values()), sum(seen.values())
        window = self.keys[last["keys"]:]
        if self.store_full_at is None and app.store.dropped:
            self.store_full_at = round(now, 1)
        memory = memory_bytes()
        row = {
            "t": round(now, 1), "phase": phase,
            "wrote_per_s": round((total_written - last["written"]) / dt),
            "http_per_s": round((wrote["access"] - last["access"]) / dt),
            "journal_per_s": round((wrote["journal"] - last["journal"]) / dt),
            "seen_per_s": round((total_seen - last["seen"]) / dt),
            "written": wrote, "seen": seen, "other_seen": self.seen.counts["other"],
            "behind": total_written - total_seen, "held": len(app.store), "dropped": app.store.dropped,
            "rss_mb": round(memory["rss"] / 2**20, 1), "anon_mb": round(memory["anon"] / 2**20, 1),
            "file_mb": round(memory["file"] / 2**20, 1),
            "findings_pending": app.findings_feed.pending if app.findings_feed else 0,
            "http_sent": rig.http_sent.value, "http_answered": rig.http_answered.value,
            "http_skipped": rig.http_skipped.value, "journal_skipped": rig.journal_skipped.value,
            "journal_disk_mb": round(rig.journald.disk_bytes() / 2**20, 1),
            "latency": latency_figures([args.key_timeout if lat is None else lat for _, _, lat in window]),
            "misses": sum(1 for _, _, lat in window if lat is None),
            "cpu_pct": self.cpu.sample(), "load1": round(os.getloadavg()[0], 2),
        }
        if args.census and now - self.census_at >= args.census:
            self.census_at = now
            row["census"] = census(app)
            log("census   " + " ".join(f"{k}={v:,}" for k, v in row["census"].items() if k != "gc_types"))
            types, first = row["census"]["gc_types"], self.first_census
            if first is None:
                self.first_census = types
            else:
                change = sorted(((n - first.get(k, 0), k) for k, n in types.items()), reverse=True)[:10]
                log("census   tracked objects by type, change since the first census: "
                    + " ".join(f"{k}{d:+,}" for d, k in change))
        last.update(t=now, written=total_written, access=wrote["access"], journal=wrote["journal"],
                    seen=total_seen, keys=len(self.keys))
        self.samples.append(row)
        if args.trace_memory and phase == "load" and "warm" not in self.snapshots:
            self.snapshots["warm"] = tracemalloc.take_snapshot()
        self._print_row(row)
        return row

    def _print_row(self, row: dict) -> None:
        lat, cpu = row["latency"], row["cpu_pct"]
        target = 0 if row["phase"] == "drain" else self.args.rate
        log(f"{row['t']:>6.0f} {row['phase']:<5} {target:>6.0f} {row['wrote_per_s']:>7,} {row['http_per_s']:>6,} "
            f"{row['journal_per_s']:>6,} {row['seen_per_s']:>6,} {row['behind']:>7,} {row['held']:>8,} "
            f"{row['rss_mb']:>7.1f} {row['anon_mb']:>6.0f} {row['file_mb']:>5.0f} {lat['keys']:>4} "
            f"{fmt_ms(lat['p50_ms']):>4} {fmt_ms(lat['p99_ms']):>4} {fmt_ms(lat['max_ms']):>5} "
            f"{cpu['app']:>7.0f} {cpu['nginx']:>5.0f} {cpu['journald']:>5.0f} {cpu['load']:>5.0f} "
            f"{row['load1']:>5.2f}")


def growth_of(times: list[float], mb: list[float]) -> dict:
    """From the first sample to the last: MB, growth %, and the least-squares trend in MB/min."""
    xs = [t / 60 for t in times]
    mx, my = sum(xs) / len(xs), sum(mb) / len(mb)
    slope = (sum((x - mx) * (y - my) for x, y in zip(xs, mb, strict=True))
             / max(sum((x - mx) ** 2 for x in xs), 1e-9))
    return {"start_mb": mb[0], "end_mb": mb[-1], "growth_pct": round(100 * (mb[-1] - mb[0]) / max(mb[0], 1e-9), 1),
            "trend_mb_per_min": round(slope, 2)}


def summarize(args: argparse.Namespace, capacity: int, run: dict, load_start: tuple) -> dict:
    samples = run["samples"]
    load_rows = [row for row in samples if row["phase"] != "drain"]
    end = run["end_row"]
    drain = run["drain_row"]
    warm = next((row for row in load_rows if row["t"] >= args.warmup), None)
    after = [row for row in load_rows if row["t"] >= args.warmup]
    summary: dict = {}
    wrote, seen = drain["written"], drain["seen"]
    achieved = (end["written"]["access"] + end["written"]["journal"]) / max(end["t"], 1e-6)
    summary["rate"] = {
        "target_lines_per_s": args.rate, "achieved_lines_per_s": round(achieved),
        "achieved_pct": round(100 * achieved / args.rate, 1),
        "http_requests_per_s": round(end["written"]["access"] / end["t"]),
        "journal_messages_per_s": round(end["written"]["journal"] / end["t"]),
        "http_skipped": end["http_skipped"], "journal_behind_schedule": end["journal_skipped"],
        "load_seconds": run["load_seconds"],
    }
    lost = {name: wrote[name] - seen[name] for name in wrote}
    summary["lines"] = {"written": wrote, "seen": seen, "lost": lost, "drain_seconds": run["drain_seconds"],
                        "other_records_seen": drain["other_seen"], "history_records": run["history_records"],
                        "app_ingested": run["app_ingested"], "counted_ingested": run["counted_ingested"]}
    if "journal_entries_in_files" in run:
        summary["lines"]["journal_entries_in_files"] = run["journal_entries_in_files"]
    memory: dict = {"capacity": capacity, "store_full_at_s": run["store_full_at_s"], "warmup_s": args.warmup,
                    "max_rss_mb": max(row["rss_mb"] for row in samples)}
    if warm is not None and len(after) >= 2:
        memory["after_warmup_at_s"] = warm["t"]
        for part in ("rss", "anon", "file"):
            memory[part] = growth_of([row["t"] for row in after], [row[f"{part}_mb"] for row in after])
        if run["store_full_at_s"] is None or run["store_full_at_s"] > warm["t"]:
            memory["note"] = "the store was not full at the end of the warm-up: the growth includes its fill"
    else:
        memory["note"] = "the run ended before the warm-up did: no growth measured"
    summary["memory"] = memory
    values = [k["ms"] if k["ms"] is not None else args.key_timeout * 1000 for k in run["keys"]]
    overall = latency_figures([v / 1000 for v in values])
    windows = [row["latency"]["p99_ms"] for row in samples if row["latency"]["p99_ms"] is not None]
    overall.update(misses=sum(1 for k in run["keys"] if k["ms"] is None),
                   worst_window_p99_ms=max(windows, default=None),
                   per_key_p50_ms={key: round(percentile([k["ms"] for k in run["keys"]
                                                          if k["key"] == key and k["ms"] is not None], 0.5), 1)
                                   for key in sorted({k["key"] for k in run["keys"]})})
    summary["latency"] = overall
    summary["cpu_seconds"] = run["cpu_seconds"]
    summary["load_average"] = {"start": load_start, "end": tuple(round(x, 2) for x in os.getloadavg()),
                               "cpus": os.cpu_count()}
    summary["journal_disk_mb"] = end["journal_disk_mb"]
    growth = memory["rss"]["growth_pct"] if "rss" in memory else None
    summary["verdict"] = {
        "rss_growth": None if growth is None else growth <= TARGET_GROWTH_PCT,
        "no_lost_line": all(v == 0 for v in lost.values()),
        "latency_p99": overall["p99_ms"] is not None and overall["p99_ms"] <= TARGET_P99_MS and not
        overall["misses"],
        "rate_reached": achieved >= 0.95 * args.rate,
    }
    return summary


def print_summary(args: argparse.Namespace, summary: dict, run_growth: list | None = None) -> None:
    rate, lines, memory, latency = summary["rate"], summary["lines"], summary["memory"], summary["latency"]
    verdict = summary["verdict"]
    mark = {True: "PASS", False: "FAIL", None: "n/a"}
    log()
    log(f"rate     target {rate['target_lines_per_s']:,} lines/s, achieved {rate['achieved_lines_per_s']:,} "
        f"({rate['achieved_pct']}%): {rate['http_requests_per_s']:,} HTTP requests/s + "
        f"{rate['journal_messages_per_s']:,} journal messages/s over {rate['load_seconds']} s; "
        f"HTTP requests not sent (nginx behind) {rate['http_skipped']:,}"
        + ("" if verdict["rate_reached"] else "  << target NOT reached: the figures below are for the achieved "
           "rate"))
    log(f"lines    written {lines['written']}, seen {lines['seen']} after a {lines['drain_seconds']} s drain; "
        f"lost {lines['lost']}  [{mark[verdict['no_lost_line']]}: no lost line]")
    if "journal_entries_in_files" in lines:
        log(f"lines    journal entries in the journal files (journalctl): {lines['journal_entries_in_files']} "
            f"(messages journald stored; fewer than sent = lost before the app)")
    if lines["app_ingested"] != lines["counted_ingested"]:
        log(f"lines    NOTE: the app's own live-record counter says {lines['app_ingested']:,}, the bench's "
            f"{lines['counted_ingested']:,}")
    log(f"memory   store capacity {memory['capacity']:,} records, full at t={memory['store_full_at_s']} s; "
        f"max RSS {memory['max_rss_mb']} MB")
    if "rss" in memory:
        for part, label in (("rss", "RSS "), ("anon", " anon"), ("file", " file")):
            figures = memory[part]
            log(f"memory   {label} {figures['start_mb']:>7.1f} MB at t={memory['after_warmup_at_s']:.0f} s (end of "
                f"warm-up) -> {figures['end_mb']:>7.1f} MB at the end: {figures['growth_pct']:+6.1f}% (trend "
                f"{figures['trend_mb_per_min']:+.2f} MB/min)"
                + (f"  [{mark[verdict['rss_growth']]}: <= {TARGET_GROWTH_PCT:.0f}%]" if part == "rss" else ""))
        log("memory   (anon = heap, where a leak shows; file = mapped files, e.g. the journal files sd_journal "
            "reads via mmap)")
    if memory.get("note"):
        log(f"memory   NOTE: {memory['note']}")
    log(f"latency  {latency['keys']} keys: p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, max "
        f"{latency['max_ms']} ms, no repaint within {args.key_timeout:.0f} s: {latency['misses']}; worst window "
        f"p99 {latency['worst_window_p99_ms']} ms  [{mark[verdict['latency_p99']]}: p99 <= {TARGET_P99_MS:.0f} ms]")
    log(f"latency  per key p50 (ms): {latency['per_key_p50_ms']}")
    for row in run_growth or []:
        log(f"growth   {row['kib']:>+8,} KiB {row['count']:>+8,} blocks  {' <- '.join(reversed(row['where']))}")
    log(f"cpu      seconds over the run: {summary['cpu_seconds']}; load average {summary['load_average']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of load (default 30)")
    parser.add_argument("--rate", type=float, default=5000.0, help="lines/s in all (default 5000)")
    parser.add_argument("--journal-share", type=float, default=0.5,
                        help="share of --rate sent as journal messages, the rest as HTTP requests (default 0.5)")
    parser.add_argument("--capacity", type=int, help=f"store capacity (default: {FILL_SECONDS} s of --rate)")
    parser.add_argument("--warmup", type=float,
                        help="seconds before RSS is taken as the baseline (default: max(120, store fill + 60))")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between rows (default 10)")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds the app may take to catch up at the end")
    parser.add_argument("--key-gap", type=float, default=0.5, help="mean seconds between keys (default 0.5)")
    parser.add_argument("--key-timeout", type=float, default=2.0)
    parser.add_argument("--size", default="120x40", help="terminal size (default 120x40)")
    parser.add_argument("--trace-memory", type=int, default=0, metavar="FRAMES",
                        help="diagnose growth: tracemalloc with FRAMES frames, top growth from the end of warm-up "
                             "to the end by traceback (slows the app: latency figures do not count)")
    parser.add_argument("--sample-slow-keys", type=float, default=0, metavar="MS",
                        help="diagnose the key tail: sample the event loop's stack while a key has waited over MS ms "
                             "(bench/_loop_sampler.py); the functions seen most are printed at the end")
    parser.add_argument("--time-loop", action="store_true",
                        help="diagnose the key tail: time the app's main event-loop callbacks, frames and GC")
    parser.add_argument("--census", type=float, default=0, metavar="SECONDS",
                        help="diagnose growth: every SECONDS, the lengths of the app's structures (store, findings, "
                             "templates) and Python's allocated blocks (gc.get_objects() holds the loop ~0.2 s)")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/out/soak-DATE.json)")
    args = parser.parse_args()
    if args.rate <= 0 or args.minutes <= 0 or not 0 <= args.journal_share <= 1:
        print("soak: --rate and --minutes must be positive, --journal-share within 0..1", file=sys.stderr)
        return 2
    capacity = args.capacity or max(10_000, int(args.rate * FILL_SECONDS))
    fill = capacity / args.rate
    if args.warmup is None:
        args.warmup = max(120.0, fill + 60)
    load_start = tuple(round(x, 2) for x in os.getloadavg())
    log(f"soak: {args.minutes:g} min at {args.rate:,.0f} lines/s; store capacity {capacity:,} records fills in "
        f"~{fill:.0f} s at that rate; RSS growth is measured from t={args.warmup:.0f} s (end of warm-up), once the "
        f"store only evicts, so it shows a leak, not the fill. {os.cpu_count()} CPUs, load average {load_start}")
    if args.warmup < fill:
        log("soak: WARNING: --warmup is shorter than the store's fill time: the growth will include the fill")
    tmp = Path(tempfile.mkdtemp(prefix="alsate-soak-"))
    for name in ("CONFIG", "CACHE", "STATE"):  # the user's config and state neither change nor see the run
        os.environ[f"ALSATE_{name}_DIR"] = str(tmp / name.lower())
    rig = None

    def interrupted(number: int, _frame) -> None:
        raise KeyboardInterrupt(f"signal {number}")  # unwinds through the cleanup below

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    try:
        rig = start_rig(tmp, args)
        run = asyncio.run(Soak(args, rig, capacity).run())
    except SetupError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted; services stopped, nothing written", file=sys.stderr)
        return 130
    finally:
        if rig is not None:
            stop_rig(rig)
        shutil.rmtree(tmp, ignore_errors=True)
    summary = summarize(args, capacity, run, load_start)
    print_summary(args, summary, run.get("memory_growth_by_line"))
    for row in run.get("loop_times", []):
        log(f"loop     {row['name']:<38} {row['count']:>7,} ({row['per_s']:>6}/s) busy {row['busy_pct']:>5}%  "
            f"p50 {row['p50_ms']:>7} p99 {row['p99_ms']:>7} max {row['max_ms']:>8} ms")
    if "slow_key_samples" in run:
        report = run["slow_key_samples"]
        log(f"slow keys: {report['samples']} stack samples while a key waited over {args.sample_slow_keys:g} ms; "
            "% of samples with the function on the stack / at its top:")
        for (where, pct), (leaf, leaf_pct) in zip(report["inclusive"], report["leaf"] + [("", 0)] * 40,
                                                  strict=False):
            log(f"  {pct:5.1f}%  {where:<60} {leaf_pct:5.1f}%  {leaf}")
    out = args.out or OUT / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                               "capacity": capacity, "summary": summary, **run}, indent=1))
    log(f"json     {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
