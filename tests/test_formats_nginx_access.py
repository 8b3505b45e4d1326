from __future__ import annotations

import pytest
from alsate.engine.errors import UserError
from alsate.engine.formats import AccessLogParser, LogFormat, StatusPriorities

COMBINED_LINE = ('203.0.113.7 - alice [02/Mar/2024:14:01:33 +0100] "GET /api/cart?id=3 HTTP/1.1" 502 157 '
                 '"https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"')


def test_combined_line_fields_time_and_priority():
    record = AccessLogParser("access.log").parse(COMBINED_LINE, 0)
    assert record.extra["remote_addr"] == "203.0.113.7"
    assert record.extra["remote_user"] == "alice"
    assert record.extra["method"] == "GET"
    assert record.extra["path"] == "/api/cart?id=3"
    assert record.extra["status"] == 502
    assert record.extra["http_user_agent"] == "Mozilla/5.0 (X11; Linux x86_64)"
    # 14:01:33 at +0100 is 13:01:33 UTC
    assert record.ts == 1709384493.0
    assert record.priority == record.effective == 3
    assert record.raw == COMBINED_LINE


@pytest.mark.parametrize(("status", "priority"), [(200, 6), (301, 6), (404, 4), (401, 4), (500, 3), (504, 3)])
def test_status_maps_to_priority(status: int, priority: int):
    line = COMBINED_LINE.replace(" 502 ", f" {status} ")
    assert AccessLogParser("a").parse(line, 0).priority == priority


def test_status_mapping_is_configurable():
    parser = AccessLogParser("a", statuses=StatusPriorities(server_error=2, client_error=5, other=7))
    assert parser.parse(COMBINED_LINE, 0).priority == 2
    assert parser.parse(COMBINED_LINE.replace(" 502 ", " 404 "), 0).priority == 5
    assert parser.parse(COMBINED_LINE.replace(" 502 ", " 200 "), 0).priority == 7


def test_custom_log_format_compiled_from_nginx_syntax():
    fmt = ('$remote_addr [$time_local] "$request" $status $body_bytes_sent rt=$request_time '
           'uct="$upstream_connect_time" ua="$http_user_agent"')
    line = ('198.51.100.4 [02/Mar/2024:14:01:33 +0000] "POST /login HTTP/2.0" 401 12 rt=0.003 uct="0.001" '
            'ua="curl/8.0"')
    record = AccessLogParser("a", log_format=fmt).parse(line, 0)
    assert record.extra["request_time"] == "0.003"
    assert record.extra["upstream_connect_time"] == "0.001"
    assert record.extra["http_user_agent"] == "curl/8.0"
    assert record.extra["method"] == "POST" and record.extra["path"] == "/login"
    assert record.priority == 4


def test_whole_log_format_config_line_is_accepted():
    config = """log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';"""
    fmt = LogFormat.compile(config)
    assert fmt.names[-1] == "http_x_forwarded_for"
    record = AccessLogParser("a", log_format=config).parse(COMBINED_LINE + ' "10.0.0.1"', 0)
    assert record.extra["http_x_forwarded_for"] == "10.0.0.1"


def test_format_without_variables_is_a_user_error():
    with pytest.raises(UserError):
        LogFormat.compile("just text")


def test_line_not_matching_the_format_is_kept_unparsed():
    record = AccessLogParser("a").parse("garbage \x00 line", 7)
    assert record.raw == "garbage \x00 line"
    assert record.extra == {"unparsed": True}
    assert record.pos == 7


def test_fast_rows_agree_with_full_parse():
    parser = AccessLogParser("a")
    lines = [COMBINED_LINE, COMBINED_LINE.replace(" 502 ", " 200 "), "not an access line"]
    rows = parser.rows([0, 100, 200], lines, src=0)
    for row, line, pos in zip(rows, lines, [0, 100, 200], strict=True):
        record = AccessLogParser("a").parse(line, pos)
        assert row[:3] == (record.ts, record.priority, record.effective) or record.extra == {"unparsed": True}
        assert row[5:7] == (pos, line)
