"""What the event loop was doing while a key waited: stack samples of the loop's thread, taken only
while a :class:`KeyProbe` key has been waiting longer than ``after`` seconds.

A thread wakes every ``every`` seconds (it needs the GIL, so it samples between the loop's bytecodes, as
a sampling profiler does) and counts the loop thread's stack. :meth:`report` gives the functions seen in
most samples (inclusive) and at the top of the stack (exclusive), alsate's and Textual's frames named
by file and function.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOTS = ("alsate", "textual", "rich", "asyncio")


def _where(code) -> str:
    path = Path(code.co_filename)
    parts = path.parts
    for root in ROOTS:
        if root in parts:
            i = len(parts) - 1 - parts[::-1].index(root)
            return f"{'/'.join(parts[i:])}:{code.co_name}"
    if "main" in parts:  # the checkout: engine/, tui/
        i = len(parts) - 1 - parts[::-1].index("main")
        return f"{'/'.join(parts[i + 1:])}:{code.co_name}"
    return f"{path.name}:{code.co_name}"


class SlowKeySampler:
    def __init__(self, probe, after: float = 0.05, every: float = 0.002) -> None:
        self.probe = probe
        self.after = after
        self.every = every
        self.loop_thread = threading.get_ident()
        self.stacks: Counter[tuple[str, ...]] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-key sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        probe, loop_thread = self.probe, self.loop_thread
        while not self._stop.wait(self.every):
            if probe._check is None or time.perf_counter() - probe._t0 < self.after:
                continue
            frame = sys._current_frames().get(loop_thread)
            stack = []
            while frame is not None and len(stack) < 60:
                stack.append(_where(frame.f_code))
                frame = frame.f_back
            self.stacks[tuple(stack)] += 1
            self.samples += 1

    def report(self, top: int = 25) -> dict:
        inclusive: Counter[str] = Counter()
        leaf: Counter[str] = Counter()
        for stack, n in self.stacks.items():
            for where in set(stack):
                if not where.startswith(("asyncio/", "soak.py", "events.py", "runners.py")):
                    inclusive[where] += n
            if stack:
                leaf[stack[0]] += n
        total = max(self.samples, 1)
        return {"samples": self.samples,
                "inclusive": [(where, round(100 * n / total, 1)) for where, n in inclusive.most_common(top)],
                "leaf": [(where, round(100 * n / total, 1)) for where, n in leaf.most_common(top)]}


class LoopTimer:
    """Time spent in the event loop's main callbacks (and in garbage collection, any thread): count,
    total, p50 / p99 / max per name. ``wrap(obj, attr, name)`` times a method in place."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._gc_start = 0.0

    def wrap(self, obj, attr: str, name: str) -> None:
        original = getattr(obj, attr)
        times = self.times.setdefault(name, [])

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                times.append(time.perf_counter() - start)

        setattr(obj, attr, timed)

    def watch_gc(self) -> None:
        import gc

        def callback(phase: str, info: dict) -> None:
            if phase == "start":
                self._gc_start = time.perf_counter()
            else:
                self.times.setdefault(f"gc gen {info['generation']}", []).append(
                    time.perf_counter() - self._gc_start)

        gc.callbacks.append(callback)

    def report(self, seconds: float) -> list[dict]:
        rows = []
        for name, values in sorted(self.times.items()):
            if not values:
                continue
            ordered = sorted(values)
            rows.append({"name": name, "count": len(values), "per_s": round(len(values) / seconds, 1),
                         "busy_pct": round(100 * sum(values) / seconds, 1),
                         "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
                         "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
                         "max_ms": round(1000 * ordered[-1], 2)})
        return rows


def time_app_loop(app) -> LoopTimer:
    """A :class:`LoopTimer` on what an AlsateApp's event loop runs: live batches, the tick, findings
    updates, frames, and every garbage collection."""
    from textual.screen import Screen

    timer = LoopTimer()
    timer.wrap(app, "_ingest", "app._ingest (live batch)")
    timer.wrap(app, "_tick", "app._tick (10 Hz)")
    timer.wrap(type(app), "on_findings_updated", "app.on_findings_updated")
    timer.wrap(Screen, "_compositor_refresh", "screen._compositor_refresh (frame)")
    timer.watch_gc()
    return timer
