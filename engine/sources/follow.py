"""Follow a growing log file across rotation and truncation: no line lost, none repeated.

Three things happen to a followed log:

* **rename + create** (logrotate's default, nginx reopening on USR1): the path
  now names a new inode. The old file is read to its end, and kept open for a
  grace period because the writer may append to it until it reopens; then the
  new file is read from its start.
* **copytruncate**: the file is copied to ``NAME.1`` and truncated in place.
  Whatever was appended between our last read and the copy is only in the
  copy, so it is read from there (after checking that the copy starts with the
  bytes the file started with), then the truncated file is read from 0.
* **truncation** without a copy: reading restarts at 0.

* **deleted** (or moved away with nothing in its place): the open file is
  still read (a writer may still append to it) and the path is watched; when
  a file of that name appears it is followed from its start. Both events are
  told once, in :attr:`FileFollower.notices`.

Records read after a rotation get ``pos = offset + generation * GENERATION``,
so ids stay unique across the files a path has named.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from alsate.engine.errors import SourceError

GENERATION = 1 << 40
READ_SIZE = 1 << 20
HEAD_SIZE = 256
#: Seconds the path may be missing before it is told (logrotate's rename + create takes microseconds).
MISSING_GRACE = 1.0


@dataclass
class _Open:
    fh: object
    ino: int
    dev: int
    generation: int
    offset: int = 0  # bytes consumed from the file (complete lines + partial)
    partial: bytes = b""
    head: bytes = b""
    drain_until: float = 0.0


def _open(path: str, generation: int, fh: BinaryIO | None = None) -> _Open:
    if fh is None:
        fh = open(path, "rb")  # noqa: SIM115 - held open across polls
    st = os.fstat(fh.fileno())
    return _Open(fh, st.st_ino, st.st_dev, generation)


class FileFollower:
    """Reads complete lines appended to ``path``; call :meth:`poll` or iterate :meth:`run`.

    ``fh``: the file already open on ``path`` (the one its history was read from), which the follower
    takes over, with ``head``, its first bytes when the history was read. Opening the path again would
    miss a rotation or deletion in between (the rest of the old file lost, the new one read from the
    old one's offset), and reading the head now would miss a truncation in between.
    """

    def __init__(self, path: str, offset: int | None = None, grace: float = 2.0,
                 notices: deque[str] | None = None, missing_grace: float = MISSING_GRACE,
                 fh: BinaryIO | None = None, head: bytes | None = None) -> None:
        self.path = path
        self.grace = grace
        #: One line per event worth telling the user (the file deleted, back, unreadable), oldest first;
        #: whoever shows them pops them. Appended from the follower's thread.
        self.notices: deque[str] = notices if notices is not None else deque(maxlen=100)
        self.missing_grace = missing_grace
        self._missing_since: float | None = None
        self._told_missing = False
        self._told_unopenable = False
        try:
            self._cur = _open(path, 0, fh)
        except OSError as exc:
            raise SourceError(f"cannot follow {path}: {exc.strerror}") from None
        # An offset past the end (the file truncated since it was read) is kept: the first poll then
        # sees the truncation, and reads what a copytruncate copied away.
        start = os.fstat(self._cur.fh.fileno()).st_size if offset is None else offset
        self._cur.head = os.pread(self._cur.fh.fileno(), HEAD_SIZE, 0) if head is None else head[:HEAD_SIZE]
        self._cur.fh.seek(start)
        self._cur.offset = start
        self._old: _Open | None = None
        self.rotations = 0
        self.truncations = 0

    def close(self) -> None:
        for state in (self._cur, self._old):
            if state is not None:
                state.fh.close()

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _read_lines(state: _Open, limit: int | None = None) -> list[tuple[int, bytes]]:
        """Complete lines from ``state``'s current position to EOF (or ``limit`` bytes)."""
        out: list[tuple[int, bytes]] = []
        while True:
            want = READ_SIZE if limit is None else min(READ_SIZE, limit)
            if want <= 0:
                break
            data = state.fh.read(want)
            if not data:
                break
            if limit is not None:
                limit -= len(data)
            if not state.head:
                state.head = (state.partial + data)[:HEAD_SIZE]
            buf = state.partial + data
            start_offset = state.offset - len(state.partial)
            state.offset += len(data)
            last_nl = buf.rfind(b"\n")
            if last_nl < 0:
                state.partial = buf
                continue
            state.partial = buf[last_nl + 1:]
            pos = start_offset
            base = state.generation * GENERATION
            for piece in buf[:last_nl].split(b"\n"):
                out.append((base + pos, piece))
                pos += len(piece) + 1
        return out

    @staticmethod
    def _flush_partial(state: _Open) -> list[tuple[int, bytes]]:
        if not state.partial:
            return []
        line = (state.generation * GENERATION + state.offset - len(state.partial), state.partial)
        state.partial = b""
        return [line]

    def _copy_of(self, state: _Open) -> str | None:
        """The copy copytruncate made of the truncated file, if there is one that matches."""
        for candidate in (self.path + ".1", self.path + "-" + time.strftime("%Y%m%d"), self.path + ".0"):
            try:
                with open(candidate, "rb") as fh:
                    if os.fstat(fh.fileno()).st_size >= state.offset - len(state.partial) and \
                            fh.read(len(state.head)) == state.head and state.head:
                        return candidate
            except OSError:
                continue
        return None

    def poll(self) -> list[tuple[int, bytes]]:
        """Lines that became complete since the last poll, as ``(pos, bytes)``; never blocks."""
        out: list[tuple[int, bytes]] = []
        now = time.monotonic()
        if self._old is not None:
            out += self._read_lines(self._old)
            if now >= self._old.drain_until:
                out += self._flush_partial(self._old)
                self._old.fh.close()
                self._old = None
        cur = self._cur
        try:
            st = os.stat(self.path)
        except OSError as exc:
            # Deleted, or renamed with no successor yet: keep reading the open file.
            self._missing(exc, now)
            return out + self._read_lines(cur)
        self._missing_since = None
        if (st.st_ino, st.st_dev) != (cur.ino, cur.dev):
            out += self._read_lines(cur)  # the rotated file, to its current end
            self._rotate(now)
        elif st.st_size < cur.offset or (cur.head and os.pread(cur.fh.fileno(), len(cur.head), 0) != cur.head):
            # Shorter than what we read, or rewritten from the start (truncated, then grown past us).
            return out + self._truncated(cur)
        return out + self._read_lines(self._cur)

    def _missing(self, exc: OSError, now: float) -> None:
        if self._missing_since is None:
            self._missing_since = now
        if self._told_missing or now - self._missing_since < self.missing_grace:
            return
        self._told_missing = True
        if exc.errno == errno.ENOENT:
            gone = "deleted" if os.fstat(self._cur.fh.fileno()).st_nlink == 0 else "moved away"
            what = f"{self.path} was {gone}"
        else:
            what = f"{self.path}: {exc.strerror}"
        self.notices.append(f"{what}; still reading the open file, and following {self.path} again "
                            "when it reappears")

    def _rotate(self, now: float) -> None:
        try:
            fresh = _open(self.path, self._cur.generation + 1)
        except OSError as exc:  # e.g. created by logrotate with a mode we may not read: tried again next poll
            if not self._told_unopenable:
                self._told_unopenable = True
                self.notices.append(f"cannot open the new {self.path}: {exc.strerror}; "
                                    "still reading the old file")
            return
        if self._told_missing or self._told_unopenable:
            self.notices.append(f"following the new {self.path}")
        self._told_missing = self._told_unopenable = False
        if self._old is not None:
            self._old.fh.close()
        self._old = self._cur
        self._old.drain_until = now + self.grace
        self._cur = fresh
        self.rotations += 1

    def _truncated(self, cur: _Open) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        copy = self._copy_of(cur)
        if copy is not None:
            with open(copy, "rb") as fh:
                cur.fh, live = fh, cur.fh
                fh.seek(cur.offset)
                out += self._read_lines(cur)
                cur.fh = live
        out += self._flush_partial(cur)
        cur.fh.seek(0)
        cur.offset = 0
        cur.head = b""
        cur.generation += 1
        self.truncations += 1
        out += self._read_lines(cur)
        return out

    def run(self, stop: threading.Event, interval: float = 0.2) -> Iterator[list[tuple[int, bytes]]]:
        """Yield the lines of each poll that found some, until ``stop`` is set (blocking: use a thread)."""
        try:
            while not stop.is_set():
                lines = self.poll()
                if lines:
                    yield lines
                else:
                    stop.wait(interval)
        finally:
            self.close()
