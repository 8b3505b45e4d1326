from __future__ import annotations

import time

from alsate.engine.formats import SyslogParser


def test_rfc3164_line():
    line = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4"
    record = SyslogParser("auth.log", year=2024, month=12).parse(line, 0)
    assert (record.host, record.unit, record.pid) == ("combo", "sshd(pam_unix)", 19939)
    assert record.message == "authentication failure; rhost=218.188.2.4"
    assert record.ts == time.mktime((2024, 6, 14, 15, 16, 1, 0, 0, -1))
    assert record.priority == 6


def test_year_rolls_back_for_months_after_the_files_date():
    line = "Dec 31 23:59:59 h cron[1]: x"
    record = SyslogParser("s", year=2025, month=1).parse(line, 0)
    assert time.localtime(record.ts).tm_year == 2024


def test_pri_header_gives_the_priority():
    record = SyslogParser("s", year=2024, month=6).parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed", 0)
    assert record.priority == 2  # 34 = facility 4 (auth) * 8 + severity 2
    assert record.unit == "su"


def test_rfc5424_line():
    line = ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 17 ID47 '
            '[exampleSDID@32473 iut="3" eventSource="Application"] An application event')
    record = SyslogParser("s").parse(line, 0)
    assert record.priority == 5
    assert (record.host, record.unit, record.pid) == ("mymachine.example.com", "evntslog", 17)
    assert record.extra["msgid"] == "ID47"
    assert record.extra["structured_data"].startswith("[exampleSDID@32473")
    assert record.message == "An application event"
    assert record.ts == 1065910455.003


def test_iso_stamped_line_like_rsyslog_precise_format():
    line = "2024-05-11T03:12:45.123456+00:00 web-01 kernel: Out of memory: Killed process 4121 (java)"
    record = SyslogParser("s").parse(line, 0)
    assert record.unit == "kernel" and record.host == "web-01"
    assert record.ts == 1715397165.123456
    assert record.priority == 6 and record.effective == 2


def test_line_without_ident():
    record = SyslogParser("s", year=2024, month=6).parse("Jun 14 15:16:01 combo some free text", 0)
    assert record.host == "combo"
    assert record.message == "some free text" or record.message.endswith("some free text")
