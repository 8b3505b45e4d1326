from __future__ import annotations

import time

from alsate.engine.formats import ErrorLogParser

UPSTREAM = ('2024/03/02 14:01:33 [error] 1234#1234: *56 upstream timed out (110: Connection timed out) while '
            'reading response header from upstream, client: 203.0.113.7, server: shop.example.com, request: '
            '"GET /api/cart HTTP/1.1", upstream: "http://127.0.0.1:8080/api/cart", host: "shop.example.com"')


def test_error_line_fields():
    record = ErrorLogParser("error.log").parse(UPSTREAM, 0)
    assert record.priority == record.effective == 3
    assert record.pid == 1234
    assert record.extra["cid"] == 56
    assert record.extra["client"] == "203.0.113.7"
    assert record.extra["server"] == "shop.example.com"
    assert record.extra["request"] == "GET /api/cart HTTP/1.1"
    assert record.extra["upstream"] == "http://127.0.0.1:8080/api/cart"
    assert record.extra["host"] == "shop.example.com"
    assert record.extra["text"].startswith("upstream timed out (110")
    assert record.ts == time.mktime((2024, 3, 2, 14, 1, 33, 0, 0, -1))


def test_levels_map_to_syslog_priorities():
    levels = {"emerg": 0, "alert": 1, "crit": 2, "error": 3, "warn": 4, "notice": 5, "info": 6, "debug": 7}
    for level, priority in levels.items():
        line = f"2024/03/02 14:01:33 [{level}] 77#77: something happened"
        record = ErrorLogParser("e").parse(line, 0)
        assert record.priority == priority, level
        assert record.extra == {"level": level, "tid": 77}


def test_emerg_config_error_without_connection():
    line = '2024/03/02 14:01:33 [emerg] 901#901: unknown directive "proxy_pas" in /etc/nginx/sites-enabled/shop:14'
    record = ErrorLogParser("e").parse(line, 0)
    assert record.priority == 0
    assert "cid" not in record.extra
    assert record.message.startswith('unknown directive "proxy_pas"')


def test_quoted_request_with_comma_inside_stays_whole():
    line = ('2024/03/02 14:01:33 [error] 1#1: *2 open() "/srv/a,b" failed (2: No such file or directory), '
            'client: 192.0.2.1, server: x, request: "GET /a,b?x=1, client: 6.6.6.6 HTTP/1.1", host: "x"')
    record = ErrorLogParser("e").parse(line, 0)
    assert record.extra["client"] == "192.0.2.1"
    assert record.extra["request"] == "GET /a,b?x=1, client: 6.6.6.6 HTTP/1.1"
