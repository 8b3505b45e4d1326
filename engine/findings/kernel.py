"""Kernel and machine trouble: OOM kills, crashes (segfaults, traps, core dumps),
block-device I/O errors, filesystem errors, read-only remounts, machine checks
and EDAC memory errors, thermal throttling, and ``No space left on device`` from
anyone."""

from __future__ import annotations

import re

from alsate.engine.findings.engine import FindingSink
from alsate.engine.records import Record, SourceKind

UNSTRUCTURED = frozenset({SourceKind.JOURNAL, SourceKind.SYSLOG, SourceKind.NGINX_ERROR, SourceKind.APACHE_ERROR,
                          SourceKind.TEXT})

_OOM_KILLED = re.compile(r"(?:Memory cgroup o|O)ut of memory(?: \(oom_kill_allocating_task\))?: "
                         r"Kill(?:ed)? process (?P<pid>\d+) \((?P<comm>[^)]*)\)")
_OOM_KILL_LINE = re.compile(r"^oom-kill:\S*?\btask=(?P<comm>[^,]*),pid=(?P<pid>\d+)")
_OOM_INVOKED = re.compile(r"^(?P<comm>\S.*?) invoked oom-killer:")
_OOM_REAPED = re.compile(r"oom_reaper: reaped process (?P<pid>\d+) \((?P<comm>[^)]*)\)")
_OOM_UNIT = re.compile(r"^(?P<unit>\S+?): (?:A process of this unit has been killed by the OOM killer|"
                       r"Failed with result 'oom-kill')")
_OOMD = re.compile(r"Killed (?P<cgroup>\S+) due to memory (?:pressure|used)")
# (?<!\S): the name starts a token, so a long token costs one try, not one per character.
_SEGFAULT = re.compile(r"(?<!\S)(?P<comm>[^\s\[]+)\[(?P<pid>\d+)\]: segfault at ")
_TRAP = re.compile(r"traps: (?P<comm>[^\s\[]+)\[(?P<pid>\d+)\] (?P<what>.+?)(?: ip[: ]|$)")
_COREDUMP = re.compile(r"Process (?P<pid>\d+) \((?P<comm>[^)]*)\) of user \d+ (?:dumped core|terminated abnormally)")
_ABRT = re.compile(r"Saved core dump of pid (?P<pid>\d+) \((?P<comm>[^)]*)\)")
_IO_DEV = re.compile(r"I/O error,? (?:on )?dev(?:ice)? (?P<dev>[\w\-.]+)|Buffer I/O error on dev(?:ice)? (?P<dev2>[\w\-.]+)|"
                     r"critical (?:medium|target) error, dev (?P<dev3>[\w\-.]+)|\[(?P<dev4>sd[a-z]+|vd[a-z]+)\] tag#\d+ "
                     r"(?:FAILED|Sense Key : (?:Medium|Hardware) Error)|^(?P<dev5>ata\d+(?:\.\d+)?): "
                     r"(?:failed command|error: \{)|^(?P<dev6>nvme\d+)(?:n\d+)?: .*(?:I/O Error|timeout, aborting)|"
                     r"(?P<dev7>nvme\d+): I/O \d+ QID \d+ timeout")
_FS_ERROR = re.compile(r"(?P<fs>EXT[234]-fs|XFS|BTRFS|F2FS-fs) (?:error |critical |warning )?\((?:device )?"
                       r"(?P<dev>[\w\-.]+)\)(?P<rest>.*)")
_FS_BAD = re.compile(r"\berror\b|[Cc]orrupt|[Ss]hutting down|shut down|Journal has aborted|I/O error|errs: wr|bad |"
                     r"Remounting filesystem read-only|Aborting journal")
_ABORT_JOURNAL = re.compile(r"Aborting journal on device (?P<dev>[\w\-.]+?)(?:-\d+)?\.")
_READONLY = re.compile(r"Remounting filesystem read-only|[Rr]emounted read-only|Filesystem has been shut down|"
                       r"forced read-only|Shutting down filesystem")
_EDAC = re.compile(r"EDAC (?P<mc>\S+): (?P<n>\d+) (?P<kind>CE|UE) ")
_KTIME = re.compile(r"\[\s*\d+\.\d+\]\s*")
_NOSPACE = re.compile(r"No space left on device|\bENOSPC\b")
_QUOTED_PATH = re.compile(r"[\"'`](/[^\"'`]+)[\"'`]|(?<![\w=/])(/[\w.\-/]+)")


def _comm(name: str) -> str:
    return name.strip()[:64] or "?"


class KernelDetector:
    """One finding per crashing program, per failing device, per host for memory / MCE / disk full."""

    name = "kernel"
    kinds = UNSTRUCTURED
    policy = False

    def __init__(self) -> None:
        #: host -> (ts, record ids) of recent "invoked oom-killer" lines, attached to the kill that follows.
        self._oom_invoked: dict[str, tuple[float, list[str]]] = {}
        #: host -> (ts, finding id) of the latest OOM kill, for systemd's follow-up line.
        self._last_oom: dict[str, tuple[float, str]] = {}

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        msg = record.message
        if msg.startswith("[") and (m := _KTIME.match(msg)) is not None:
            msg = msg[m.end():]  # "[12345.678901] " as in kern.log
        if "No space left" in msg or "ENOSPC" in msg:
            if _NOSPACE.search(msg):
                self._nospace(record, template_key, sink)
            return
        if "oom" in msg or "OOM" in msg or "out of memory" in msg or "Out of memory" in msg:
            self._oom(record, msg, template_key, sink)
            return
        if "segfault at" in msg or "traps:" in msg or "dumped core" in msg or "core dump" in msg \
                or "terminated abnormally" in msg:
            self._crash(record, msg, template_key, sink)
            return
        if "Hardware Error" in msg or "EDAC" in msg or "Machine Check" in msg or "Machine check" in msg \
                or "temperature above threshold" in msg or "AER:" in msg:
            # Only error reports: "EDAC MC: Ver: 3.0.0" or "mce: CPU supports 10 MCE banks" are boot chatter.
            self._hardware(record, msg, template_key, sink)
            return
        if "-fs " in msg or "XFS (" in msg or "BTRFS" in msg or "Aborting journal" in msg:
            self._filesystem(record, msg, template_key, sink)
            return
        if "I/O error" in msg or "tag#" in msg or msg.startswith("ata") or "nvme" in msg or "critical medium" in msg:
            m = _IO_DEV.search(msg)
            if m is not None:
                dev = next(g for g in m.groups() if g)
                sink.report(f"hw.disk_io:{dev}", detector="hw.disk_io", title=f"I/O errors on {dev}",
                            category="hardware", severity=3, ts=record.ts, evidence=[record.id],
                            keys={"device": dev, "host": record.host}, template_key=template_key,
                            detail="block-device errors: check SMART (smartctl -a), cabling, dmesg")

    def _oom(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        host, ts = record.host, record.ts
        m = _OOM_INVOKED.search(msg)
        if m is not None:
            when, ids = self._oom_invoked.get(host, (ts, []))
            if ts - when > 30:
                ids = []
            ids.append(record.id)
            self._oom_invoked[host] = (ts, ids[-50:])
            return
        m = _OOM_KILLED.search(msg) or _OOM_KILL_LINE.search(msg) or _OOM_REAPED.search(msg)
        if m is not None:
            comm = _comm(m["comm"])
            fid = f"kernel.oom:{comm}"
            evidence = [record.id]
            pending = self._oom_invoked.pop(host, None)
            if pending is not None and ts - pending[0] <= 30:
                evidence = pending[1] + evidence
            self._last_oom[host] = (ts, fid)
            sink.report(fid, detector="kernel.oom", title=f"OOM killer killed {comm}", category="resource",
                        severity=2, ts=ts, evidence=evidence, keys={"process": comm, "pid": m["pid"], "host": host},
                        template_key=tkey, detail="the kernel ran out of memory and killed a process")
            return
        m = _OOM_UNIT.search(msg) or _OOMD.search(msg)
        if m is not None:
            unit = m.groupdict().get("unit") or m.groupdict().get("cgroup") or "?"
            last = self._last_oom.get(host)
            if last is not None and ts - last[0] <= 60:
                # systemd's (or oomd's) account of the kill the kernel just reported: same finding
                fid, title = last[1], f"OOM killer killed {last[1].split(':', 1)[1]}"
            else:
                fid, title = f"kernel.oom:{unit}", f"OOM killer killed a process of {unit}"
            sink.report(fid, detector="kernel.oom", title=title,
                        category="resource", severity=2, ts=ts, evidence=[record.id],
                        keys={"unit": unit.rsplit("/", 1)[-1], "host": host}, template_key=tkey)

    def _crash(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        m = _SEGFAULT.search(msg)
        what = "segfault"
        if m is None:
            m = _TRAP.search(msg)
            what = "trap"
        if m is None:
            m = _COREDUMP.search(msg) or _ABRT.search(msg)
            what = "core dump"
        if m is None:
            return
        comm = _comm(m["comm"].rsplit("/", 1)[-1])
        sink.report(f"crash:{comm}", detector="crash", title=f"{comm} crashed", category="application", severity=3,
                    ts=record.ts, evidence=[record.id], keys={"process": comm, "pid": m["pid"], "kind": what,
                                                             "host": record.host},
                    template_key=tkey, detail="segfaults, traps and core dumps of this program")

    def _hardware(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        host = record.host
        if "temperature above threshold" in msg:
            sink.report(f"hw.thermal:{host}", detector="hw.thermal", title=f"CPU thermal throttling on {host}",
                        category="hardware", severity=4, ts=record.ts, evidence=[record.id], keys={"host": host},
                        template_key=tkey)
            return
        m = _EDAC.search(msg)
        if m is not None:
            kind = "corrected memory error" if m["kind"] == "CE" else "uncorrected memory error"
            severity = 4 if m["kind"] == "CE" else 1
        elif "AER:" in msg:
            if "Corrected error" in msg:
                kind, severity = "corrected PCIe error", 4
            elif "Uncorrected" in msg or "Fatal" in msg:
                kind, severity = "uncorrected PCIe error", 2
            else:
                return
        elif "[Hardware Error]" in msg:
            if "Corrected error" in msg or "corrected" in msg.split("]:", 1)[-1][:40]:
                kind, severity = "corrected hardware error", 4
            else:
                kind, severity = "machine check", 2
        elif "Machine check events logged" in msg or "Machine Check Exception" in msg:
            kind, severity = "machine check", 2
        else:
            return
        sink.report(f"hw.mce:{host}", detector="hw.mce", title=f"Hardware errors reported on {host}",
                    category="hardware", severity=severity, ts=record.ts, evidence=[record.id],
                    keys={"kind": kind, "host": host}, template_key=tkey,
                    detail="machine-check / EDAC / AER reports: see mcelog or rasdaemon (ras-mc-ctl --errors)")

    def _filesystem(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        m = _FS_ERROR.search(msg)
        if m is not None:
            dev, fs, rest = m["dev"], m["fs"], m["rest"]
            bad = " error " in msg[: m.end("fs") + 7] or _FS_BAD.search(rest) is not None
        else:
            m = _ABORT_JOURNAL.search(msg)
            if m is None:
                return
            dev, fs, bad = m["dev"], "jbd2", True
        if not bad:
            return
        if _READONLY.search(msg):
            sink.report(f"fs.readonly:{dev}", detector="fs.readonly", title=f"Filesystem on {dev} went read-only",
                        category="availability", severity=2, ts=record.ts, evidence=[record.id],
                        keys={"device": dev, "fs": fs, "host": record.host}, template_key=tkey,
                        detail="writes now fail; check the device and run fsck at the next maintenance window")
            return
        sink.report(f"fs.error:{dev}", detector="fs.error", title=f"{fs} errors on {dev}", category="availability",
                    severity=3, ts=record.ts, evidence=[record.id],
                    keys={"device": dev, "fs": fs, "host": record.host}, template_key=tkey)

    def _nospace(self, record: Record, tkey: str, sink: FindingSink) -> None:
        paths = [a or b for a, b in _QUOTED_PATH.findall(record.message)][:3]
        sink.report(f"disk.full:{record.host}", detector="disk.full", title=f"No space left on device on {record.host}",
                    category="resource", severity=2, ts=record.ts, evidence=[record.id],
                    keys={"unit": record.unit, "path": paths, "host": record.host}, template_key=tkey,
                    detail="writes fail with ENOSPC: check df -h and df -i")
