"""Every parser, on any input: never raises, the raw line survives, priorities stay in 0-7.

"Parser" means everything that reads text alsate did not write: the line formats, the sniffer, the
journal field and JSON readers, compiled nginx ``log_format``s, the file reader, and the flags a user
types (priorities, times, ``--set``). Records they give must also render (``alsate scan`` text and
``--json``) without raising and without a character a terminal would act on.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile

import pytest
from alsate.engine.errors import UserError
from alsate.engine.formats import PARSERS, AccessLogParser, LogFormat, parser_for, sniff
from alsate.engine.formats.journal_fields import record_from_fields, record_from_json_line
from alsate.engine.records import SourceKind
from alsate.engine.render import format_record
from alsate.engine.sources.files import FileSource, iter_lines
from alsate.engine.textio import decode, json_safe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PREFIXES = [
    '192.0.2.1 - - [01/May/2024:00:00:01 +0000] "GET /',
    '192.0.2.1 - - [31/Dec/9999:23:59:59 -1400] "GET / HTTP/1.1" 500 1 "-" "',
    '192.0.2.1 - - [01/Jan/0001:00:00:00 +1400] "GET / HTTP/1.1" 404 1 "-" "',
    "2024/05/01 00:00:01 [error] 1#1: *1 ",
    "9999/12/31 23:59:59 [crit] 1#1: ",
    "0001/01/01 00:00:00 [warn] 1#1: ",
    "May  1 00:00:01 host app[12]: ",
    "<34>1 2024-05-01T00:00:01Z host app 1 - - ",
    "<191>1 9999-12-31T23:59:59-14:00 host app 1 - [x a=\"1\"] ",
    "0001-01-01T00:00:00+14:00 host app: ",
    "[Wed May 01 00:00:01 2024] [error] ",
    "[Fri Dec 31 23:59:59.999999 9999] [core:crit] [pid 1:tid 2] [client 1.2.3.4:5] ",
    '{"__CURSOR": "c", "MESSAGE": "',
]
#: What must never reach a terminal from ``alsate scan`` (text or --json).
DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                       "\u2066-\u2069\ufeff\ud800-\udfff]")
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
hostile_text = st.text(alphabet=st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(["\x1b", "\x00", "\r", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\ufeff", "\u2028",
                     "[", "]", "\\", '"', "9", ":", "/", " "])), max_size=300)


def check_renders(record) -> None:
    """The record prints as a line and as JSON, with nothing a terminal acts on, the raw line intact."""
    shown = format_record(record)
    assert not DANGEROUS.search(shown) and "\n" not in shown
    document = json_safe(json.dumps(record.to_json(), ensure_ascii=False))
    assert not DANGEROUS.search(document)
    assert json.loads(document)["raw"] == record.raw


@settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(PREFIXES + [""]), body=hostile_text)
@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_parsers_never_raise_and_keep_the_raw_line(kind: str, prefix: str, body: str):
    line = prefix + body
    record = parser_for(kind, "prop").parse(line, 5)
    assert record.raw == line
    assert 0 <= record.priority <= 7 and 0 <= record.effective <= record.priority
    assert record.pos == 5
    assert isinstance(record.message, str)
    check_renders(record)


@settings(max_examples=100, deadline=None)
@given(prefix=st.sampled_from(PREFIXES + [""]), bodies=st.lists(hostile_text, min_size=1, max_size=6))
@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_store_columns_agree_with_the_parsed_record(kind: str, prefix: str, bodies: list[str]):
    """The store indexes a file line by ``columns``/``column_chunk``/``rows`` and re-parses it on display:
    the fast paths never raise and give the priorities, unit and host the record has."""
    lines = [prefix + body for body in bodies]
    offsets = list(range(0, 100 * len(lines), 100))
    records = [parser_for(kind, "prop", host="h").parse(line, pos) for pos, line in zip(offsets, lines, strict=True)]
    expected = [(r.priority, r.effective, r.unit, r.host) for r in records]
    single = [parser_for(kind, "prop", host="h").columns(line, pos)[1:] for pos, line in zip(offsets, lines, strict=True)]
    assert single == expected
    _ts, priority, effective, units, hosts = parser_for(kind, "prop", host="h").column_chunk(offsets, lines)
    units = [units] * len(lines) if isinstance(units, str) else units
    hosts = [hosts] * len(lines) if isinstance(hosts, str) else hosts
    assert list(zip(priority, effective, units, hosts, strict=True)) == expected
    rows = parser_for(kind, "prop", host="h").rows(offsets, lines, 0)
    assert [row[1:5] for row in rows] == expected and [row[6] for row in rows] == lines


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000))
def test_any_bytes_split_into_lines_with_exact_offsets(data: bytes):
    pairs = list(iter_lines(io.BytesIO(data)))
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()  # nothing after the last newline (or no data at all)
    assert len(pairs) == len(pieces)
    offset = 0
    for (pos, _line), piece in zip(pairs, pieces, strict=True):
        assert pos == offset
        offset += len(piece) + 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.sampled_from([p.encode() for p in PREFIXES] + [b""]),
       data=st.binary(max_size=600), fmt=st.sampled_from([None, *sorted(PARSERS), SourceKind.JOURNAL]))
def test_any_file_reads_whole_through_its_source(head: bytes, data: bytes, fmt: str | None):
    """A file of any bytes, sniffed or of a named format: every line becomes a record holding that line."""
    from alsate.engine.sources.files import FileOptions

    content = head + data
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "any.log")
        with open(path, "wb") as fh:
            fh.write(content)
        source = FileSource(path, FileOptions(kind=fmt))
        records = list(source.records())
    lines = [decode(line[:-1] if line.endswith(b"\r") else line) for line in content.split(b"\n")]
    if lines and lines[-1] == "" and content.endswith(b"\n") or content == b"":
        lines.pop()
    journal_lines = source.kind == SourceKind.JOURNAL
    assert len(records) == len(lines)
    for record, line in zip(records, lines, strict=True):
        if not (journal_lines and record.kind == SourceKind.JOURNAL):
            assert record.raw == line  # a journal export line becomes its MESSAGE
        assert 0 <= record.effective <= record.priority <= 7
        check_renders(record)


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(hostile_text, max_size=20), name=st.text(max_size=30))
def test_sniffing_never_raises(lines: list[str], name: str):
    assert sniff(lines, name) in (*PARSERS, SourceKind.JOURNAL)


VARIABLES = ["$remote_addr", "$remote_user", "$time_local", "$time_iso8601", "$msec", "$request", "$status",
             "$body_bytes_sent", "$http_referer", "$http_user_agent", "$request_time", "${upstream_addr}",
             "$status", "$x"]


@settings(max_examples=100, deadline=None)
@given(pieces=st.lists(st.one_of(st.sampled_from(VARIABLES), st.sampled_from([" ", " - ", ' "', '" ', "[", "] ",
                                                                                "|", "(", "\\", "$", "'"])),
                       max_size=12),
       line=hostile_text)
def test_any_log_format_compiles_or_is_a_user_error_and_parses_anything(pieces: list[str], line: str):
    fmt = "".join(pieces)
    try:
        compiled = LogFormat.compile(fmt)
    except UserError:
        return
    assert compiled.names
    record = AccessLogParser("prop", log_format=fmt).parse(line, 0)
    assert record.raw == line and 0 <= record.effective <= record.priority <= 7
    check_renders(record)


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(
    st.sampled_from(["MESSAGE", "PRIORITY", "_PID", "_HOSTNAME", "_SYSTEMD_UNIT", "__REALTIME_TIMESTAMP",
                     "SYSLOG_IDENTIFIER", "_TRANSPORT", "__CURSOR", "_COMM", "CODE_FUNC"]),
    st.one_of(hostile_text, st.binary(max_size=50), st.lists(st.integers(0, 255), max_size=20),
              st.integers(-5, 10**22), st.none())))
def test_journal_fields_of_any_type_make_a_record(fields: dict):
    record = record_from_fields(fields)
    assert 0 <= record.effective <= record.priority <= 7
    assert isinstance(record.message, str) and isinstance(record.unit, str)
    check_renders(record)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner,
                                                                                       max_size=4),
                           max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(json_values, st.dictionaries(
    st.sampled_from(["MESSAGE", "PRIORITY", "__REALTIME_TIMESTAMP", "_HOSTNAME", "__CURSOR", "_PID"]),
    json_values)), raw=st.booleans(), garbage=hostile_text)
def test_journal_json_lines_make_a_record_or_a_value_error(value, raw: bool, garbage: str):
    """``journalctl -o json`` lines (stdin ``--format journal``): anything else is a ValueError the file
    source turns into a text record, never another exception."""
    line = garbage if raw else json.dumps(value)
    try:
        record = record_from_json_line(line, "prop")
    except ValueError:
        return
    assert 0 <= record.effective <= record.priority <= 7
    check_renders(record)


@settings(max_examples=200, deadline=None)
@given(value=hostile_text)
def test_user_typed_values_are_read_or_a_user_error(value: str):
    """What a user types for -p, --since/--until and --set: a value or one clear error, nothing else."""
    from alsate.engine.config import parse_setting
    from alsate.engine.priorities import parse_priorities
    from alsate.engine.timespec import parse_time

    for parse in (parse_priorities, parse_time, parse_setting):
        try:
            result = parse(value)
        except UserError:
            continue
        if parse is parse_time:
            from datetime import datetime, timezone

            datetime.fromtimestamp(result, tz=timezone.utc).astimezone()  # a time the engine can use


@pytest.mark.parametrize("stamp", ["@1e400", "@nan", "@-1e300", "@1e20", "9999-12-31T23:59:59-14:00"])
def test_times_out_of_range_are_a_user_error(stamp: str):
    from alsate.engine.timespec import parse_time

    with pytest.raises(UserError):
        parse_time(stamp)
