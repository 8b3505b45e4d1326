"""Which program wrote a record, whatever its source."""

from __future__ import annotations

from alsate.engine.records import Record

_SSH_UNITS = frozenset({"ssh.service", "sshd.service", "ssh", "sshd"})


def ident(record: Record) -> str:
    """The syslog identifier (``sshd``, ``sudo``, ``systemd``...): a journal record's
    ``SYSLOG_IDENTIFIER`` when it has one, else its unit."""
    extra = record.extra
    if extra is not None and record.kind == "journal":
        name = extra.get("SYSLOG_IDENTIFIER")
        if name:
            return name
    return record.unit


def is_sshd(record: Record) -> bool:
    unit = record.unit
    if unit.startswith("sshd") or unit in _SSH_UNITS or unit.startswith("ssh@"):
        return True
    return ident(record).startswith("sshd") or record.message.startswith("pam_unix(sshd")
