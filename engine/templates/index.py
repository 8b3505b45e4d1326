"""The templates view: template -> count -> example records, with rate change.

Fed one record at a time. Unstructured messages (journal, syslog, error logs) go
through a per-host Drain miner; access-log records get their structured
template (method + normalised path + status class).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alsate.engine.records import Record, SourceKind
from alsate.engine.templates.access import access_template
from alsate.engine.templates.miner import MinerConfig, TemplateMiner, state_path
from alsate.engine.templates.rate import MinuteRate

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
