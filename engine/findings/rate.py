"""Rate anomaly on any template: this minute's count against the template's own baseline.

A policy detector: it only sees records within the engine's priority policy
(effective priority 0-4 by default), so a chatty info template never becomes a
finding here. Access-log templates are left to the nginx detectors, which have
per-site baselines of their own.
"""

from __future__ import annotations

from alsate.engine.findings.engine import FindingSink
from alsate.engine.records import Record, SourceKind

#: Events of one template in one minute before it can be an anomaly.
MIN_COUNT = 20
#: ... and this many times its baseline per minute.
FACTOR = 5.0
#: Seconds of stream (event time) before anything is judged, so that a scan does
#: not call every template of its first minutes an anomaly.
WARM_SECONDS = 600.0

_CATEGORY = {SourceKind.NGINX_ERROR: "availability", SourceKind.APACHE_ERROR: "availability"}


class RateAnomalyDetector:
    name = "rate"
    kinds = frozenset({SourceKind.JOURNAL, SourceKind.SYSLOG, SourceKind.NGINX_ERROR, SourceKind.APACHE_ERROR,
                       SourceKind.TEXT})
    policy = True

    def __init__(self, min_count: int = MIN_COUNT, factor: float = FACTOR, warm_seconds: float = WARM_SECONDS) -> None:
        self.min_count = min_count
        self.factor = factor
        self.warm_seconds = warm_seconds
        self._start: float | None = None
        #: template key -> (minute, ids of this minute's policy records, firing?)
        self._minute: dict[str, list] = {}

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        rate = sink.templates.rate(template_key)
        if rate is None:
            return
        ts = record.ts
        if self._start is None or ts < self._start:
            self._start = ts
        state = self._minute.get(template_key)
        if state is None or state[0] != rate.minute:
            if len(self._minute) > 50_000:
                self._minute.clear()
            state = self._minute[template_key] = [rate.minute, [], False]
        if state[2]:
            evidence = [record.id]
        else:
            state[1].append(record.id)
            n = len(state[1])
            if n < self.min_count or ts - self._start < self.warm_seconds:
                return
            # The template's minute count includes records outside the policy; the baseline is the template's.
            if rate.count < self.factor * rate.baseline:
                return
            state[2] = True
            evidence = state[1]
            state[1] = []
        template = sink.templates.template(template_key) or record.message
        sink.report(f"rate:{template_key}", detector="rate", title=f"Surge: {template[:90]}",
                    category=_CATEGORY.get(record.kind, "application"), severity=record.effective, ts=ts,
                    evidence=evidence, keys={"unit": record.unit, "host": record.host}, template_key=template_key,
                    detail=f"{rate.count} in one minute against a baseline of {rate.baseline:.1f}/min")
