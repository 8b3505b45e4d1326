from __future__ import annotations

import pytest
from alsate.engine.effective import effective_priority, stated_priority


@pytest.mark.parametrize(("message", "expected"), [
    ('level=error msg="db timeout"', 3),
    ('time=2024-05-01T00:00:00Z level=warn msg="slow query"', 4),
    ('{"time": "x", "level": "error", "msg": "boom"}', 3),
    ('{"severity":"CRITICAL","message":"disk gone"}', 2),
    ("2024-05-01 12:00:00 ERROR [main] com.example.App - request failed", 3),
    ("WARN  cache miss ratio 0.93", 4),
    ("FATAL: password authentication failed for user \"app\"", 2),
    ("Traceback (most recent call last):", 3),
    ("panic: runtime error: invalid memory address or nil pointer dereference", 2),
    ("java[4121]: segfault at 0 ip 00007f sp 00007ffd error 4 in libc.so.6", 3),
    ("Out of memory: Killed process 4121 (java)", 2),
    ("EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0", 3),
    ("Kernel panic - not syncing: Fatal exception", 0),
])
def test_content_states_a_level(message: str, expected: int):
    assert stated_priority(message) == expected
    assert effective_priority(6, message) == expected


@pytest.mark.parametrize("message", [
    "request served in 3ms, 0 errors",
    "Accepted publickey for deploy from 192.0.2.10 port 50122 ssh2",
    "user clicked the error page link",
    "ALERT exited abnormally with [1]",
])
def test_plain_messages_state_nothing(message: str):
    assert stated_priority(message) is None
    assert effective_priority(6, message) == 6


def test_content_never_lowers_severity():
    # An attacker-written "level=debug" cannot hide an err line from the filter.
    assert effective_priority(3, "level=debug GET /?q=level=debug") == 3
    assert effective_priority(6, "level=debug heartbeat") == 6


def test_only_the_head_of_a_huge_line_is_read():
    message = "x" * 10_000 + " ERROR"
    assert stated_priority(message) is None
