"""Local privilege use: sudo and su failures, root logins on a console.

Every failure counts (threshold 1): on a server a failed ``sudo`` is rare enough
to be worth a look, and ``user NOT in sudoers`` is worse (severity err).
"""

from __future__ import annotations

import re

from alsate.engine.findings.engine import FindingSink
from alsate.engine.findings.ident import ident
from alsate.engine.findings.kernel import UNSTRUCTURED
from alsate.engine.records import Record

_PAM_FAIL = re.compile(r"pam_unix\((?P<svc>sudo|su|su-l|sudo-i):auth\): authentication failure; logname=(?P<logname>\S*) "
                       r"uid=\d* euid=\d* tty=\S* ruser=(?P<ruser>\S*) rhost=\S*(?:\s+user=(?P<user>\S+))?")
_PAM_OLD = re.compile(r"authentication failure; logname=(?P<logname>\S*) uid=(?P<uid>\d*) euid=\d* tty=\S* "
                      r"ruser=(?P<ruser>\S*) rhost=\S*(?:\s+user=(?P<user>\S+))?")
_SUDO_LINE = re.compile(r"^\s*(?P<user>\S+) : (?P<what>\d+ incorrect password attempts?|user NOT in sudoers|"
                        r"command not allowed|user NOT authorized on host|a password is required)"
                        r" ; TTY=\S* ; PWD=.*? ; USER=(?P<target>\S+) ; (?:COMMAND=(?P<cmd>.*))?")
_SU_FAILED = re.compile(r"FAILED SU \(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)|"
                        r"FAILED su for (?P<target2>\S+) by (?P<user2>\S+)")
_ROOT_CONSOLE = re.compile(r"ROOT LOGIN\s+(?:ON|on) '?(?P<tty>[^'\s]+)'?(?: FROM (?P<src>\S+))?")


class AuthDetector:
    """sudo / su failures and root console logins."""

    name = "auth"
    kinds = UNSTRUCTURED
    policy = False

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        unit = ident(record)
        msg = record.message
        if unit.startswith("sudo"):
            self._sudo(record, msg, template_key, sink)
        elif unit.startswith("su"):
            if not unit.startswith("sshd") and (unit == "su" or unit.startswith("su(") or unit.startswith("su[")):
                self._su(record, msg, template_key, sink)
        elif "ROOT LOGIN" in msg:
            m = _ROOT_CONSOLE.search(msg)
            if m is not None:
                src = m["src"] or m["tty"]
                sink.report(f"auth.root_login:{src}", detector="auth.root_login",
                            title=f"root logged in on {m['tty']}", category="security", severity=4, ts=record.ts,
                            evidence=[record.id], keys={"tty": m["tty"], "user": "root", "host": record.host},
                            template_key=template_key)

    def _sudo(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        severity = 4
        target = cmd = ""
        if "authentication failure" in msg:
            m = _PAM_FAIL.search(msg)
            if m is None:
                return
            user = m["ruser"] or m["logname"] or m["user"] or "?"
        elif " ; TTY=" in msg:
            m = _SUDO_LINE.search(msg)
            if m is None:
                return
            user, target, cmd = m["user"], m["target"], (m["cmd"] or "").strip()
            if "NOT" in m["what"] or "not allowed" in m["what"]:
                severity = 3
        else:
            return
        title = f"sudo failures by {user}" if severity == 4 else f"{user} tried sudo without permission"
        sink.report(f"auth.sudo_failure:{user}", detector="auth.sudo_failure", title=title, category="security",
                    severity=severity, ts=record.ts, evidence=[record.id],
                    keys={"user": user, "target": target, "command": cmd[:200], "host": record.host},
                    template_key=tkey)

    def _su(self, record: Record, msg: str, tkey: str, sink: FindingSink) -> None:
        if "authentication failure" in msg:
            m = _PAM_FAIL.search(msg) or _PAM_OLD.search(msg)
            if m is None:
                return
            user = m["ruser"] or m["logname"] or "?"
            target = m["user"] or "root"
        elif "FAILED" in msg:
            m = _SU_FAILED.search(msg)
            if m is None:
                return
            user = m["user"] or m["user2"]
            target = m["target"] or m["target2"]
        else:
            return
        sink.report(f"auth.su_failure:{user}", detector="auth.su_failure", title=f"su failures by {user}",
                    category="security", severity=4, ts=record.ts, evidence=[record.id],
                    keys={"user": user, "target": target, "host": record.host}, template_key=tkey)
