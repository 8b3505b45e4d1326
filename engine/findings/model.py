"""Finding: one thing wrong on the box, with all of its evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from alsate.engine.findings.evidence import EvidenceLog
from alsate.engine.records import PRIORITY_NAMES

CATEGORIES = ("security", "availability", "performance", "resource", "hardware", "configuration", "application")
#: Distinct values kept per key kind (``ip``, ``user``...), first come first kept.
MAX_KEY_VALUES = 100
#: Evidence kept per finding: the first ids (how it started) and the latest (what it is doing now). A
#: finding that lives for days (a 5xx stream, a scanner) counts every record, but holds no more ids than
#: these (the latest: up to one chunk more, see engine/findings/evidence.py): the engine's memory stays
#: bounded in a live view. The ids between are dropped in whole chunks.
FIRST_EVIDENCE = 1_000
LATEST_EVIDENCE = 50_000
#: Evidence length at which the middle is dropped (a margin, so it happens once per 12,500 ids).
EVIDENCE_TRIM_AT = FIRST_EVIDENCE + LATEST_EVIDENCE + LATEST_EVIDENCE // 4


@dataclass(frozen=True)
class Finding:
    """A snapshot of one finding.

    ``id`` is stable (``<detector>:<subject>``, e.g. ``ssh.bruteforce:203.0.113.9``)
    so the panel can keep its selection while the finding grows. ``severity`` is
    a syslog priority (0 most severe). ``evidence`` holds the ids
    (``Record.id``) of the records behind the finding, oldest first: all of them, or for a long-lived
    finding the first :data:`FIRST_EVIDENCE` and the latest :data:`LATEST_EVIDENCE` (``count`` counts
    them all; ``evidence_dropped`` says how many ids were let go in between). ``active``
    is false once the finding has not recurred for the engine's active window.
    """

    id: str
    detector: str
    title: str
    category: str
    severity: int
    count: int
    first_seen: float
    last_seen: float
    keys: Mapping[str, tuple[str, ...]] = field(hash=False)
    template: str
    evidence: Sequence[str] = field(hash=False, repr=False)  # an Evidence from the engine
    active: bool = True
    detail: str = ""
    evidence_dropped: int = 0

    @property
    def severity_name(self) -> str:
        return PRIORITY_NAMES[self.severity]

    def to_json(self) -> dict[str, Any]:
        """The shape of a finding in ``alsate scan --json``."""
        return {
            "id": self.id,
            "detector": self.detector,
            "title": self.title,
            "category": self.category,
            "severity": self.severity,
            "severity_name": self.severity_name,
            "count": self.count,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "active": self.active,
            "keys": {k: list(v) for k, v in self.keys.items()},
            "template": self.template,
            "detail": self.detail,
            "evidence": list(self.evidence),
            "evidence_dropped": self.evidence_dropped,
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


class FindingState:
    """The growing, mutable side of a finding (engine-internal)."""

    __slots__ = ("id", "detector", "title", "category", "severity", "count", "first", "last", "keys",
                 "template", "template_key", "evidence", "evidence_dropped", "detail", "version")

    def __init__(self, fid: str, detector: str, title: str, category: str, severity: int, ts: float) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        self.id = fid
        self.detector = detector
        self.title = title
        self.category = category
        self.severity = severity
        self.count = 0
        self.first = ts
        self.last = ts
        self.keys: dict[str, dict[str, None]] = {}
        self.template = ""
        self.template_key = ""
        self.evidence = EvidenceLog()
        self.evidence_dropped = 0
        self.detail = ""
        #: Bumped on every change, so readers can reuse an unchanged snapshot.
        self.version = 0

    def add_key(self, kind: str, value: str) -> None:
        if not value:
            return
        values = self.keys.get(kind)
        if values is None:
            values = self.keys[kind] = {}
        if value not in values and len(values) < MAX_KEY_VALUES:
            values[value] = None

    def trim_evidence(self) -> None:
        """Keep the first and the latest ids (called when the list has grown past both by a margin)."""
        self.evidence_dropped += self.evidence.trim(FIRST_EVIDENCE, LATEST_EVIDENCE)

    def snapshot(self, active: bool, template: str | None = None) -> Finding:
        return Finding(
            id=self.id, detector=self.detector, title=self.title, category=self.category, severity=self.severity,
            count=self.count, first_seen=self.first, last_seen=self.last,
            keys={k: tuple(v) for k, v in self.keys.items()}, template=template or self.template,
            evidence=self.evidence.freeze(), active=active, detail=self.detail,
            evidence_dropped=self.evidence_dropped,
        )
