"""FindingsEngine: feeds records to the templates view and the detectors, keeps the findings.

Priority policy (see docs/findings.md): the security and availability detectors
(ssh, auth, kernel, systemd, nginx) look at every record whatever its priority,
because the lines that matter to them are often ``info`` (an sshd failure is
priority 6); the finding carries its own severity. Generic, template-driven
findings (rate anomalies) are built only from records of effective priority
``<= max_priority`` (the ALSATE policy: 0-4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from alsate.engine.findings.model import EVIDENCE_TRIM_AT, Finding, FindingState
from alsate.engine.records import DEFAULT_MAX_PRIORITY, Record, SourceKind
from alsate.engine.templates.index import TemplateIndex

if TYPE_CHECKING:
    from alsate.engine.formats.nginx_access import AccessColumns

#: A finding that has not recurred for this many seconds (event time) is no longer active.
DEFAULT_ACTIVE_WINDOW = 15 * 60.0


class FindingSink(Protocol):
    """What a detector may call: ``report`` and the current event time ``now``."""

    now: float
    templates: TemplateIndex

    def report(self, fid: str, *, detector: str, title: str, category: str, severity: int, ts: float,
               evidence: Iterable[str], keys: Mapping[str, str | Iterable[str]] | None = None,
               template_key: str = "", detail: str = "", count: int | None = None) -> None: ...

    def exists(self, fid: str) -> bool: ...


class Detector(Protocol):
    """One detector. ``kinds``: the record kinds it wants (``None``: all).
    ``policy``: True when it only sees records within the engine's priority policy.

    A detector of access-log records may also have ``feed_access(batch, sink)``: a run of them
    column-wise (:class:`~alsate.engine.findings.access_batch.AccessBatch`), with the same effect
    as feeding them one by one; the engine then takes big access logs a chunk at a time.
    """

    name: str
    kinds: frozenset[str] | None
    policy: bool

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None: ...


def default_detectors() -> list[Detector]:
    from alsate.engine.findings.auth import AuthDetector
    from alsate.engine.findings.kernel import KernelDetector
    from alsate.engine.findings.nginx import NginxAccessDetector, NginxErrorDetector
    from alsate.engine.findings.rate import RateAnomalyDetector
    from alsate.engine.findings.ssh import SshDetector
    from alsate.engine.findings.systemd import SystemdDetector

    return [SshDetector(), AuthDetector(), KernelDetector(), SystemdDetector(), NginxAccessDetector(),
            NginxErrorDetector(), RateAnomalyDetector()]


class FindingsEngine:
    """Incremental findings over a stream of records.

    >>> engine = FindingsEngine(persist_templates=False)
    >>> for record in records: engine.feed(record)        # doctest: +SKIP
    >>> engine.findings()                                  # doctest: +SKIP
    """

    def __init__(self, *, max_priority: int = DEFAULT_MAX_PRIORITY, active_window: float = DEFAULT_ACTIVE_WINDOW,
                 templates: TemplateIndex | None = None, persist_templates: bool = True,
                 detectors: Sequence[Detector] | None = None, max_inactive: int | None = None) -> None:
        self.max_priority = max_priority
        #: Inactive findings kept (the most recent); ``None`` keeps all. A live view that runs for days sets
        #: it: every scanner address makes a finding of its own, and old ones would pile up.
        self.max_inactive = max_inactive
        self.forgotten = 0  # inactive findings let go under ``max_inactive``
        self.active_window = active_window
        self.templates = templates if templates is not None else TemplateIndex(persist=persist_templates)
        self.detectors = list(detectors) if detectors is not None else default_detectors()
        self._states: dict[str, FindingState] = {}
        self._snaps: dict[str, tuple[int, Finding]] = {}
        self._route: dict[str, tuple[list[Detector], list[Detector]]] = {}
        self._template_feed = self.templates.feed
        self.now = 0.0
        self.records = 0

    def _routes(self, kind: str) -> tuple[list[Detector], list[Detector]]:
        route = self._route.get(kind)
        if route is None:
            wanted = [d for d in self.detectors if d.kinds is None or kind in d.kinds]
            route = ([d for d in wanted if not d.policy], [d for d in wanted if d.policy])
            self._route[kind] = route
        return route

    def feed(self, record: Record) -> None:
        """Account one record (live or from a file); findings update at once."""
        self.records += 1
        if record.ts > self.now:
            self.now = record.ts
        key = self._template_feed(record)
        route = self._route.get(record.kind) or self._routes(record.kind)
        for detector in route[0]:
            detector.feed(record, key, self)
        if route[1] and record.effective <= self.max_priority:
            for detector in route[1]:
                detector.feed(record, key, self)

    def feed_all(self, records: Iterable[Record]) -> int:
        """``feed`` each record (the same work, with the per-call overhead taken out of the loop)."""
        n = 0
        template_feed = self._template_feed
        routes = self._route
        max_priority = self.max_priority
        now = self.now
        for record in records:
            n += 1
            ts = record.ts
            if ts > now:
                now = self.now = ts
            key = template_feed(record)
            route = routes.get(record.kind) or self._routes(record.kind)
            for detector in route[0]:
                detector.feed(record, key, self)
            if route[1] and record.effective <= max_priority:
                for detector in route[1]:
                    detector.feed(record, key, self)
        self.records += n
        return n

    def accepts_access_columns(self) -> bool:
        """Whether :meth:`feed_access_columns` can take access-log records: every detector that
        sees them can read a batch (``feed_access``), and none is a policy detector."""
        normal, policy = self._routes(SourceKind.NGINX_ACCESS)
        return not policy and all(hasattr(d, "feed_access") for d in normal)

    def feed_access_columns(self, origin: str, positions: list[int], columns: AccessColumns) -> None:
        """``feed`` every record of a chunk of access-log lines given column-wise (the fast path for
        a big file), with the same findings and templates. ``origin`` and ``positions`` make the
        record ids; a line in ``columns.parsed`` is fed as its Record, in its place.
        Only when :meth:`accepts_access_columns`.
        """
        start = 0
        for i, record in columns.parsed.items():
            if i > start:
                self._feed_access_run(origin, positions, columns, start, i)
            self.feed(record)
            start = i + 1
        if start < len(columns.ts):
            self._feed_access_run(origin, positions, columns, start, len(columns.ts))

    def _feed_access_run(self, origin: str, positions: list[int], columns: AccessColumns, start: int,
                         stop: int) -> None:
        from alsate.engine.findings.access_batch import AccessBatch  # here: it needs numpy

        whole = start == 0 and stop == len(columns.ts)

        def part(column: list | None) -> list | None:
            return column if whole or column is None else column[start:stop]

        batch = AccessBatch(origin, part(positions), part(columns.ts), part(columns.effective),
                            part(columns.addresses), part(columns.requests), part(columns.statuses),
                            part(columns.sent))
        self.records += len(batch)
        latest = float(batch.ts_array.max())
        if latest > self.now:
            self.now = latest
        batch.keys, batch.entry = self.templates.feed_access(batch.fields, batch.pair, batch.first, batch.ts_array,
                                                             batch.effective, batch.record_id)
        for detector in self._routes(SourceKind.NGINX_ACCESS)[0]:
            detector.feed_access(batch, self)  # type: ignore[attr-defined]

    # -- the sink side, called by detectors -------------------------------------------------

    def exists(self, fid: str) -> bool:
        return fid in self._states

    def report(self, fid: str, *, detector: str, title: str, category: str, severity: int, ts: float,
               evidence: Iterable[str], keys: Mapping[str, str | Iterable[str]] | None = None,
               template_key: str = "", detail: str = "", count: int | None = None) -> None:
        """Create or grow finding ``fid`` with ``evidence`` (record ids, each given once).

        ``count`` defaults to the number of evidence ids (a ``message repeated 5
        times`` line passes 5). Severity only ever rises (the number falls);
        the latest title and detail win.
        """
        state = self._states.get(fid)
        if state is None:
            state = self._states[fid] = FindingState(fid, detector, title, category, severity, ts)
        else:
            state.title = title
            if severity < state.severity:
                state.severity = severity
        if detail:
            state.detail = detail
        if template_key and not state.template_key:
            state.template_key = template_key
        added = 0
        ev = state.evidence
        for rid in evidence:
            if ev.last != rid:
                ev.append(rid)
                added += 1
        if len(ev) > EVIDENCE_TRIM_AT:
            state.trim_evidence()
        state.count += added if count is None else count
        state.version += 1
        if ts > state.last:
            state.last = ts
        elif ts < state.first:
            state.first = ts
        if keys:
            for kind, value in keys.items():
                if isinstance(value, str):
                    state.add_key(kind, value)
                else:
                    for v in value:
                        state.add_key(kind, v)

    # -- reading -----------------------------------------------------------------------------

    def is_active(self, state: FindingState, now: float | None = None) -> bool:
        at = self.now if now is None else now
        return at - state.last <= self.active_window

    def _snap(self, state: FindingState, now: float | None) -> Finding:
        template = self.templates.template(state.template_key) if state.template_key else None
        active = self.is_active(state, now)
        cached = self._snaps.get(state.id)
        if cached is not None and cached[0] == state.version and cached[1].active == active \
                and (template is None or cached[1].template == template):
            return cached[1]  # unchanged: no new copy of a long evidence list
        snap = state.snapshot(active, template)
        self._snaps[state.id] = (state.version, snap)
        return snap

    def get(self, fid: str, now: float | None = None) -> Finding | None:
        state = self._states.get(fid)
        return self._snap(state, now) if state is not None else None

    def findings(self, *, active_only: bool = False, now: float | None = None,
                 max_severity: int | None = None) -> list[Finding]:
        """All findings: active first, then by severity (most severe first), then most recent.

        ``now`` defaults to the newest record time seen; a live view may pass the wall clock so
        that findings age out while nothing arrives.
        """
        if self.max_inactive is not None and len(self._states) > self.max_inactive:
            self._forget_inactive(now)
        out = []
        for state in list(self._states.values()):  # a copy: a feeding thread may add findings meanwhile
            if max_severity is not None and state.severity > max_severity:
                continue
            snap = self._snap(state, now)
            if active_only and not snap.active:
                continue
            out.append(snap)
        out.sort(key=lambda f: (not f.active, f.severity, -f.last_seen, f.id))
        return out

    def _forget_inactive(self, now: float | None) -> None:
        """Drop the inactive findings beyond :attr:`max_inactive`, the longest quiet first."""
        inactive = [state for state in list(self._states.values()) if not self.is_active(state, now)]
        extra = len(inactive) - self.max_inactive  # type: ignore[operator]
        if extra <= 0:
            return
        inactive.sort(key=lambda state: state.last)
        for state in inactive[:extra]:
            self._states.pop(state.id, None)
            self._snaps.pop(state.id, None)
        self.forgotten += extra

    def __len__(self) -> int:
        return len(self._states)

    def close(self) -> None:
        """Save template state (call at the end of a scan or on exit)."""
        self.templates.close()
