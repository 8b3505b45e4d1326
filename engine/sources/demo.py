"""The bundled demo logs as live sources: ``alsate-tui --demo``.

``assets/demo/`` holds thirty minutes of one web server (its journal as
``journalctl -o json`` lines, nginx's access and error logs; see
``assets/demo/make_demo.py`` for the incidents planted in them). Replayed,
the first part (up to ``split``) is the history, with timestamps shifted so
that it ends now; the rest is played live at ``speed`` times real time, then
again and again, each loop shifted forward so the stream keeps moving.

A :class:`DemoSource` fits :class:`~alsate.engine.collect.SourceSet` the way a
:class:`~alsate.engine.sources.journal.JournalSource` does: ``origin``,
``kind``, ``backend``, ``cursor``, ``records()`` for the history and a blocking
``follow(stop, from_tail)`` for the live part; its records are kept whole by
the store. Lines are re-stamped (the text keeps a timestamp of the replay
time) and parsed by the real parsers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources

from alsate.engine.formats import StatusPriorities, parser_for
from alsate.engine.formats.journal_fields import record_from_fields
from alsate.engine.records import Record, SourceKind

#: Seconds into the recorded timeline where the history ends and the live replay starts.
DEFAULT_SPLIT = 24 * 60.0
#: Recorded length of the timeline.
LENGTH = 30 * 60.0
#: Live replay speed (recorded seconds per wall second).
DEFAULT_SPEED = 3.0
DEMO_HOST = "web-01"
#: When the bundled timeline starts (``BASE`` in assets/demo/make_demo.py: 2026-03-14 09:00 UTC).
RECORDED_START = 1_773_478_800.0
#: Live entries due this long before following started are still played (the start-up gap).
CATCH_UP = 5.0

_ACCESS_TIME = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")
_ROUTINE = re.compile(r'" [23]\d\d ')
_ERROR_TIME = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}")


@dataclass
class DemoClock:
    """The shared time base of the demo sources, so their replays stay in step."""

    split: float = DEFAULT_SPLIT
    speed: float = DEFAULT_SPEED
    length: float = LENGTH
    anchor: float = field(default_factory=time.time)  # wall time the history ends at
    base: float = RECORDED_START  # recorded time of the timeline's start

    @property
    def loop_wall(self) -> float:
        """Wall seconds one live loop takes."""
        return (self.length - self.split) / self.speed

    def history_ts(self, offset: float) -> float:
        """Shown time of a history entry ``offset`` seconds into the timeline."""
        return self.anchor - (self.split - offset)

    def live_ts(self, offset: float, loop: int) -> float:
        """Wall time (and shown time) of a live entry in loop ``loop``."""
        return self.anchor + loop * self.loop_wall + (offset - self.split) / self.speed


def _asset_text(*parts: str) -> str:
    return resources.files("alsate.assets").joinpath("demo", *parts).read_text(encoding="utf-8")


class DemoSource:
    """One of the bundled demo logs, replayed."""

    backend = "demo replay"
    warning: str | None = None

    def __init__(self, name: str, kind: str, clock: DemoClock) -> None:
        self.name = name
        self.kind = kind
        self.clock = clock
        self.origin = f"demo:{name}"
        self.cursor: str | None = None
        self._loaded: list[tuple[float, object]] | None = None

    @property
    def _entries(self) -> list[tuple[float, object]]:
        """Read on first use (in the reading thread, not while the app starts)."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> list[tuple[float, object]]:
        """(seconds into the timeline, entry) for every line of the asset."""
        text = _asset_text(*self.name.split("/"))
        entries: list[tuple[float, object]] = []
        if self.kind == SourceKind.JOURNAL:
            for line in text.splitlines():
                if line.strip():
                    fields = json.loads(line)
                    entries.append((int(fields["__REALTIME_TIMESTAMP"]) / 1e6, fields))
        else:
            parser = parser_for(self.kind, self.origin, **self._parser_options())
            for line in text.splitlines():
                if line.strip():
                    entries.append((parser.parse(line, 0).ts, line))
        base = self.clock.base
        return [(ts - base, entry) for ts, entry in entries]

    def _parser_options(self) -> dict:
        options: dict = {"host": DEMO_HOST}
        if self.kind == SourceKind.NGINX_ACCESS:
            options.update(log_format="combined", statuses=StatusPriorities(3, 4, 6))
        return options

    def _record(self, entry: object, ts: float, pos: str) -> Record:
        if self.kind == SourceKind.JOURNAL:
            fields = dict(entry)  # type: ignore[call-overload]
            micros = int(ts * 1e6)
            fields["__REALTIME_TIMESTAMP"] = str(micros)
            fields["__CURSOR"] = pos
            return record_from_fields(fields, self.origin)
        line = str(entry)
        if self.kind == SourceKind.NGINX_ACCESS:
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(ts))
            line = _ACCESS_TIME.sub(lambda _m: f"[{stamp}]", line, count=1)
        elif self.kind == SourceKind.NGINX_ERROR:
            line = _ERROR_TIME.sub(time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(ts)), line, count=1)
        parser = self._parser
        record = parser.parse(line, 0)
        return record._replace(ts=ts, pos=pos)

    @property
    def _parser(self):
        parser = getattr(self, "_parser_cache", None)
        if parser is None:
            parser = self._parser_cache = parser_for(self.kind, self.origin, **self._parser_options())
        return parser

    def records(self) -> Iterator[Record]:
        """The history: entries before the split, ending now."""
        clock = self.clock
        for n, (offset, entry) in enumerate(self._entries):
            if offset >= clock.split:
                break
            yield self._record(entry, clock.history_ts(offset), f"h{n}")

    def live_entries(self, loop: int) -> Iterator[tuple[float, Record]]:
        """(wall time, record) of loop ``loop`` of the live replay.

        Played ``speed`` times faster, routine access-log traffic (2xx/3xx) is thinned by the
        same factor so the request rate per minute stays what was recorded (the rate detector
        does not see a spike that is only the replay's); every other line is played.
        """
        clock = self.clock
        keep_one_in = max(1, round(clock.speed)) if self.kind == SourceKind.NGINX_ACCESS else 1
        for n, (offset, entry) in enumerate(self._entries):
            if offset < clock.split:
                continue
            if keep_one_in > 1 and n % keep_one_in and _ROUTINE.search(str(entry)):
                continue
            ts = clock.live_ts(offset, loop)
            yield ts, self._record(entry, ts, f"l{loop}.{n}")

    def follow(self, stop: threading.Event, from_tail: bool = True) -> Iterator[Record]:
        """The live replay, paced to the wall clock, looping until ``stop``. Blocking.

        Entries that fell due more than :data:`CATCH_UP` seconds before following
        started are skipped (a clock anchored in the past does not flood the stream).
        """
        if not any(offset >= self.clock.split for offset, _ in self._entries):
            stop.wait()
            return
        started = time.time()
        loop = max(0, int((started - CATCH_UP - self.clock.anchor) // self.clock.loop_wall))
        while not stop.is_set():
            for due, record in self.live_entries(loop):
                if due < started - CATCH_UP:
                    continue
                delay = due - time.time()
                if delay > 0 and stop.wait(delay):
                    return
                yield record
            loop += 1


#: The demo logs: (asset path under assets/demo, kind).
DEMO_LOGS = (
    ("journal.json", SourceKind.JOURNAL),
    ("nginx/access.log", SourceKind.NGINX_ACCESS),
    ("nginx/error.log", SourceKind.NGINX_ERROR),
)


def demo_sources(speed: float = DEFAULT_SPEED, split: float = DEFAULT_SPLIT,
                 anchor: float | None = None) -> list[DemoSource]:
    """The three demo sources (journal, nginx access, nginx error) sharing one clock."""
    clock = DemoClock(split=split, speed=speed)
    if anchor is not None:
        clock.anchor = anchor
    return [DemoSource(name, kind, clock) for name, kind in DEMO_LOGS]
