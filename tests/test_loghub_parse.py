"""The real Loghub samples parse with zero failures, and the parse agrees with Loghub's own structure."""

from __future__ import annotations

import csv

import pytest
from alsate.engine.parse import parse_lines

CASES = [("Linux_2k.log", "syslog"), ("OpenSSH_2k.log", "syslog"), ("Apache_2k.log", "apache-error")]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_line_parses_and_matches_loghub_content(loghub, name, kind):
    lines = (loghub / name).read_text(encoding="utf-8", errors="backslashreplace").splitlines()
    records = parse_lines(kind, lines, origin=name)
    assert len(records) == len(lines) == 2000
    unparsed = [r.raw for r in records if r.extra and r.extra.get("unparsed")]
    assert unparsed == []
    with open(loghub / f"{name}_structured.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for record, row in zip(records, rows, strict=True):
        content = row["Content"].strip()
        if kind == "apache-error":
            # Loghub keeps Apache's "[client IP]" in Content; alsate moves it into extra["client"].
            assert record.extra["level"] == row["Level"]
            client = record.extra.get("client")
            expected = f"[client {client}] {record.message}" if client else record.message
            assert expected.strip() == content, row["LineId"]
            continue
        assert record.message.strip() == content, row["LineId"]
        if name == "Linux_2k.log":
            assert record.unit == row["Component"], row["LineId"]
            assert record.pid == (int(row["PID"]) if row["PID"] else None), row["LineId"]
        else:
            assert record.unit == "sshd" and record.host == "LabSZ"
            assert record.pid == int(row["Pid"]), row["LineId"]
