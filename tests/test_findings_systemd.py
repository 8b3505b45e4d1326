"""systemd: failed units, restart loops, flapping, on systemd 252 messages (syslog and journal)."""

from __future__ import annotations

import json

from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines

T0 = 1714557600


def _syslog(events: list[tuple[float, str]]) -> FindingsEngine:
    lines = []
    for ts, msg in events:
        t = int(T0 + ts)
        lines.append(f"2024-05-01T{(t // 3600) % 24:02d}:{(t // 60) % 60:02d}:{t % 60:02d}.000000+00:00 host1 "
                     f"systemd[1]: {msg}")
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines("syslog", lines, origin="syslog"):
        engine.feed(record)
    return engine


def test_failed_unit() -> None:
    engine = _syslog([(0, "backup.service: Main process exited, code=exited, status=2/INVALIDARGUMENT"),
                      (0, "backup.service: Failed with result 'exit-code'."),
                      (0, "Failed to start backup.service - Nightly backup.")])
    [f] = engine.findings()
    assert f.id == "systemd.failed:backup.service" and f.count == 3 and f.category == "availability"
    assert f.keys["result"] == ("exit-code",) and f.keys["status"] == ("2/INVALIDARGUMENT",)


def test_clean_exit_and_success_are_not_failures() -> None:
    engine = _syslog([(0, "app.service: Main process exited, code=exited, status=0/SUCCESS"),
                      (0, "app.service: Deactivated successfully."),
                      (1, "Finished logrotate.service - Rotate log files.")])
    assert engine.findings() == []


def test_restart_loop_and_not_flapping() -> None:
    events = []
    for cycle in range(6):
        base = cycle * 6
        events += [(base, "app.service: Main process exited, code=exited, status=1/FAILURE"),
                   (base, "app.service: Failed with result 'exit-code'."),
                   (base + 5, f"app.service: Scheduled restart job, restart counter is at {cycle + 1}."),
                   (base + 5, "Stopped app.service - Orders application."),
                   (base + 5, "Started app.service - Orders application.")]
    engine = _syslog(events)
    loop = engine.get("systemd.restart_loop:app.service")
    assert loop is not None and loop.count == 6  # every "Scheduled restart" line, the first two included
    assert engine.get("systemd.failed:app.service") is not None
    assert engine.get("systemd.flapping:app.service") is None


def test_two_restarts_are_not_a_loop() -> None:
    engine = _syslog([(0, "db.service: Scheduled restart job, restart counter is at 1."),
                      (400, "db.service: Scheduled restart job, restart counter is at 2.")])
    assert engine.get("systemd.restart_loop:db.service") is None


def test_start_limit_fires_at_once_with_unit_from_the_journal() -> None:
    lines = []
    for i, msg in enumerate(["worker.service: Scheduled restart job, restart counter is at 1.",
                             "worker.service: Start request repeated too quickly.",
                             "Failed to start Queue worker."]):  # older systemd: description only, UNIT= field
        lines.append(json.dumps({"__CURSOR": f"c{i}", "__REALTIME_TIMESTAMP": str((T0 + i) * 1_000_000),
                                 "_HOSTNAME": "q1", "PRIORITY": "3", "SYSLOG_IDENTIFIER": "systemd", "_PID": "1",
                                 "_SYSTEMD_UNIT": "init.scope", "UNIT": "worker.service", "MESSAGE": msg}))
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines("journal", lines, origin="journal"):
        engine.feed(record)
    loop = engine.get("systemd.restart_loop:worker.service")
    assert loop is not None and loop.evidence == ("journal#c0", "journal#c1")
    assert engine.get("systemd.failed:worker.service").evidence == ("journal#c2",)


def test_flapping() -> None:
    events = []
    for cycle in range(4):
        base = cycle * 60
        events += [(base, "Stopping haproxy.service - HAProxy Load Balancer..."),
                   (base, "haproxy.service: Deactivated successfully."),
                   (base, "Stopped haproxy.service - HAProxy Load Balancer."),
                   (base + 1, "Started haproxy.service - HAProxy Load Balancer.")]
    f = _syslog(events).get("systemd.flapping:haproxy.service")
    assert f is not None and f.count == 8 and f.severity == 4


def test_one_manual_restart_is_not_flapping() -> None:
    engine = _syslog([(0, "Stopped nginx.service - A high performance web server."),
                      (1, "Started nginx.service - A high performance web server.")])
    assert engine.findings() == []


def test_other_programs_saying_failed_are_ignored_here() -> None:
    line = "2024-05-01T10:00:00.000000+00:00 host1 app[5]: app.service: Failed with result 'exit-code'."
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines("syslog", [line], origin="syslog"):
        engine.feed(record)
    assert engine.get("systemd.failed:app.service") is None


def test_systemd_219_wording() -> None:
    events = []
    for cycle in range(3):
        base = cycle * 3
        events += [(base, "app.service: main process exited, code=exited, status=1/FAILURE"),
                   (base, "app.service failed."),
                   (base + 1, "app.service holdoff time over, scheduling restart."),
                   (base + 1, "Started My App.")]
    events += [(20, "start request repeated too quickly for app.service"), (20, "Failed to start My App.")]
    engine = _syslog(events)
    assert {f.id for f in engine.findings()} == {"systemd.restart_loop:app.service", "systemd.failed:app.service"}
    # "Failed to start My App." names no unit: it joins the unit that failed just before
    assert engine.get("systemd.failed:app.service").count == 7


def test_session_scopes_are_not_flapping() -> None:
    events = []
    for m in range(10):
        events += [(m * 30, f"Started Session {m} of user root."), (m * 30 + 1, "Stopped User Slice of root.")]
    assert _syslog(events).findings() == []
