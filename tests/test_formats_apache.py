from __future__ import annotations

import time

from alsate.engine.formats import ApacheErrorParser


def test_apache22_line():
    line = "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"
    record = ApacheErrorParser("a").parse(line, 0)
    assert record.priority == 3
    assert record.message == "mod_jk child workerEnv in error state 6"
    assert record.ts == time.mktime((2005, 12, 4, 4, 47, 44, 0, 0, -1))


def test_apache24_line_with_module_pid_and_client():
    line = ("[Wed Oct 11 14:32:52.123456 2023] [core:error] [pid 4121:tid 139] [client 192.0.2.8:5123] "
            "AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1")
    record = ApacheErrorParser("a").parse(line, 0)
    assert record.priority == 3
    assert record.pid == 4121
    assert record.extra == {"level": "error", "module": "core", "tid": 139, "client": "192.0.2.8:5123"}
    assert record.message.startswith("AH00126: Invalid URI")
    assert abs(record.ts - (time.mktime((2023, 10, 11, 14, 32, 52, 0, 0, -1)) + 0.123456)) < 1e-6
