"""Keypress-to-repaint latency of a running AlsateApp (the method of bench/tui_latency.py, per key).

A key is posted to the app as the terminal driver would post it; the latency
runs from posting it to the first frame composed (``App._display``) after the
app's state shows that key's effect. Each key has its own test of "its effect
is visible", so a frame that only shows new live lines (the cursor moving with
the tail while following) is not taken for the key's repaint:

- ``3`` / ``4``: the filter's levels are 0-3 / 0-4;
- ``up`` / ``pageup``: following stopped, or the cursor's record is older;
- ``down`` / ``pagedown``: the cursor's record is newer (only pressed while paused);
- ``end``: following again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

#: The cycle of keys: scroll back a little, page, follow again, switch the priority filter.
CYCLE = ("up", "up", "down", "pageup", "pagedown", "up", "end", "3", "4")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


class KeyProbe:
    """Presses keys in :data:`CYCLE` and times each one's repaint."""

    def __init__(self, app, timeout: float = 2.0) -> None:
        self.app = app
        self.timeout = timeout
        self.turn = 0
        self._check = None
        self._t0 = 0.0
        self._latency: float | None = None
        self._done = asyncio.Event()
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if renderable is not None and self._check is not None and self._check():
                self._latency = time.perf_counter() - self._t0
                self._check = None
                self._done.set()

        app._display = display

    def _state(self) -> tuple[int | None, bool, frozenset[int]]:
        log = self.app.log_pane
        return log.cursor_seq(), log.follow, self.app.filters.levels

    def _next_key(self) -> str:
        key = CYCLE[self.turn % len(CYCLE)]
        self.turn += 1
        log = self.app.log_pane
        if key in ("3", "4"):
            return "3" if self.app.filters.levels != frozenset(range(4)) else "4"
        if key in ("down", "pagedown") and (log.follow or log.cursor >= log.count - 1):
            return "up"
        if key == "end" and log.follow:
            return "pageup"
        if key in ("up", "pageup") and not log.follow and log.cursor <= 0:
            return "end"
        return key

    def _effect(self, key: str):
        seq, follow, _ = self._state()
        log, app = self.app.log_pane, self.app
        if key == "3":
            return lambda: app.filters.levels == frozenset(range(4))
        if key == "4":
            return lambda: app.filters.levels == frozenset(range(5))
        if key == "end":
            return lambda: log.follow
        if key in ("up", "pageup"):
            if follow:
                return lambda: not log.follow
            return lambda: (log.cursor_seq() or 0) < (seq or 0)
        return lambda: (log.cursor_seq() or 0) > (seq or 0)

    async def press(self) -> tuple[str, float | None] | None:
        """One key; its latency in seconds, or None when no repaint showed it within the timeout.

        Returns None without pressing while the log pane shows fewer than two lines (no key has an effect).
        """
        from textual import events

        if self.app.log_pane.count < 2:
            return None
        key = self._next_key()
        self._done.clear()
        self._latency = None
        self._t0 = time.perf_counter()
        self._check = self._effect(key)
        self.app.post_message(events.Key(key, key if len(key) == 1 else None))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._done.wait(), self.timeout)
        self._check = None
        return key, self._latency
