"""Rate anomaly on any template, and the priority policy it obeys."""

from __future__ import annotations

import json

from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines
from alsate.engine.templates.rate import MinuteRate

T0 = 1714557600


def _journal(events: list[tuple[float, str, int]]) -> list[str]:
    return [json.dumps({"__CURSOR": f"c{i}", "__REALTIME_TIMESTAMP": str(int((T0 + ts) * 1e6)), "_HOSTNAME": "app5",
                        "PRIORITY": str(pri), "SYSLOG_IDENTIFIER": "orders-api", "_PID": "812",
                        "_SYSTEMD_UNIT": "orders-api.service", "MESSAGE": msg})
            for i, (ts, msg, pri) in enumerate(sorted(events))]


def _engine(lines: list[str], max_priority: int = 4) -> FindingsEngine:
    engine = FindingsEngine(persist_templates=False, max_priority=max_priority)
    for record in parse_lines("journal", lines, origin="journal"):
        engine.feed(record)
    return engine


def _surge(message: str, priority: int) -> list[tuple[float, str, int]]:
    events = [(m * 60.0 + 30, message.format(n=m), priority) for m in range(0, 30, 5)]  # one per 5 minutes
    events += [(31 * 60.0 + i * 0.5, message.format(n=100 + i), priority) for i in range(60)]  # then 60 in a minute
    return events


def test_error_template_surge_is_a_finding_with_all_its_records() -> None:
    engine = _engine(_journal(_surge("ERROR payment gateway timeout after 30000ms order={n}", 3)))
    [f] = engine.findings()
    assert f.detector == "rate" and f.severity == 3
    assert f.template == "ERROR payment gateway timeout after <DUR> order=<NUM>"
    assert f.count == 60 and len(f.evidence) == 60  # the 20 that crossed the threshold and the 40 after
    assert f.keys["unit"] == ("orders-api.service",)


def test_info_surge_is_outside_the_default_policy() -> None:
    lines = _journal(_surge("cache warmed key={n}", 6))
    assert _engine(lines).findings() == []
    # widen the policy to 0-7 and the same surge is a finding
    assert [f.detector for f in _engine(lines, max_priority=7).findings()] == ["rate"]


def test_steady_errors_are_not_anomalies() -> None:
    events = [(m * 60.0 + k * 2.3, f"ERROR cache refresh failed key=sku:{m * 100 + k}", 3)
              for m in range(40) for k in range(25)]
    assert _engine(_journal(events)).findings() == []


def test_nothing_is_judged_before_warm_up() -> None:
    # a burst in the first minutes of a stream has no baseline to be compared with
    events = [(i * 0.5, f"ERROR upstream reset id={i}", 3) for i in range(60)]
    assert _engine(_journal(events)).findings() == []


def test_minute_rate_baseline() -> None:
    rate = MinuteRate()
    for minute in range(20):
        for k in range(10):
            rate.add(T0 + minute * 60 + k)
    assert rate.history == 19
    assert 9.5 < rate.baseline < 10.5  # seeded with the first minute, steady since
    rate.add(T0 + 40 * 60)  # 20 quiet minutes
    assert rate.baseline < 5
    assert rate.current(T0 + 60 * 60) == 0
    assert rate.change() < 0  # one event against a baseline of a few
