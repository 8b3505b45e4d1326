"""Every parser, on any text: never raises, the raw line survives, priorities stay in 0-7."""

from __future__ import annotations

import pytest
from alsate.engine.formats import PARSERS, parser_for
from alsate.engine.formats.journal_fields import record_from_fields
from alsate.engine.sources.files import iter_lines
from hypothesis import given, settings
from hypothesis import strategies as st

PREFIXES = [
    '192.0.2.1 - - [01/May/2024:00:00:01 +0000] "GET /',
    "2024/05/01 00:00:01 [error] 1#1: *1 ",
    "May  1 00:00:01 host app[12]: ",
    "<34>1 2024-05-01T00:00:01Z host app 1 - - ",
    "[Wed May 01 00:00:01 2024] [error] ",
]
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(PREFIXES + [""]), body=text)
@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_parsers_never_raise_and_keep_the_raw_line(kind: str, prefix: str, body: str):
    line = prefix + body
    record = parser_for(kind, "prop").parse(line, 5)
    assert record.raw == line
    assert 0 <= record.priority <= 7 and 0 <= record.effective <= record.priority
    assert record.pos == 5
    assert isinstance(record.message, str)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000))
def test_any_bytes_split_into_lines_with_exact_offsets(data: bytes):
    import io

    pairs = list(iter_lines(io.BytesIO(data)))
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()  # nothing after the last newline (or no data at all)
    assert len(pairs) == len(pieces)
    offset = 0
    for (pos, _line), piece in zip(pairs, pieces, strict=True):
        assert pos == offset
        offset += len(piece) + 1


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(
    st.sampled_from(["MESSAGE", "PRIORITY", "_PID", "_HOSTNAME", "_SYSTEMD_UNIT", "__REALTIME_TIMESTAMP",
                     "SYSLOG_IDENTIFIER", "_TRANSPORT", "__CURSOR"]),
    st.one_of(text, st.binary(max_size=50), st.lists(st.integers(0, 255), max_size=20), st.integers(-5, 10**18))))
def test_journal_fields_of_any_type_make_a_record(fields: dict):
    record = record_from_fields(fields)
    assert 0 <= record.priority <= 7
    assert isinstance(record.message, str) and isinstance(record.unit, str)
