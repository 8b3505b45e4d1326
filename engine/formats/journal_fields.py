"""Journal entries (from sd_journal or ``journalctl -o json``) -> Record.

Both paths give the same fields with different types: systemd-python converts
(``PRIORITY`` int, ``__REALTIME_TIMESTAMP`` datetime, binary values as bytes),
``journalctl -o json`` gives strings (microseconds, and binary values as
arrays of byte values). :func:`record_from_fields` accepts either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alsate.engine.effective import effective_priority
from alsate.engine.records import MAX_TS, Record, SourceKind
from alsate.engine.textio import decode, without_surrogates

# Fields that become Record attributes (or are bookkeeping) and so are not repeated in ``extra``.
_MAPPED = frozenset({
    "MESSAGE", "PRIORITY", "_HOSTNAME", "_PID", "SYSLOG_PID", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER",
    "__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP",
    "_BOOT_ID", "_MACHINE_ID", "__SEQNUM", "__SEQNUM_ID",
})
# Fields worth keeping for detail views, findings and context (the rest are dropped to save memory).
KEPT = ("_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_COMM", "_EXE", "_CMDLINE", "_UID", "_GID", "_TRANSPORT",
        "_SYSTEMD_USER_UNIT", "UNIT", "USER_UNIT", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO",
        "SYSLOG_FACILITY", "_KERNEL_SUBSYSTEM", "_KERNEL_DEVICE", "CONTAINER_NAME", "MESSAGE_ID",
        "COREDUMP_EXE", "COREDUMP_SIGNAL_NAME", "JOB_RESULT", "EXIT_STATUS", "EXIT_CODE")


def as_text(value: Any) -> str:
    """A journal field value as text: bytes and byte arrays are decoded, escaping invalid UTF-8."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return decode(value)
    if isinstance(value, list):
        if all(isinstance(v, int) and 0 <= v < 256 for v in value):
            return decode(bytes(value))
        return " ".join(as_text(v) for v in value)  # a field repeated in one entry
    return str(value)


def _as_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = as_text(value).strip()
    return int(text) if text.isdigit() else None


def _timestamp(fields: Mapping[str, Any]) -> float:
    value = fields.get("__REALTIME_TIMESTAMP") or fields.get("_SOURCE_REALTIME_TIMESTAMP")
    if isinstance(value, datetime):
        return value.timestamp()
    micros = _as_int(value)
    return min(micros / 1e6, MAX_TS) if micros is not None else 0.0  # a stamp past year 9999 is hostile


def unit_of(fields: Mapping[str, Any]) -> str:
    unit = fields.get("_SYSTEMD_UNIT")
    transport = fields.get("_TRANSPORT")
    if transport == "kernel":
        return "kernel"
    if unit and unit not in ("init.scope",) and not str(unit).startswith("session-"):
        return as_text(unit)
    ident = fields.get("SYSLOG_IDENTIFIER") or fields.get("_COMM") or unit
    return as_text(ident) if ident else ""


def record_from_fields(fields: Mapping[str, Any], origin: str = "journal") -> Record:
    message = as_text(fields.get("MESSAGE", ""))
    priority = _as_int(fields.get("PRIORITY"))
    if priority is None or not 0 <= priority <= 7:
        priority = 6
    pid = _as_int(fields.get("_PID")) or _as_int(fields.get("SYSLOG_PID"))
    extra = {key: as_text(fields[key]) for key in KEPT if key in fields}
    cursor = as_text(fields.get("__CURSOR", ""))
    return Record(
        _timestamp(fields),
        as_text(fields.get("_HOSTNAME", "")),
        SourceKind.JOURNAL,
        unit_of(fields),
        pid,
        priority,
        effective_priority(priority, message),
        message,
        message,
        extra or None,
        origin,
        cursor,
    )


def record_from_json_line(line: str, origin: str = "journal") -> Record:
    """One line of ``journalctl -o json`` -> Record; ``ValueError`` when it is not a JSON object."""
    fields = json.loads(line)
    if not isinstance(fields, dict):
        raise ValueError("not a journal entry (a JSON object)")
    if "\\u" in line:  # a \udc80 escape gives a lone surrogate no terminal or encoder accepts
        fields = {key: without_surrogates(value) if isinstance(value, str) else value
                  for key, value in fields.items()}
    return record_from_fields(fields, origin)
