"""sudo / su failures and root console logins, on real-format lines."""

from __future__ import annotations

from pathlib import Path

from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines


def _run(lines: list[str], kind: str = "syslog") -> FindingsEngine:
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines(kind, lines, origin="auth.log"):
        engine.feed(record)
    return engine


def test_sudo_wrong_password() -> None:
    engine = _run([
        "May  1 10:05:01 web1 sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
        "tty=/dev/pts/0 ruser=alice rhost=  user=alice",
        "May  1 10:05:13 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; "
        "USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
    ])
    f = engine.get("auth.sudo_failure:alice")
    assert f is not None and f.count == 2 and f.severity == 4
    assert f.keys["target"] == ("root",) and f.keys["command"] == ("/usr/bin/systemctl restart nginx",)


def test_not_in_sudoers_is_more_severe() -> None:
    engine = _run(["May  1 10:05:01 web1 sudo:  mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/mallory ; "
                   "USER=root ; COMMAND=/bin/bash"])
    f = engine.get("auth.sudo_failure:mallory")
    assert f is not None and f.severity == 3 and "without permission" in f.title


def test_sudo_success_is_not_a_finding() -> None:
    engine = _run([
        "May  1 10:05:01 web1 sudo:      bob : TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/apt update",
        "May  1 10:05:01 web1 sudo: pam_unix(sudo:session): session opened for user root(uid=0) by bob(uid=1001)",
    ])
    assert engine.findings() == []


def test_su_failures() -> None:
    engine = _run([
        "2024-05-01T10:05:33.000000+00:00 web1 su[7711]: pam_unix(su:auth): authentication failure; logname=carol "
        "uid=1003 euid=0 tty=/dev/pts/1 ruser=carol rhost=  user=root",
        "2024-05-01T10:05:35.000000+00:00 web1 su[7711]: FAILED SU (to root) carol on pts/1",
    ])
    f = engine.get("auth.su_failure:carol")
    assert f is not None and f.count == 2 and f.keys["target"] == ("root",)


def test_root_console_login_in_loghub_linux(loghub: Path) -> None:
    with open(loghub / "Linux_2k.log", encoding="utf-8", errors="replace") as fh:
        engine = _run(list(fh))
    f = engine.get("auth.root_login:tty2")
    assert f is not None and f.count == 1
    # the su sessions for cyrus/news in the sample are successes: no su finding
    assert not [x for x in engine.findings() if x.detector == "auth.su_failure"]
