"""sshd / PAM: brute force, password spraying, distributed attacks on one user,
invalid users, success after failures, new root logins.

Counting unit: a *failure line* (``Failed password ...``, a PAM
``authentication failure ... rhost=``, ``Invalid user ...``, ``Connection closed
by authenticating user ...``); ``message repeated N times: [ Failed ...]`` counts
N. One real attempt can leave two lines (sshd's and PAM's), so thresholds are in
lines, and chosen so that a person mistyping a password a few times stays
below them.
"""

from __future__ import annotations

import re

from alsate.engine.findings.engine import FindingSink
from alsate.engine.findings.ident import is_sshd
from alsate.engine.findings.kernel import UNSTRUCTURED
from alsate.engine.findings.window import Burst
from alsate.engine.records import Record

#: Failure lines from one address within WINDOW seconds that make a brute force.
BRUTE_THRESHOLD = 10
#: Distinct user names tried from one address within WINDOW: password spraying.
SPRAY_USERS = 5
#: Distinct addresses failing for one user within WINDOW: distributed attack on that user.
DISTRIBUTED_IPS = 5
#: Invalid-user lines on one host within WINDOW.
INVALID_THRESHOLD = 3
WINDOW = 600.0

_FAILED = re.compile(
    r"Failed (?:password|publickey|none|keyboard-interactive(?:/pam)?|hostbased|gssapi-with-mic) for "
    r"(?:(?:invalid|illegal) user )?(?P<user>\S*) from (?P<ip>\S+) port \d+")
_REPEATED = re.compile(r"message repeated (?P<n>\d+) times: \[ ?Failed \S+ for (?:(?:invalid|illegal) user )?(?P<user>\S*) "
                       r"from (?P<ip>\S+)")
_INVALID = re.compile(r"^(?:Invalid|Illegal) user (?P<user>.*?) from (?P<ip>\S+?)(?: port \d+)?\s*$")
_CLOSED = re.compile(r"(?:Connection closed by|Disconnected from|Connection reset by) "
                     r"(?P<what>authenticating|invalid) user (?P<user>\S*) (?P<ip>\S+) port \d+ \[preauth\]")
_MAXAUTH = re.compile(r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>\S*) "
                      r"from (?P<ip>\S+) port")
_PAM_FAIL = re.compile(r"authentication failure; logname=\S* uid=\d* euid=\d* tty=\S* ruser=\S* "
                       r"rhost=(?P<ip>[^\s=]*)(?:\s+user=(?P<user>\S+))?")
_PAM_ERROR = re.compile(r"error: PAM: [Aa]uthentication failure for (?:(?:invalid|illegal) user )?(?P<user>\S*) "
                        r"from (?P<ip>\S+)")
_ACCEPTED = re.compile(r"Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port \d+")


class SshDetector:
    """Failure bursts per address and per user, invalid users, logins after failures, root logins."""

    name = "ssh"
    kinds = UNSTRUCTURED
    policy = False

    def __init__(self, threshold: int = BRUTE_THRESHOLD, spray_users: int = SPRAY_USERS,
                 distributed_ips: int = DISTRIBUTED_IPS, window: float = WINDOW) -> None:
        self.by_ip = Burst(threshold, window)
        self.users_by_ip = Burst(spray_users, window, distinct=True)
        self.ips_by_user = Burst(distributed_ips, window, distinct=True)
        self.invalid = Burst(INVALID_THRESHOLD, window)
        self.window = window

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        if not is_sshd(record):
            return
        msg = record.message
        user = ip = ""
        weight = 1
        invalid = False
        if "Failed " in msg:
            m = _REPEATED.search(msg) if "repeated" in msg else _FAILED.search(msg)
            if m is None:
                return
            user, ip = m["user"], m["ip"]
            if "repeated" in msg:
                weight = int(m["n"])
            invalid = "invalid user" in msg
        elif "uthentication failure" in msg:
            m = _PAM_FAIL.search(msg)
            if m is not None:
                ip, user = m["ip"], m["user"] or ""
            else:
                m = _PAM_ERROR.search(msg)
                if m is None:
                    return
                ip, user = m["ip"], m["user"]
        elif "nvalid user" in msg or "llegal user" in msg:
            m = _INVALID.search(msg)
            if m is None:
                return
            user, ip = m["user"].strip(), m["ip"]
            invalid = True
            self._invalid(record, template_key, user, ip, sink)
        elif "user" in msg and "[preauth]" in msg:
            m = _CLOSED.search(msg) or _MAXAUTH.search(msg)
            if m is None:
                return
            user, ip = m["user"], m["ip"]
        elif "Accepted " in msg:
            m = _ACCEPTED.search(msg)
            if m is not None:
                self._accepted(record, template_key, m["user"], m["ip"], m["method"], sink)
            return
        else:
            return
        self._failure(record, template_key, user, ip, weight, invalid, sink)

    def _failure(self, record: Record, tkey: str, user: str, ip: str, weight: int, invalid: bool,
                 sink: FindingSink) -> None:
        ts, rid, host = record.ts, record.id, record.host
        if not ip:
            return
        hit = self.by_ip.add(ip, ts, rid, user, weight)
        if hit is not None:
            sink.report(f"ssh.bruteforce:{ip}", detector="ssh.bruteforce", title=f"SSH brute force from {ip}",
                        category="security", severity=4, ts=ts, evidence=[r for r, _ in hit],
                        count=self.by_ip.hit_weight,
                        keys={"ip": ip, "user": [u for _, u in hit if u], "host": host}, template_key=tkey,
                        detail=f"{BRUTE_THRESHOLD}+ failed SSH logins from one address within "
                               f"{int(self.window // 60)} min")
        if user:
            hit = self.users_by_ip.add(ip, ts, rid, user)
            if hit is not None:
                sink.report(f"ssh.spraying:{ip}", detector="ssh.spraying",
                            title=f"SSH password spraying from {ip}", category="security", severity=4, ts=ts,
                            evidence=[r for r, _ in hit], keys={"ip": ip, "user": [u for _, u in hit], "host": host},
                            template_key=tkey,
                            detail=f"{SPRAY_USERS}+ different user names tried from one address")
            hit = self.ips_by_user.add(user, ts, rid, ip)
            if hit is not None:
                sink.report(f"ssh.distributed:{user}", detector="ssh.distributed",
                            title=f"SSH logins for '{user}' failing from many addresses", category="security",
                            severity=4, ts=ts, evidence=[r for r, _ in hit],
                            keys={"user": user, "ip": [i for _, i in hit], "host": host}, template_key=tkey,
                            detail=f"{DISTRIBUTED_IPS}+ source addresses failing for the same user")

    def _invalid(self, record: Record, tkey: str, user: str, ip: str, sink: FindingSink) -> None:
        hit = self.invalid.add(record.host, record.ts, record.id, f"{user}\x00{ip}")
        if hit is not None:
            pairs = [v.split("\x00", 1) for _, v in hit]
            sink.report(f"ssh.invalid_users:{record.host}", detector="ssh.invalid_users",
                        title=f"SSH logins for non-existent users on {record.host}", category="security",
                        severity=5, ts=record.ts, evidence=[r for r, _ in hit],
                        keys={"user": [p[0] for p in pairs], "ip": [p[1] for p in pairs], "host": record.host},
                        template_key=tkey)

    def _accepted(self, record: Record, tkey: str, user: str, ip: str, method: str, sink: FindingSink) -> None:
        ts = record.ts
        if self.by_ip.firing(ip):
            sink.report(f"ssh.login_after_failures:{ip}", detector="ssh.login_after_failures",
                        title=f"SSH login as '{user}' from {ip} after repeated failures", category="security",
                        severity=1, ts=ts, evidence=[record.id], keys={"ip": ip, "user": user, "host": record.host},
                        template_key=tkey, detail=f"accepted by {method}; check whether the account is compromised")
        if user == "root":
            # One finding per source: the first root login from an address creates it ("new"),
            # later ones from the same address add to it.
            sink.report(f"auth.root_login:{ip}", detector="auth.root_login",
                        title=f"root logged in over SSH from {ip}", category="security", severity=4, ts=ts,
                        evidence=[record.id], keys={"ip": ip, "user": "root", "host": record.host},
                        template_key=tkey, detail=f"accepted by {method}")
