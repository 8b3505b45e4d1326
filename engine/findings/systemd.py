"""systemd units: failed, in a restart loop, or flapping (starting and stopping over and over)."""

from __future__ import annotations

import re

from alsate.engine.findings.engine import FindingSink
from alsate.engine.findings.ident import ident
from alsate.engine.findings.window import Burst
from alsate.engine.records import Record, SourceKind

_SUFFIX = r"(?:service|socket|mount|timer|target|path|scope|slice|swap|device|automount)"
_UNIT_PREFIX = re.compile(rf"^(?P<unit>[\w@.\-\\:]+\.{_SUFFIX}):? ")
_UNIT_AFTER = re.compile(rf"^(?:Started|Stopped|Failed to start|Unit) (?P<unit>[\w@.\-\\:]+\.{_SUFFIX})\b")
_UNIT_ANYWHERE = re.compile(rf"(?<!\S)(?P<unit>[\w@\-\\:]+(?:\.[\w@\-\\:]+)*\.{_SUFFIX})\b")
_IS_UNIT = re.compile(rf"^[\w@.\-\\:]+\.{_SUFFIX}$")
_FAILED = re.compile(r"Failed with result '(?P<result>[^']+)'|entered failed state|^Failed to start |^\S+ failed\.$|"
                     r"(?:[Mm]ain|[Cc]ontrol) process exited, code=(?P<code>exited|killed|dumped), "
                     r"status=(?P<status>[^\s,]+)")
# systemd >= 236 says "Scheduled restart job"; older ones "holdoff time over, scheduling restart".
_RESTART = re.compile(r"Scheduled restart job, restart counter is at (?P<n>\d+)|RestartSec=\S+ expired, scheduling|"
                      r"[Hh]old-?off time over, scheduling restart")

#: Restarts of one unit within WINDOW that make a restart loop.
RESTART_THRESHOLD = 3
#: Started/Stopped lines of one unit within WINDOW that make it flapping (three up/down cycles).
FLAP_THRESHOLD = 6
WINDOW = 600.0


def _is_systemd(record: Record) -> bool:
    name = ident(record)
    return name == "systemd" or name == "init" or name.startswith("systemd[")


class SystemdDetector:
    name = "systemd"
    kinds = frozenset({SourceKind.JOURNAL, SourceKind.SYSLOG, SourceKind.TEXT})
    policy = False

    def __init__(self, window: float = WINDOW) -> None:
        self.restarts = Burst(RESTART_THRESHOLD, window)
        self.flaps = Burst(FLAP_THRESHOLD, window)
        #: host -> (ts, unit) of the last unit seen failing, for lines that only give a description.
        self._last_failed: dict[str, tuple[float, str]] = {}

    @staticmethod
    def unit_of(record: Record, msg: str) -> str:
        m = _UNIT_PREFIX.match(msg) or _UNIT_AFTER.match(msg)
        if m is not None:
            return m["unit"]
        extra = record.extra
        if extra and extra.get("UNIT"):
            return extra["UNIT"]
        m = _UNIT_ANYWHERE.search(msg)  # "start request repeated too quickly for app.service"
        if m is not None:
            return m["unit"]
        if msg.startswith(("Started ", "Stopped ", "Failed to start ")):
            return msg[msg.index(" start ") + 7 if msg.startswith("Failed") else 8:].rstrip(".")[:80]
        return ""

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        if not _is_systemd(record):
            return
        msg = record.message
        if "restart" in msg or "too quickly" in msg:
            self._restart(record, msg, template_key, sink)
        elif "ail" in msg or "process exited" in msg:
            m = _FAILED.search(msg)
            if m is None:
                return
            status = m["status"]
            if m["code"] == "exited" and status in ("0/SUCCESS", "0"):
                return
            if m["result"] == "success":
                return
            unit = self.unit_of(record, msg)
            if not unit:
                return
            if _IS_UNIT.match(unit):
                self._last_failed[record.host] = (record.ts, unit)
            else:
                # "Failed to start My App." (old systemd, no UNIT field): the unit that just failed
                last = self._last_failed.get(record.host)
                if last is not None and record.ts - last[0] <= 30:
                    unit = last[1]
            severity = 3
            sink.report(f"systemd.failed:{unit}", detector="systemd.failed", title=f"{unit} failed",
                        category="availability", severity=severity, ts=record.ts, evidence=[record.id],
                        keys={"unit": unit, "host": record.host, "result": m["result"] or "",
                              "status": status or ""},
                        template_key=template_key, detail=f"see: systemctl status {unit}; journalctl -u {unit}")
        elif msg.startswith("Started ") or msg.startswith("Stopped "):
            unit = self.unit_of(record, msg)
            # Only real unit names: old systemd logs "Started My App." (a description) to syslog,
            # which cannot be tied to the unit's restart loop, and "Started Session 12 of user root."
            if not _IS_UNIT.match(unit) or self.restarts.firing(unit):
                return
            hit = self.flaps.add(unit, record.ts, record.id)
            if hit is not None:
                sink.report(f"systemd.flapping:{unit}", detector="systemd.flapping", title=f"{unit} is flapping",
                            category="availability", severity=4, ts=record.ts, evidence=[r for r, _ in hit],
                            keys={"unit": unit, "host": record.host}, template_key=template_key,
                            detail="started and stopped again and again; something keeps restarting it")

    def _restart(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        unit = self.unit_of(record, msg)
        if not unit:
            return
        if "too quickly" in msg:
            # systemd gave up: the loop has ended in a failed unit. Fire even below the threshold.
            evidence = [r for r, _ in self.restarts.force(unit, record.ts, record.id)]
            sink.report(f"systemd.restart_loop:{unit}", detector="systemd.restart_loop",
                        title=f"{unit} is in a restart loop (systemd gave up)", category="availability",
                        severity=3, ts=record.ts, evidence=evidence, keys={"unit": unit, "host": record.host},
                        template_key=tkey, detail=f"start limit hit; fix the cause, then: systemctl reset-failed {unit}")
            return
        if _RESTART.search(msg) is None:
            return
        hit = self.restarts.add(unit, record.ts, record.id)
        if hit is not None:
            sink.report(f"systemd.restart_loop:{unit}", detector="systemd.restart_loop",
                        title=f"{unit} is in a restart loop", category="availability", severity=3, ts=record.ts,
                        evidence=[r for r, _ in hit], keys={"unit": unit, "host": record.host}, template_key=tkey,
                        detail=f"{RESTART_THRESHOLD}+ automatic restarts within {int(WINDOW // 60)} min")
