"""Text table, JSON shape and Markdown report of findings; untrusted log text stays inert."""

from __future__ import annotations

import json
from pathlib import Path

from alsate.engine.findings import FindingsEngine
from alsate.engine.findings.report import (
    evidence_lookup,
    findings_json,
    findings_table,
    markdown_report,
    md_escape,
    plain,
    write_report,
)
from alsate.engine.parse import parse_lines

HOSTILE_USER = "x`](javascript:alert(1))<img src=x onerror=alert(1)>|**\x1b[31m"


def _engine(user: str = "root") -> tuple[FindingsEngine, list]:
    lines = [f"May  1 10:00:{i:02d} web1 sshd[{100 + i}]: Failed password for {user} from 203.0.113.9 port "
             f"{4000 + i} ssh2" for i in range(12)]
    lines.append("May  1 10:00:30 web1 kernel: Out of memory: Killed process 4242 (java) total-vm:884kB, "
                 "anon-rss:737kB, file-rss:0kB, shmem-rss:0kB, UID:1000")
    records = parse_lines("syslog", lines, origin="/var/log/auth.log")
    engine = FindingsEngine(persist_templates=False)
    engine.feed_all(records)
    return engine, records


def test_table() -> None:
    engine, _ = _engine()
    text = findings_table(engine.findings())
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["SEV", "CATEGORY", "COUNT", "LAST"]
    assert "OOM killer killed java" in lines[1] and lines[1].startswith("* crit")
    assert "SSH brute force from 203.0.113.9" in lines[2] and " 12 " in lines[2] and "user=root" in lines[2]
    assert lines[-1] == "2 findings, 2 active (*)"
    assert findings_table([]) == "no findings"
    assert all(len(line) <= 110 for line in lines)


def test_json_shape_round_trips() -> None:
    engine, records = _engine()
    data = json.loads(json.dumps(findings_json(engine.findings())))
    brute = next(d for d in data if d["id"] == "ssh.bruteforce:203.0.113.9")
    for key in ("id", "title", "category", "severity", "count", "first_seen", "last_seen", "keys", "template",
                "evidence", "active"):
        assert key in brute
    assert brute["evidence"] == [r.id for r in records[:12]]
    assert brute["keys"]["ip"] == ["203.0.113.9"] and brute["severity"] == 4 and brute["count"] == 12


def test_markdown_report_quotes_evidence(tmp_path: Path) -> None:
    engine, records = _engine()
    findings = engine.findings()
    lookup = evidence_lookup(records, findings, per_finding=3)
    path = write_report(tmp_path / "report.md", findings, lookup=lookup, sources=["/var/log/auth.log"],
                        counts={"crit": 1, "info": 12}, per_finding=3, generated=1714557600)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# alsate findings\n")
    assert "## Summary: 2 findings, 2 active" in text
    assert "## 2. SSH brute force from 203.0.113.9" in text
    assert "(first 3 and the last of 12)" in text
    assert records[0].raw in text and records[11].raw in text and records[5].raw not in text
    assert "| crit | 1 |" in text


def test_hostile_log_text_is_inert() -> None:
    engine, records = _engine(HOSTILE_USER.replace(" ", "_"))
    findings = engine.findings()
    text = markdown_report(findings, lookup={r.id: r for r in records})
    # outside code fences, every markup character of the log text is escaped
    outside = text.split("```text")[0]
    assert "<img" not in outside and "](javascript" not in outside and "\x1b" not in text
    assert md_escape("<b>|`x`") == "\\<b\\>\\|\\`x\\`"
    # inside evidence, a fence made of more backticks than the text holds
    backticks = "Failed password for a````b from 1.2.3.4"
    assert markdown_report(findings, lookup={findings[1].evidence[0]: records[0]._replace(raw=backticks)}) \
        .count("`````text") == 1
    assert plain("a\x1b[2Jb\nc\u202ed") == "a?[2Jb c?d"
    table = findings_table(findings)
    assert "\x1b" not in table


def test_plain_hides_every_character_that_reorders_or_splits_a_line():
    # Arabic letter mark, line/paragraph separators, invisible operators, BOM, a lone surrogate
    for char in "\u061c\u2028\u2029\u2060\u2064\ufeff\udc80\u202e":
        assert plain(f"user{char}name") == "user?name", repr(char)
