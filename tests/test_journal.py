"""The journal source against real journal files (systemd-journal-remote) and a live journald."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from alsate.engine.sources.journal import JournalFilter, JournalSource
from conftest import journal_write, wait_for

BACKENDS = ["native", "journalctl"]


def read(path: Path, backend: str, monkeypatch: pytest.MonkeyPatch, **filter_args):
    monkeypatch.setenv("ALSATE_JOURNAL_BACKEND", backend)
    source = JournalSource(files=[str(path)], filter=JournalFilter(**filter_args))
    assert source.backend == backend
    return list(source.records())


@pytest.mark.parametrize("backend", BACKENDS)
def test_reads_every_entry_with_fields(journal_files: Path, backend: str, monkeypatch: pytest.MonkeyPatch):
    records = read(journal_files, backend, monkeypatch)
    assert len(records) == 13
    first = records[0]
    assert (first.host, first.unit, first.pid, first.priority) == ("web-01", "ssh.service", 812, 3)
    assert first.message.startswith("error: kex_exchange_identification")
    assert first.ts == 1714521600.0
    assert first.pos.startswith("s=")  # the journal cursor is the stable id
    kernel = records[4]
    assert kernel.unit == "kernel" and kernel.pid is None and kernel.priority == 2
    # The binary MESSAGE survives as text with the invalid bytes escaped and the ESC kept (made visible later).
    blob = records[-1]
    assert blob.message == "bad bytes \\xff\\xfe and \x1b[31mred\x1b[0m"
    assert blob.extra["_TRANSPORT"] == "stdout"


def test_both_backends_give_the_same_records(journal_files: Path, monkeypatch: pytest.MonkeyPatch):
    native = read(journal_files, "native", monkeypatch)
    fallback = read(journal_files, "journalctl", monkeypatch)
    assert native == fallback


@pytest.mark.parametrize("backend", BACKENDS)
def test_priority_unit_host_and_time_are_pushed_into_the_journal(journal_files: Path, backend: str,
                                                                 monkeypatch: pytest.MonkeyPatch):
    crit = read(journal_files, backend, monkeypatch, max_priority=2)
    assert sorted(r.priority for r in crit) == [0, 1, 2]
    api = read(journal_files, backend, monkeypatch, units=("api.service",))
    assert [r.message.split()[0] for r in api] == ["level=error", "level=info"]
    web2 = read(journal_files, backend, monkeypatch, hosts=("web-02",), max_priority=4)
    assert {r.host for r in web2} == {"web-02"} and {r.priority for r in web2} == {1, 3, 4}
    window = read(journal_files, backend, monkeypatch, since=1714521603, until=1714521605)
    assert [r.ts for r in window] == [1714521603.0, 1714521604.0, 1714521605.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_stdout_entries_are_included_for_effective_priority(journal_files: Path, backend: str,
                                                            monkeypatch: pytest.MonkeyPatch):
    """A service's level=error on stdout (journal priority 6) reaches an effective-priority filter."""
    without = read(journal_files, backend, monkeypatch, max_priority=4)
    assert not any("db timeout" in r.message for r in without)
    with_stdout = read(journal_files, backend, monkeypatch, max_priority=4, include_stdout=True)
    timeout = [r for r in with_stdout if "db timeout" in r.message]
    assert len(timeout) == 1 and timeout[0].priority == 6 and timeout[0].effective == 3
    traceback = [r for r in with_stdout if r.message.startswith("Traceback")]
    assert traceback[0].effective == 3


def test_directory_source_reads_collected_journals(journal_files: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALSATE_JOURNAL_BACKEND", "native")
    source = JournalSource(directory=str(journal_files.parent))
    assert len(list(source.records())) == 13
    assert source.origin == str(journal_files.parent)


def test_cursor_resumes_after_the_last_entry(journal_files: Path, monkeypatch: pytest.MonkeyPatch):
    all_records = read(journal_files, "native", monkeypatch)
    for backend in BACKENDS:
        monkeypatch.setenv("ALSATE_JOURNAL_BACKEND", backend)
        source = JournalSource(files=[str(journal_files)], cursor=all_records[9].pos)
        assert [r.ts for r in source.records()] == [r.ts for r in all_records[10:]]


def test_missing_directory_is_a_clear_error(tmp_path: Path):
    from alsate.engine.errors import SourceError

    with pytest.raises(SourceError, match="no such directory"):
        JournalSource(directory=str(tmp_path / "nope"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_live_follow_sees_new_entries(journald, backend: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALSATE_JOURNAL_BACKEND", backend)
    tag = f"alsate-live-{backend}-{time.time_ns()}"
    source = JournalSource(filter=JournalFilter(max_priority=4))
    stop = threading.Event()
    seen = []

    def follow():
        for record in source.follow(stop):
            if record.unit == tag:
                seen.append(record)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.5)  # the follower is at the tail
    journal_write("disk almost full on /var", priority="warning", tag=tag)
    journal_write("only info, filtered out by sd_journal", priority="info", tag=tag)
    journal_write("cannot write /var/lib/app/state: No space left on device", priority="err", tag=tag)
    wait_for(lambda: len(seen) >= 2)
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert [r.message for r in seen] == ["disk almost full on /var",
                                         "cannot write /var/lib/app/state: No space left on device"]
    assert [r.priority for r in seen] == [4, 3]
