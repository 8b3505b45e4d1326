"""Per-key sliding windows that fire past a threshold (the detectors' counting core)."""

from __future__ import annotations

from collections import deque


class _Key:
    __slots__ = ("events", "values", "firing", "last", "weight")

    def __init__(self) -> None:
        self.events: deque[tuple[float, str, str, int]] = deque()
        self.weight = 0
        self.values: dict[str, int] = {}
        self.firing = False
        self.last = 0.0


class Burst:
    """Fire when a key gathers ``threshold`` events (or distinct values) within ``window`` seconds.

    ``add`` returns ``None`` below the threshold. When the threshold is crossed
    it returns every pending ``(record_id, value)`` of the window, so the
    finding gets all of its evidence, not just the record that tipped it; while
    the key keeps firing it returns just the new event. A key stops firing after
    ``window`` seconds without events, and must cross the threshold again.

    ``weight`` lets one record stand for several events (``message repeated 5
    times``); after each firing ``add``, ``hit_weight`` is the total weight of
    the events it returned.
    """

    def __init__(self, threshold: int, window: float, *, distinct: bool = False, max_keys: int = 200_000) -> None:
        self.threshold = threshold
        self.window = window
        self.distinct = distinct
        self.max_keys = max_keys
        self._keys: dict[str, _Key] = {}
        self._adds = 0
        self.hit_weight = 0

    def add(self, key: str, ts: float, record_id: str, value: str = "",
            weight: int = 1) -> list[tuple[str, str]] | None:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        elif ts - state.last > self.window:
            state.firing = False
            state.events.clear()
            state.values.clear()
            state.weight = 0
        if ts > state.last:
            state.last = ts
        self._adds += 1
        if self._adds >= 50_000 or len(self._keys) > self.max_keys:
            self.sweep(ts)
        if state.firing:
            self.hit_weight = weight
            return [(record_id, value)]
        events = state.events
        values = state.values
        events.append((ts, record_id, value, weight))
        state.weight += weight
        values[value] = values.get(value, 0) + 1
        horizon = ts - self.window
        while events and events[0][0] < horizon:
            _, _, old, w = events.popleft()
            state.weight -= w
            left = values[old] - 1
            if left:
                values[old] = left
            else:
                del values[old]
        size = len(values) if self.distinct else state.weight
        if size < self.threshold:
            return None
        return self._fire(state)

    def _fire(self, state: _Key) -> list[tuple[str, str]]:
        state.firing = True
        self.hit_weight = state.weight
        pending = [(rid, val) for _, rid, val, _ in state.events]
        state.events.clear()
        state.values.clear()
        state.weight = 0
        return pending

    def force(self, key: str, ts: float, record_id: str, value: str = "") -> list[tuple[str, str]]:
        """Add an event and fire now, whatever the count (returns what ``add`` returns on firing)."""
        hit = self.add(key, ts, record_id, value)
        if hit is not None:
            return hit
        return self._fire(self._keys[key])

    def reset(self, key: str) -> None:
        """Forget a key (a detector that vetoed a firing starts it over)."""
        self._keys.pop(key, None)

    def firing(self, key: str) -> bool:
        state = self._keys.get(key)
        return state is not None and state.firing

    def pending(self, key: str) -> int:
        """Events (or distinct values) waiting in the key's window."""
        state = self._keys.get(key)
        if state is None:
            return 0
        return len(state.values) if self.distinct else state.weight

    def sweep(self, now: float) -> None:
        """Forget keys idle for longer than the window (bounded memory)."""
        self._adds = 0
        horizon = now - self.window
        stale = [k for k, s in self._keys.items() if s.last < horizon]
        for k in stale:
            del self._keys[k]
        if len(self._keys) > self.max_keys:
            # Still too many live keys: drop the quietest non-firing ones.
            quiet = sorted((s.last, k) for k, s in self._keys.items() if not s.firing)
            for _, k in quiet[: len(self._keys) - self.max_keys]:
                del self._keys[k]

    def __len__(self) -> int:
        return len(self._keys)
