"""FindingsEngine: incremental updates, all evidence, active/aged findings, the priority policy, windows."""

from __future__ import annotations

import dataclasses

import pytest
from alsate.engine.findings import Finding, FindingsEngine
from alsate.engine.findings.window import Burst
from alsate.engine.parse import parse_lines


def _failure(second: int, ip: str = "203.0.113.9") -> str:
    t = 10 * 3600 + second
    return (f"2024-05-01T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}.000000+00:00 web1 sshd[{900 + second}]: "
            f"Failed password for root from {ip} port {40000 + second} ssh2")


def test_findings_update_as_records_arrive() -> None:
    engine = FindingsEngine(persist_templates=False)
    records = parse_lines("syslog", [_failure(i * 5) for i in range(30)], origin="auth.log")
    seen = []
    for record in records:
        engine.feed(record)
        f = engine.get("ssh.bruteforce:203.0.113.9")
        seen.append(f.count if f else 0)
    assert seen[:9] == [0] * 9          # below the threshold: nothing yet
    assert seen[9] == 10                # the tenth failure creates it, with the nine before it
    assert seen[10:] == list(range(11, 31))  # then every new failure joins at once


def test_evidence_holds_every_record_id() -> None:
    engine = FindingsEngine(persist_templates=False)
    lines = [_failure(i % 3000) for i in range(3000)]
    records = parse_lines("syslog", lines, origin="auth.log")
    engine.feed_all(records)
    f = engine.get("ssh.bruteforce:203.0.113.9")
    assert len(f.evidence) == 3000 and f.evidence == tuple(r.id for r in records)


def test_a_long_lived_finding_keeps_its_first_and_latest_evidence() -> None:
    """A finding that never stops (days of 5xx, a scanner) counts every record but holds a bounded list of
    ids: the first ones and the latest ones; the report and the JSON say how many were let go."""
    from alsate.engine.findings.model import EVIDENCE_TRIM_AT, FIRST_EVIDENCE, LATEST_EVIDENCE
    from alsate.engine.findings.report import markdown_report

    engine = FindingsEngine(persist_templates=False)
    total = 0
    lengths = []
    for chunk in range(40):
        ids = [f"access.log#{n}" for n in range(total, total + 5000)]
        engine.report("test.stream:x", detector="test", title="a stream", category="availability", severity=3,
                      ts=1000.0 + chunk, evidence=ids)
        total += len(ids)
        lengths.append(len(engine.get("test.stream:x").evidence))
    f = engine.get("test.stream:x")
    assert f.count == total == 200_000
    assert max(lengths) <= EVIDENCE_TRIM_AT and len(f.evidence) >= FIRST_EVIDENCE + LATEST_EVIDENCE
    assert f.evidence[:FIRST_EVIDENCE] == tuple(f"access.log#{n}" for n in range(FIRST_EVIDENCE))
    tail = f.evidence[FIRST_EVIDENCE:]
    assert tail == tuple(f"access.log#{n}" for n in range(total - len(tail), total))
    assert f.evidence_dropped == total - len(f.evidence)
    assert f.to_json()["evidence_dropped"] == f.evidence_dropped
    assert f"{total} evidence records ({len(f.evidence)} kept: the first and the latest)" in markdown_report([f])


def test_finding_ages_out_of_active_but_stays_listed() -> None:
    engine = FindingsEngine(persist_templates=False, active_window=600)
    engine.feed_all(parse_lines("syslog", [_failure(i) for i in range(12)], origin="auth.log"))
    assert engine.get("ssh.bruteforce:203.0.113.9").active
    # time moves on (another record 20 minutes later)
    engine.feed_all(parse_lines("syslog", [_failure(1200, ip="192.0.2.1")], origin="auth.log2"))
    f = engine.get("ssh.bruteforce:203.0.113.9")
    assert f is not None and not f.active
    assert [x.id for x in engine.findings()] == ["ssh.bruteforce:203.0.113.9"]
    assert engine.findings(active_only=True) == []
    # the same attacker comes back: the same finding is active again and keeps growing
    engine.feed_all(parse_lines("syslog", [_failure(1300 + i) for i in range(10)], origin="auth.log3"))
    f = engine.get("ssh.bruteforce:203.0.113.9")
    assert f.active and f.count == 22


def test_security_detectors_see_info_records_under_the_default_policy() -> None:
    records = parse_lines("syslog", [_failure(i) for i in range(12)], origin="auth.log")
    assert all(r.effective > 4 for r in records)  # sshd failures are info
    engine = FindingsEngine(persist_templates=False)  # max_priority 4
    engine.feed_all(records)
    assert engine.get("ssh.bruteforce:203.0.113.9") is not None


def test_sorting_active_then_severity() -> None:
    lines = [_failure(i) for i in range(12)]
    lines += ["2024-05-01T10:00:30.000000+00:00 web1 kernel: Out of memory: Killed process 4242 (java) "
              "total-vm:8844492kB, anon-rss:7372000kB, file-rss:0kB, shmem-rss:0kB, UID:1000"]
    engine = FindingsEngine(persist_templates=False)
    engine.feed_all(parse_lines("syslog", lines, origin="x"))
    assert [f.id for f in engine.findings()] == ["kernel.oom:java", "ssh.bruteforce:203.0.113.9"]
    assert [f.id for f in engine.findings(max_severity=3)] == ["kernel.oom:java"]


def test_findings_are_frozen_snapshots() -> None:
    engine = FindingsEngine(persist_templates=False)
    engine.feed_all(parse_lines("syslog", [_failure(i) for i in range(10)], origin="auth.log"))
    f = engine.get("ssh.bruteforce:203.0.113.9")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.count = 0  # type: ignore[misc]
    engine.feed_all(parse_lines("syslog", [_failure(20)], origin="more"))
    assert f.count == 10 and engine.get(f.id).count == 11
    assert isinstance(f, Finding) and set(f.to_json()) >= {"id", "title", "category", "severity", "count",
                                                           "first_seen", "last_seen", "keys", "template", "evidence"}


def test_unknown_category_is_refused() -> None:
    engine = FindingsEngine(persist_templates=False, detectors=[])
    with pytest.raises(ValueError):
        engine.report("x:1", detector="x", title="x", category="weather", severity=3, ts=0.0, evidence=["a#1"])


def test_burst_window() -> None:
    burst = Burst(3, 60)
    assert burst.add("k", 0, "r1") is None
    assert burst.add("k", 10, "r2") is None
    assert burst.add("k", 20, "r3") == [("r1", ""), ("r2", ""), ("r3", "")]
    assert burst.add("k", 30, "r4") == [("r4", "")]  # firing: one at a time
    assert burst.add("k", 200, "r5") is None          # quiet for longer than the window: starts over
    assert burst.add("k", 300, "r6") is None and burst.pending("k") == 1  # r5 slid out


def test_burst_distinct_and_weights() -> None:
    distinct = Burst(3, 60, distinct=True)
    for i in range(5):
        assert distinct.add("ip", i, f"r{i}", "root") is None  # one user, many times
    assert distinct.add("ip", 6, "r6", "admin") is None
    assert distinct.add("ip", 7, "r7", "test") is not None
    weighted = Burst(10, 60)
    assert weighted.add("ip", 0, "a", weight=6) is None
    assert weighted.add("ip", 1, "b", weight=6) == [("a", ""), ("b", "")] and weighted.hit_weight == 12


def test_burst_forgets_idle_keys() -> None:
    burst = Burst(100, 10, max_keys=1000)
    for i in range(5000):
        burst.add(f"ip{i}", float(i), f"r{i}")
    assert len(burst) <= 1000


def test_hostile_lines_cost_linear_time() -> None:
    """Log text is untrusted: no detector pattern may backtrack badly on a crafted 7 kB line."""
    import time

    hostile = ["/" + "a" * 7000 + "!", "Invalid user " + " from x" * 1500, "x" * 7000 + "[1]: segfault",
               "traps: a[1] " + "x" * 7000, "oom-kill:" * 800, "Started " + "." * 7000 + "x", "sudo:" + " ; TTY=" * 1500,
               "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + "1" * 7000, '"/' * 3000,
               "No space left on device " + "/" * 7000, "restart " + "a." * 3000 + "!"]
    for ident in ("sshd", "sudo", "kernel", "systemd", "su"):
        lines = [f"May  1 10:00:0{i % 10} web1 {ident}[1]: {h}" for i, h in enumerate(hostile)]
        engine = FindingsEngine(persist_templates=False)
        start = time.perf_counter()
        engine.feed_all(parse_lines("syslog", lines, origin="x"))
        assert time.perf_counter() - start < 1.0, ident


def test_unchanged_findings_are_not_copied_again() -> None:
    engine = FindingsEngine(persist_templates=False)
    engine.feed_all(parse_lines("syslog", [_failure(i) for i in range(12)], origin="auth.log"))
    first = engine.findings()
    assert engine.findings()[0] is first[0]  # nothing new: the same snapshot, no evidence copy
    engine.feed_all(parse_lines("syslog", [_failure(13)], origin="more"))
    again = engine.findings()[0]
    assert again is not first[0] and again.count == 13 and first[0].count == 12


def test_engine_keeps_template_ids_across_restarts(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path))
    records = parse_lines("syslog", [_failure(i) for i in range(12)], origin="auth.log")
    first = FindingsEngine()
    first.feed_all(records)
    key = first.templates.feed(records[0])
    first.close()
    assert (tmp_path / "templates" / "web1.bin").exists()
    second = FindingsEngine()
    assert second.templates.feed(records[0]) == key  # same Drain cluster id after the restart
    second.feed_all(records)
    assert second.get("ssh.bruteforce:203.0.113.9").template == first.get("ssh.bruteforce:203.0.113.9").template


def test_a_live_view_keeps_a_bounded_number_of_inactive_findings() -> None:
    engine = FindingsEngine(persist_templates=False, max_inactive=50, active_window=60)
    for n in range(300):  # a new scanner address every 10 s, each quiet after its one event
        engine.report(f"test.scan:{n}", detector="test", title=f"scan {n}", category="security", severity=4,
                      ts=1000.0 + n * 10, evidence=[f"a.log#{n}"])
    engine.now = 1000.0 + 299 * 10
    found = engine.findings()
    inactive = [f for f in found if not f.active]
    assert len(inactive) == 50 and engine.forgotten == 300 - 50 - sum(f.active for f in found)
    # The most recent quiet ones are kept, and the active ones all are.
    assert min(int(f.id.split(":")[1]) for f in inactive) == 300 - len(found)
    assert all(f.active for f in found if int(f.id.split(":")[1]) >= 294)
    keep_all = FindingsEngine(persist_templates=False, active_window=60)  # the default (a scan): every one
    for n in range(300):
        keep_all.report(f"test.scan:{n}", detector="test", title=f"scan {n}", category="security", severity=4,
                        ts=1000.0 + n * 10, evidence=[f"a.log#{n}"])
    assert len(keep_all.findings()) == 300 and keep_all.forgotten == 0
