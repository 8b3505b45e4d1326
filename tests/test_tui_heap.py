"""tui/heap.py: freed heap memory goes back to the system (glibc, as on the Debian boxes alsate runs on)."""

from __future__ import annotations

import threading

from alsate.tui import heap


def anon_kib() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssAnon:"))


def test_trim_gives_back_memory_freed_between_live_blocks() -> None:
    """Blocks freed between blocks still alive stay in the process until trimmed: malloc gives back only
    the top of a heap. A thread allocates, as the follower threads do (their own arena)."""
    kept: list[bytearray] = []

    def allocate() -> None:
        blocks = [bytearray(4000) for _ in range(60_000)]  # 240 MB, malloc'd (past pymalloc's 512 bytes)
        kept.extend(blocks[::100])  # one in a hundred stays: every page of the rest is free, none at the top
        blocks.clear()

    heap.trim()
    thread = threading.Thread(target=allocate)
    thread.start()
    thread.join()
    before = anon_kib()
    assert heap.trim()
    after = anon_kib()
    assert before - after > 100_000, (before, after)  # > 100 MB of the 240 MB freed
    assert len(kept) == 600


def test_arenas_can_be_limited_and_the_trimmer_stops() -> None:
    assert heap.limit_arenas(8)  # glibc's own default on this machine's 2 cores (8 x cores)
    trimmer = heap.Trimmer(seconds=0.01)
    trimmer.start()
    trimmer.stop()
    trimmer._thread.join(1)
    assert not trimmer._thread.is_alive()
