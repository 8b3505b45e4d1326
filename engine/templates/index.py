"""The templates view: template -> count -> example records, with rate change.

Fed one record at a time. Unstructured messages (journal, syslog, error logs) go
through a per-host Drain miner; access-log records get their structured
template (method + normalised path + status class).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alsate.engine.records import Record, SourceKind
from alsate.engine.templates.access import access_template
from alsate.engine.templates.miner import MinerConfig, TemplateMiner, state_path
from alsate.engine.templates.rate import MinuteRate

if TYPE_CHECKING:
    import numpy as np

#: Kinds whose records carry their fields: no Drain for them.
STRUCTURED_KINDS = frozenset({SourceKind.NGINX_ACCESS})


@dataclass(frozen=True)
class TemplateRef:
    """What ``TemplateIndex.feed`` says about one record."""

    key: str
    template: str


@dataclass(frozen=True)
class TemplateStat:
    """One row of the templates view."""

    key: str
    template: str
    structured: bool
    count: int
    first_seen: float
    last_seen: float
    #: The first few record ids (``Record.id``), oldest first.
    examples: tuple[str, ...]
    #: Events in the current minute, and the rolling per-minute baseline.
    recent: int
    baseline: float
    #: log2((recent + 1) / (baseline + 1)).
    rate_change: float
    #: The most severe effective priority seen (lowest number).
    priority: int

    def to_json(self) -> dict:
        return {
            "key": self.key, "template": self.template, "structured": self.structured, "count": self.count,
            "first_seen": self.first_seen, "last_seen": self.last_seen, "examples": list(self.examples),
            "recent": self.recent, "baseline": round(self.baseline, 3), "rate_change": round(self.rate_change, 3),
            "priority": self.priority,
        }


class _Entry:
    __slots__ = ("template", "miner", "cluster_id", "count", "first", "last", "examples", "rate", "priority")

    def __init__(self, template: str, miner: TemplateMiner | None, cluster_id: int, ts: float) -> None:
        self.template = template
        self.miner = miner
        self.cluster_id = cluster_id
        self.count = 0
        self.first = ts
        self.last = ts
        self.examples: list[str] = []
        self.rate = MinuteRate()
        self.priority = 7


class TemplateIndex:
    """Template statistics over a stream of records.

    ``persist`` keeps each host's Drain state under the cache folder (see
    ``miner.py``); ``cache_dir`` overrides that folder.
    """

    def __init__(self, *, persist: bool = True, cache_dir: Path | None = None, examples: int = 5,
                 config: MinerConfig | None = None) -> None:
        self.persist = persist
        self.cache_dir = cache_dir
        self.max_examples = examples
        self.config = config or MinerConfig()
        self._miners: dict[str, TemplateMiner] = {}
        self._entries: dict[str, _Entry] = {}
        #: (method, path, status) of access records -> (key, entry): the structured fast path.
        self._access: dict[tuple, tuple[str, _Entry]] = {}
        #: (host, Drain cluster id) -> (key, entry)
        self._drain_keys: dict[tuple[str, int], tuple[str, _Entry]] = {}
        self.now = 0.0

    def miner(self, host: str) -> TemplateMiner:
        """The Drain miner of ``host`` (created, and its saved state loaded, on first use)."""
        miner = self._miners.get(host)
        if miner is None:
            path = state_path(host, self.cache_dir) if self.persist else None
            miner = TemplateMiner(host, self.config, persist=self.persist, path=path)
            self._miners[host] = miner
        return miner

    def feed(self, record: Record) -> str:
        """Account one record; returns its template key (``template(key)`` gives the text)."""
        ts = record.ts
        if record.kind in STRUCTURED_KINDS:
            extra = record.extra
            fast = (extra.get("method"), extra.get("path"), extra.get("status")) if extra else None
            hit = self._access.get(fast)
            if hit is None:
                template = access_template(extra)
                key = "access:" + template
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._entries[key] = _Entry(template, None, 0, ts)
                if len(self._access) >= 100_000:
                    self._access.clear()
                self._access[fast] = hit = (key, entry)
            key, entry = hit
        else:
            miner = self._miners.get(record.host) or self.miner(record.host)
            cid = miner.add_id(record.message)
            hit = self._drain_keys.get((record.host, cid))
            if hit is None:
                key = f"{record.host}/{cid}"
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._entries[key] = _Entry(miner.template(cid) or "", miner, cid, ts)
                self._drain_keys[(record.host, cid)] = hit = (key, entry)
            key, entry = hit
        entry.count += 1
        if ts > entry.last:
            entry.last = ts
            if ts > self.now:
                self.now = ts
        elif ts < entry.first:
            entry.first = ts
        if entry.count <= self.max_examples:
            entry.examples.append(record.id)
        if record.effective < entry.priority:
            entry.priority = record.effective
        rate = entry.rate
        if rate.minute == int(ts // 60):
            rate.count += 1
        else:
            rate.add(ts)
        return key

    def feed_access(self, fields: Sequence[Mapping], group: np.ndarray, first_of: np.ndarray, ts: np.ndarray,
                    effective: np.ndarray, record_id: Callable[[int], str]) -> tuple[list[str], np.ndarray]:
        """:meth:`feed` for a run of access-log records given column-wise, with the same result.

        Record ``i`` has the fields ``fields[group[i]]`` (``method``, ``path``, ``status``), time
        ``ts[i]``, effective priority ``effective[i]`` and id ``record_id(i)``; group ``g``'s first
        record is ``first_of[g]``. Returns ``(keys, entry)``: record ``i``'s template key is
        ``keys[entry[i]]``.
        """
        import numpy as np  # here: the terminal app paints before numpy is loaded

        n = len(group)
        # One entry per distinct template, created in the order of its first record.
        keys: list[str] = []
        entries: list[_Entry] = []
        created: list[bool] = []
        number: dict[str, int] = {}
        entry_of = np.empty(len(fields), dtype=np.int64)
        for g in np.argsort(first_of, kind="stable").tolist():
            extra = fields[g]
            fast = (extra.get("method"), extra.get("path"), extra.get("status"))
            hit = self._access.get(fast)
            if hit is None:
                template = access_template(extra)
                key = "access:" + template
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._entries[key] = _Entry(template, None, 0, float(ts[first_of[g]]))
                    created.append(True)
                    entries.append(entry)
                    keys.append(key)
                    number[key] = len(keys) - 1
                if len(self._access) >= 100_000:
                    self._access.clear()
                self._access[fast] = hit = (key, entry)
            key, entry = hit
            if key not in number:
                entries.append(entry)
                keys.append(key)
                created.append(False)
                number[key] = len(keys) - 1
            entry_of[g] = number[key]
        entry_index = entry_of[group]
        # Each entry's records, in order (a stable sort of small numbers is a radix sort).
        order = np.argsort(entry_index.astype(np.uint16) if len(keys) < 65536 else entry_index, kind="stable")
        sorted_entry = entry_index[order]
        sorted_ts = ts[order]
        starts = np.flatnonzero(np.r_[True, sorted_entry[1:] != sorted_entry[:-1]])
        ends = np.r_[starts[1:], n]
        highest = np.maximum.reduceat(sorted_ts, starts).tolist()
        lowest = np.minimum.reduceat(sorted_ts, starts).tolist()
        most_severe = np.minimum.reduceat(effective[order], starts).tolist()
        # A MinuteRate rolls over at each record whose minute is past every minute before it.
        minutes = (sorted_ts // 60).astype(np.int64)
        rolls = _roll_points(minutes, starts, ends,
                             np.array([entries[e].rate.minute for e in sorted_entry[starts].tolist()], dtype=np.int64))
        roll_at = np.searchsorted(rolls, starts).tolist()
        rolls_list, minutes_list = rolls.tolist(), minutes[rolls].tolist()
        now = self.now
        for j, (e, start, end) in enumerate(zip(sorted_entry[starts].tolist(), starts.tolist(), ends.tolist(),
                                                 strict=True)):
            entry = entries[e]
            before = entry.count
            entry.count = before + end - start
            if created[e]:  # made by its first record, whose time does not move ``now``
                later = float(sorted_ts[start + 1:end].max()) if end - start > 1 else entry.last
                if later > entry.last:
                    entry.last = later
                    if later > now:
                        now = later
            elif highest[j] > entry.last:
                entry.last = highest[j]
                if highest[j] > now:
                    now = highest[j]
            if lowest[j] < entry.first:
                entry.first = lowest[j]
            if before < self.max_examples:
                wanted = order[start:min(end, start + self.max_examples - before)].tolist()
                entry.examples.extend(record_id(i) for i in wanted)
            if most_severe[j] < entry.priority:
                entry.priority = most_severe[j]
            rate = entry.rate
            previous = start
            k = roll_at[j]
            while k < len(rolls_list) and rolls_list[k] < end:
                rate.count += rolls_list[k] - previous
                rate._roll(minutes_list[k])
                previous = rolls_list[k]
                k += 1
            rate.count += end - previous
        self.now = now
        return keys, entry_index

    def ref(self, record: Record) -> TemplateRef:
        """``feed`` plus the template text."""
        key = self.feed(record)
        return TemplateRef(key, self.template(key) or "")

    def rate(self, key: str) -> MinuteRate | None:
        entry = self._entries.get(key)
        return entry.rate if entry is not None else None

    def template(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.miner is not None:
            return entry.miner.template(entry.cluster_id) or entry.template
        return entry.template

    def examples(self, key: str) -> tuple[str, ...]:
        entry = self._entries.get(key)
        return tuple(entry.examples) if entry is not None else ()

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self, *, sort: str = "count", limit: int | None = None, max_priority: int | None = None,
              now: float | None = None) -> list[TemplateStat]:
        """The view: rows sorted by ``count`` or ``rate_change`` (largest first).

        ``max_priority`` keeps templates whose most severe record is at most that
        priority (4 gives the ALSATE policy's view).
        """
        if sort not in ("count", "rate_change", "last_seen"):
            raise ValueError(f"unknown sort {sort!r}: count, rate_change or last_seen")
        at = self.now if now is None else now
        rows = []
        for key, e in self._entries.items():
            if max_priority is not None and e.priority > max_priority:
                continue
            rows.append(TemplateStat(
                key=key, template=self.template(key) or e.template, structured=e.miner is None, count=e.count,
                first_seen=e.first, last_seen=e.last, examples=tuple(e.examples), recent=e.rate.current(at),
                baseline=e.rate.baseline, rate_change=e.rate.change(at), priority=e.priority))
        if sort == "count":
            rows.sort(key=lambda r: (-r.count, r.key))
        elif sort == "rate_change":
            rows.sort(key=lambda r: (-r.rate_change, -r.count, r.key))
        else:
            rows.sort(key=lambda r: (-r.last_seen, r.key))
        return rows[:limit] if limit is not None else rows

    def save(self) -> None:
        for miner in self._miners.values():
            miner.save()

    def close(self) -> None:
        for miner in self._miners.values():
            miner.close()


def _roll_points(minutes: np.ndarray, starts: np.ndarray, ends: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Indexes where a per-group running maximum of ``minutes`` (groups ``[starts, ends)``,
    starting from ``initial``) strictly rises: where each group's MinuteRate rolls over."""
    import numpy as np

    if not len(minutes):
        return np.zeros(0, dtype=np.int64)
    low = int(minutes.min())
    span = int(minutes.max()) - low + 3
    group = np.repeat(np.arange(len(starts), dtype=np.int64), ends - starts)
    base = group * span
    key = base + (minutes - low + 1)
    floor = base + np.clip(initial - low + 1, 0, span - 1)[group]
    running = np.maximum.accumulate(np.maximum(key, floor))
    before = np.empty_like(running)
    before[1:] = running[:-1]
    before[starts] = floor[starts]
    return np.flatnonzero(key > before)
