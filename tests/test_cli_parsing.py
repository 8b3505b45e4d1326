"""Priorities and times as the user types them."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from alsate.engine.errors import UserError
from alsate.engine.priorities import parse_priorities
from alsate.engine.timespec import parse_time


@pytest.mark.parametrize(("text", "expected"), [
    ("0..4", {0, 1, 2, 3, 4}),
    ("4", {0, 1, 2, 3, 4}),
    ("err", {0, 1, 2, 3}),
    ("warning..err", {3, 4}),
    ("0,3,4", {0, 3, 4}),
    ("crit,debug", {2, 7}),
    ("all", set(range(8))),
])
def test_priorities(text: str, expected: set[int]):
    assert parse_priorities(text) == expected


@pytest.mark.parametrize("text", ["8", "loud", "", "0..9"])
def test_bad_priorities(text: str):
    with pytest.raises(UserError):
        parse_priorities(text)


NOW = 1714564800.0  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(("text", "expected"), [
    ("@1714521600", 1714521600.0),
    ("-1h", NOW - 3600),
    ("2h ago", NOW - 7200),
    ("-30min", NOW - 1800),
    ("now", NOW),
    ("2024-05-01T10:00:00+00:00", 1714557600.0),
    ("2024-05-01T10:00:00Z", 1714557600.0),
])
def test_times(text: str, expected: float):
    assert parse_time(text, now=NOW) == expected


def test_local_dates_and_days():
    assert parse_time("2024-05-01", now=NOW) == time.mktime((2024, 5, 1, 0, 0, 0, 0, 0, -1))
    today = datetime.fromtimestamp(NOW).replace(hour=0, minute=0, second=0).timestamp()
    assert parse_time("today", now=NOW) == today
    assert parse_time("yesterday", now=NOW) == today - 86400


@pytest.mark.parametrize("text", ["someday", "-3 fortnights", "2024-13-01"])
def test_bad_times(text: str):
    with pytest.raises(UserError, match="cannot read time"):
        parse_time(text, now=NOW)
