"""sshd / PAM detectors on real-format lines (OpenSSH 9 auth.log, the Loghub OpenSSH and Linux samples)."""

from __future__ import annotations

from pathlib import Path

from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines


def _run(lines: list[str], kind: str = "syslog") -> FindingsEngine:
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines(kind, lines, origin="auth.log"):
        engine.feed(record)
    return engine


def _attempts(ip: str, user: str, n: int, start_min: int = 10, gap_s: int = 6) -> list[str]:
    out = []
    for i in range(n):
        t = start_min * 60 + i * gap_s
        stamp = f"May  1 10:{t // 60 % 60:02d}:{t % 60:02d}"
        port = 40000 + i
        out.append(f"{stamp} web1 sshd[{5000 + i}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                   f"tty=ssh ruser= rhost={ip}  user={user}")
        out.append(f"{stamp} web1 sshd[{5000 + i}]: Failed password for {user} from {ip} port {port} ssh2")
    return out


def test_brute_force_collects_every_failure_as_evidence() -> None:
    lines = _attempts("203.0.113.9", "root", 8)  # 16 failure lines
    engine = _run(lines)
    f = engine.get("ssh.bruteforce:203.0.113.9")
    assert f is not None
    assert f.category == "security" and f.severity == 4 and f.active
    assert f.count == 16 and len(f.evidence) == 16
    assert f.evidence == tuple(f"auth.log#{i}" for i in range(16))  # the ones before the threshold too
    assert f.keys["ip"] == ("203.0.113.9",) and f.keys["user"] == ("root",)
    assert "Failed password" in f.template or "authentication failure" in f.template


def test_few_failures_are_not_a_finding() -> None:
    engine = _run(_attempts("192.0.2.10", "alice", 3))
    assert engine.findings() == []


def test_failures_spread_beyond_the_window_do_not_add_up() -> None:
    # one attempt (2 lines) every 5 minutes: never 10 lines within 10 minutes
    lines = []
    for i in range(12):
        lines += _attempts("192.0.2.11", "root", 1, start_min=i * 5)
    assert _run(lines).get("ssh.bruteforce:192.0.2.11") is None


def test_spraying_and_invalid_users() -> None:
    lines = []
    for i, user in enumerate(["admin", "test", "oracle", "postgres", "ubuntu", "git"]):
        stamp = f"May  1 10:20:{i * 5:02d}"
        lines += [f"{stamp} web1 sshd[{700 + i}]: Invalid user {user} from 198.51.100.23 port {3000 + i}",
                  f"{stamp} web1 sshd[{700 + i}]: Failed password for invalid user {user} from 198.51.100.23 "
                  f"port {3000 + i} ssh2"]
    engine = _run(lines)
    spray = engine.get("ssh.spraying:198.51.100.23")
    assert spray is not None and set(spray.keys["user"]) == {"admin", "test", "oracle", "postgres", "ubuntu", "git"}
    invalid = engine.get("ssh.invalid_users:web1")
    assert invalid is not None and invalid.severity == 5
    assert engine.get("ssh.bruteforce:198.51.100.23") is not None  # 12 failure lines


def test_distributed_attack_on_one_user() -> None:
    lines = []
    for i in range(6):
        lines += _attempts(f"192.0.2.{100 + i}", "root", 1, start_min=30 + i)
    engine = _run(lines)
    f = engine.get("ssh.distributed:root")
    assert f is not None and len(f.keys["ip"]) == 6
    assert not [x for x in engine.findings() if x.id.startswith("ssh.bruteforce")]


def test_success_after_brute_force_and_new_root_login() -> None:
    lines = _attempts("203.0.113.77", "root", 6)
    lines.append("May  1 10:11:00 web1 sshd[5999]: Accepted password for root from 203.0.113.77 port 59113 ssh2")
    engine = _run(lines)
    after = engine.get("ssh.login_after_failures:203.0.113.77")
    assert after is not None and after.severity == 1 and after.evidence == ("auth.log#12",)
    assert engine.get("auth.root_login:203.0.113.77") is not None


def test_login_after_a_couple_of_typos_is_fine() -> None:
    lines = _attempts("192.0.2.10", "alice", 2)
    lines.append("May  1 10:11:00 web1 sshd[5999]: Accepted password for alice from 192.0.2.10 port 59113 ssh2")
    assert _run(lines).findings() == []


def test_message_repeated_counts_its_repetitions() -> None:
    lines = ["Dec 10 09:32:20 LabSZ sshd[24680]: message repeated 5 times: [ Failed password for root from "
             "5.36.59.76 port 42393 ssh2]",
             "Dec 10 09:32:30 LabSZ sshd[24680]: message repeated 5 times: [ Failed password for root from "
             "5.36.59.76 port 42393 ssh2]"]
    f = _run(lines).get("ssh.bruteforce:5.36.59.76")
    assert f is not None and f.count == 10 and len(f.evidence) == 2


def test_journal_sshd_records(tmp_path: Path) -> None:
    import json

    lines = []
    for i in range(12):
        fields = {"__CURSOR": f"s=a;i={i}", "__REALTIME_TIMESTAMP": str(1714557600000000 + i * 2_000_000),
                  "_HOSTNAME": "db1", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "sshd", "_SYSTEMD_UNIT": "ssh.service",
                  "_PID": str(100 + i), "MESSAGE": f"Failed password for admin from 192.0.2.45 port {4000 + i} ssh2"}
        lines.append(json.dumps(fields))
    f = _run(lines, kind="journal").get("ssh.bruteforce:192.0.2.45")
    assert f is not None and f.count == 12 and f.evidence[0] == "auth.log#s=a;i=0"


def test_loghub_openssh_attackers(loghub: Path) -> None:
    with open(loghub / "OpenSSH_2k.log", encoding="utf-8", errors="replace") as fh:
        engine = _run(list(fh))
    ids = {f.id for f in engine.findings()}
    # 183.62.140.253 and 187.141.143.180 hammer the box for hours in this sample
    assert {"ssh.bruteforce:183.62.140.253", "ssh.bruteforce:187.141.143.180"} <= ids
    assert "ssh.spraying:103.99.0.122" in ids
    assert all(f.category == "security" for f in engine.findings())
    # the one legitimate login in the sample (fztu) is not flagged
    assert not any("fztu" in str(f.keys) for f in engine.findings() if f.detector == "ssh.login_after_failures")


def test_loghub_linux_pam_failures(loghub: Path) -> None:
    with open(loghub / "Linux_2k.log", encoding="utf-8", errors="replace") as fh:
        engine = _run(list(fh))
    f = engine.get("ssh.bruteforce:150.183.249.110")
    assert f is not None and f.count >= 10
    # old-style "sshd(pam_unix)" lines with a resolved host name as rhost
    assert engine.get("ssh.bruteforce:220-135-151-1.hinet-ip.hinet.net") is not None


def test_keyboard_interactive_and_old_illegal_user_wording() -> None:
    lines = []
    for i in range(6):
        lines += [f"May  1 10:00:{i * 5:02d} c7 sshd[{900 + i}]: error: PAM: Authentication failure for root from "
                  "203.0.113.60",
                  f"May  1 10:00:{i * 5 + 1:02d} c7 sshd[{900 + i}]: Failed keyboard-interactive/pam for root from "
                  f"203.0.113.60 port {51000 + i} ssh2"]
    lines += [f"May  1 10:01:{i:02d} old sshd[{950 + i}]: Failed password for illegal user test{i} from 192.0.2.9 "
              f"port {4000 + i} ssh2" for i in range(10)]
    engine = _run(lines)
    assert engine.get("ssh.bruteforce:203.0.113.60").count == 12
    assert engine.get("ssh.bruteforce:192.0.2.9") is not None
    assert engine.get("ssh.spraying:192.0.2.9") is not None
