"""Following a file across rotation and truncation: every line exactly once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from alsate.engine.sources.follow import FileFollower


def lines_of(follower: FileFollower) -> list[bytes]:
    return [data for _, data in follower.poll()]


def append(path: Path, *lines: str) -> None:
    with open(path, "a") as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_starts_at_the_end_and_reads_appended_lines(tmp_path: Path):
    log = tmp_path / "app.log"
    append(log, "old 1", "old 2")
    follower = FileFollower(str(log))
    assert lines_of(follower) == []
    append(log, "new 1", "new 2")
    assert lines_of(follower) == [b"new 1", b"new 2"]


def test_partial_line_waits_for_its_newline(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("")
    follower = FileFollower(str(log))
    with open(log, "a") as fh:
        fh.write("half a li")
    assert lines_of(follower) == []
    with open(log, "a") as fh:
        fh.write("ne\nnext\n")
    assert lines_of(follower) == [b"half a line", b"next"]


def test_rename_and_create_loses_nothing(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("")
    follower = FileFollower(str(log), grace=0.0)
    with open(log, "a") as writer:  # keeps its fd across the rename, like nginx before USR1
        writer.write("a1\n")
        writer.flush()
        assert lines_of(follower) == [b"a1"]
        writer.write("a2\n")
        writer.flush()
        os.rename(log, tmp_path / "app.log.1")
        writer.write("a3 written to the renamed file\n")
    append(log, "b1", "b2")
    seen = lines_of(follower) + lines_of(follower)
    assert seen == [b"a2", b"a3 written to the renamed file", b"b1", b"b2"]
    assert follower.rotations == 1


def test_copytruncate_reads_the_tail_from_the_copy(tmp_path: Path):
    log = tmp_path / "app.log"
    append(log, "l1")
    follower = FileFollower(str(log), offset=0)
    assert lines_of(follower) == [b"l1"]
    append(log, "l2 only in the copy", "l3 only in the copy")
    shutil.copyfile(log, tmp_path / "app.log.1")  # logrotate copytruncate
    with open(log, "r+") as fh:
        fh.truncate(0)
    append(log, "after 1")
    assert lines_of(follower) == [b"l2 only in the copy", b"l3 only in the copy", b"after 1"]
    assert follower.truncations == 1
    append(log, "after 2")
    assert lines_of(follower) == [b"after 2"]


def test_truncated_then_grown_past_the_old_offset_is_detected(tmp_path: Path):
    log = tmp_path / "app.log"
    append(log, "short")
    follower = FileFollower(str(log), offset=0)
    assert lines_of(follower) == [b"short"]
    with open(log, "w") as fh:  # truncate and rewrite more than we had read
        fh.write("a much longer first line after truncation\nsecond\n")
    assert lines_of(follower) == [b"a much longer first line after truncation", b"second"]


def test_ids_stay_unique_across_rotations(tmp_path: Path):
    log = tmp_path / "app.log"
    append(log, "x")
    follower = FileFollower(str(log), offset=0, grace=0.0)
    first = follower.poll()
    os.rename(log, tmp_path / "app.log.1")
    append(log, "x")
    second = follower.poll() + follower.poll()
    assert [d for _, d in first] == [d for _, d in second] == [b"x"]
    assert first[0][0] != second[0][0]


def test_deleted_file_keeps_being_read_until_it_reappears(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("")
    follower = FileFollower(str(log), grace=0.0)
    with open(log, "a") as writer:
        os.unlink(log)
        writer.write("still written\n")
        writer.flush()
        assert lines_of(follower) == [b"still written"]
    append(log, "new file")
    assert lines_of(follower) + lines_of(follower) == [b"new file"]


def test_empty_file_gets_its_format_from_its_first_followed_lines(tmp_path: Path):
    import threading

    from alsate.engine.records import SourceKind
    from alsate.engine.sources import FileSource

    log = tmp_path / "app.log"
    log.write_text("")
    source = FileSource(str(log))
    assert source.kind == SourceKind.TEXT
    stop = threading.Event()
    batches = source.follow_batches(stop, offset=0)
    append(log, '192.0.2.1 - - [01/May/2024:00:00:01 +0000] "GET /x HTTP/1.1" 502 1 "-" "t"')
    batch = next(batches)
    stop.set()
    assert source.kind == SourceKind.NGINX_ACCESS
    assert batch[0].extra["status"] == 502 and batch[0].priority == 3


def test_followers_wait_while_the_front_end_is_busy_and_lose_nothing(tmp_path: Path):
    """``SourceSet.may_run`` cleared: appended lines are not read (the front end has the GIL); set: all are."""
    import threading
    import time

    from alsate.engine.collect import SourceSet
    from alsate.engine.sources import FileSource
    from alsate.engine.store import Store

    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:00 web1 app[1]: ERROR before\n")
    may_run = threading.Event()
    sources = SourceSet([FileSource(str(log))], window=0.0, may_run=may_run, yield_limit=30)
    sources.load(Store())
    sources.start_follow()
    try:
        for n in range(50):
            append(log, f"May  1 00:00:{n + 1:02d} web1 app[1]: ERROR line {n}")
        time.sleep(0.8)
        assert sources.poll_live(0.1) == []  # held back, not dropped
        may_run.set()
        got: list = []
        deadline = time.monotonic() + 10
        while len(got) < 50 and time.monotonic() < deadline:
            got += sources.poll_live(0.2)
        assert [r.message for r in got] == [f"ERROR line {n}" for n in range(50)]
    finally:
        sources.stop()


def _followed_messages(log: Path, between) -> list[str]:
    """Load ``log`` through a SourceSet, run ``between`` (the path changing before following starts),
    then follow: the messages of the live records, until two seconds pass with none."""
    import time

    from alsate.engine.collect import SourceSet
    from alsate.engine.sources import FileSource
    from alsate.engine.store import Store

    sources = SourceSet([FileSource(str(log))], window=0.0)
    store = Store()
    sources.load(store)
    assert len(store) == 1
    between()
    sources.start_follow()
    got: list = []
    try:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2.0:
            batch = sources.poll_live(0.2)
            if batch:
                got += batch
                quiet_since = time.monotonic()
    finally:
        sources.stop()
    assert not sources.warnings, sources.warnings
    return [r.message for r in got]


def test_a_rotation_between_history_and_following_loses_nothing(tmp_path: Path):
    """logrotate may rename the file after its history is read and before the follower starts:
    following goes on in the file that was read (its last lines), then reads the new one from its start."""
    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:01 web1 app[1]: ERROR read as history\n")

    def rotate() -> None:
        append(log, "May  1 00:00:02 web1 app[1]: ERROR after the history, before the rename")
        os.rename(log, tmp_path / "app.log.1")
        append(log, "May  1 00:00:03 web1 app[1]: ERROR first line of the new file")

    assert _followed_messages(log, rotate) == ["ERROR after the history, before the rename",
                                               "ERROR first line of the new file"]


def test_a_deletion_between_history_and_following_keeps_the_read_file(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:01 web1 app[1]: ERROR read as history\n")
    writer = open(log, "a")  # noqa: SIM115 - the application's handle, kept across the unlink

    def delete() -> None:
        os.unlink(log)
        writer.write("May  1 00:00:02 web1 app[1]: ERROR written to the deleted file\n")
        writer.flush()

    try:
        assert _followed_messages(log, delete) == ["ERROR written to the deleted file"]
    finally:
        writer.close()


def test_a_truncation_between_history_and_following_is_seen(tmp_path: Path):
    """copytruncate after the history was read: the lines only the copy has, then the file from 0."""
    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:01 web1 app[1]: ERROR read as history\n")

    def copytruncate() -> None:
        append(log, "May  1 00:00:02 web1 app[1]: ERROR copied away")
        shutil.copy(log, tmp_path / "app.log.1")
        with open(log, "r+") as fh:
            fh.truncate(0)
        append(log, "May  1 00:00:03 web1 app[1]: ERROR after the truncation")

    assert _followed_messages(log, copytruncate) == ["ERROR copied away", "ERROR after the truncation"]
