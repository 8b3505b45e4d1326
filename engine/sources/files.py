"""Log files (plain, rotated ``.1``, compressed ``.gz``) and standard input as record sources."""

from __future__ import annotations

import glob
import gzip
import os
import re
import stat
import sys
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO

from alsate.engine.errors import SourceError
from alsate.engine.formats import StatusPriorities, parser_for, sniff
from alsate.engine.formats.base import ParserBase
from alsate.engine.formats.journal_fields import record_from_json_line
from alsate.engine.records import Record, SourceKind
from alsate.engine.sources.follow import HEAD_SIZE, FileFollower
from alsate.engine.textio import decode

READ_SIZE = 1 << 20
SNIFF_LINES = 50
_ROTATED = re.compile(r"(?:\.(\d+))?(?:\.gz)?$")


@dataclass(frozen=True)
class FileOptions:
    """How to read a file: its format (``None`` sniffs) and format options."""

    kind: str | None = None
    log_format: str = "combined"
    statuses: StatusPriorities | None = None
    host: str | None = None


def _open_binary(path: str):
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115 - caller closes


def iter_chunks(fh, start: int = 0) -> Iterator[tuple[list[int], list[str]]]:
    """``(offsets, lines)`` a read buffer at a time: byte offset and decoded text of each line.

    CR before LF is dropped. An all-ASCII buffer (the common case) is decoded
    in one call; offsets are then character offsets, which are byte offsets.
    """
    offset = start
    partial = b""
    while True:
        data = fh.read(READ_SIZE)
        if not data:
            break
        buf = partial + data if partial else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            partial = buf
            continue
        partial = buf[cut + 1:]
        body = buf[:cut]
        offsets: list[int] = []
        if body.isascii():
            lines = body.decode("ascii").split("\n")
            for line in lines:
                offsets.append(offset)
                offset += len(line) + 1
            if b"\r" in body:
                lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        else:
            lines = []
            for piece in body.split(b"\n"):
                offsets.append(offset)
                offset += len(piece) + 1
                lines.append(decode(piece[:-1] if piece.endswith(b"\r") else piece))
        yield offsets, lines
    if partial:
        yield [offset], [decode(partial.rstrip(b"\r"))]


def iter_lines(fh, start: int = 0) -> Iterator[tuple[int, str]]:
    """``(byte offset, decoded line)`` for each line of a binary stream."""
    for offsets, lines in iter_chunks(fh, start):
        yield from zip(offsets, lines, strict=True)


def rotated_siblings(path: str) -> list[str]:
    """``path`` and its rotated copies (``path.1``, ``path.2.gz``...), oldest first."""
    found = []
    for candidate in glob.glob(glob.escape(path) + ".*"):
        suffix = candidate[len(path):]
        match = _ROTATED.fullmatch(suffix)
        if match and match.group(1):
            found.append((int(match.group(1)), candidate))
    return [name for _, name in sorted(found, reverse=True)] + [path]


class FileSource:
    """One log file, or ``-`` for standard input: read its history, then optionally follow it."""

    def __init__(self, path: str, options: FileOptions | None = None) -> None:
        self.options = options or FileOptions()
        self.path = path
        self.origin = "<stdin>" if path == "-" else os.path.abspath(path)
        self._stdin_pending: list[tuple[list[int], list[str]]] = []
        #: Where reading the history stopped: following continues from here.
        self.end_offset: int | None = None
        #: The file the history was read from, its first bytes then, and what closes it if nothing follows.
        self._held: tuple[BinaryIO, bytes, weakref.finalize] | None = None
        #: What following has to tell the user (the file deleted, back...): one line each, to pop and show.
        self.notices: deque[str] = deque(maxlen=100)
        if path != "-":
            if os.path.isdir(path):
                raise SourceError(f"{path} is a directory, not a log file (for a journal directory use -D)")
            try:
                with _open_binary(path) as fh:
                    head = [text for _, text in islice(iter_lines(fh), SNIFF_LINES)]
            except FileNotFoundError:
                raise SourceError(f"{path}: no such file") from None
            except PermissionError:
                raise SourceError(f"{path}: permission denied (try: sudo, or add yourself to the adm group)") \
                    from None
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise SourceError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        else:
            # Sniffing reads the first chunks of stdin; they are kept and replayed by chunks().
            self._stdin_chunks = iter_chunks(sys.stdin.buffer)
            head = []
            for chunk in self._stdin_chunks:
                self._stdin_pending.append(chunk)
                head += chunk[1][:SNIFF_LINES]
                if len(head) >= SNIFF_LINES:
                    break
        self._name = os.path.basename(_ROTATED.sub("", path))
        self.kind = self.options.kind or sniff(head, self._name)
        #: An empty file (just rotated) tells nothing: its format is sniffed again from its first lines.
        self._resniff = not head and self.options.kind is None
        self.parser = self._make_parser()

    def _make_parser(self) -> ParserBase | None:
        if self.kind == SourceKind.JOURNAL:
            return None  # journalctl -o json export: each line carries its own fields
        options: dict = {"host": self.options.host}
        if self.kind == SourceKind.NGINX_ACCESS:
            options.update(log_format=self.options.log_format, statuses=self.options.statuses)
        if self.kind == SourceKind.SYSLOG and self.path != "-":
            import time

            mtime = time.localtime(os.stat(self.path).st_mtime)
            options.update(year=mtime.tm_year, month=mtime.tm_mon)
        return parser_for(self.kind, self.origin, **options)

    def parse(self, pos: int, line: str) -> Record:
        if self.parser is None:
            try:
                return record_from_json_line(line, self.origin)
            except ValueError:
                return parser_for(SourceKind.TEXT, self.origin).parse(line, pos)
        return self.parser.parse(line, pos)

    def chunks(self) -> Iterator[tuple[list[int], list[str]]]:
        """The history a read buffer at a time: ``(offsets, lines)`` (see :func:`iter_chunks`)."""
        if self.path == "-":
            yield from self._stdin_pending
            self._stdin_pending = []
            yield from self._stdin_chunks
            return
        try:
            with _open_binary(self.path) as fh:
                yield from iter_chunks(fh)
                self.end_offset = fh.tell()
                if not self.path.endswith(".gz") and stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    # Kept for following, which goes on in this very file even if the path is
                    # rotated or deleted before it starts (a pipe or device has nothing to keep).
                    self.close()
                    held = os.fdopen(os.dup(fh.fileno()), "rb")
                    self._held = (held, os.pread(fh.fileno(), HEAD_SIZE, 0), weakref.finalize(self, held.close))
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.path}: read failed: {getattr(exc, 'strerror', None) or exc}") from None

    def close(self) -> None:
        """Let go of the file kept open since its history was read (following takes it over)."""
        held, self._held = self._held, None
        if held is not None:
            held[2]()  # closes it, once

    def lines(self) -> Iterator[tuple[int, str]]:
        """The history: every line now in the file, with its byte offset."""
        for offsets, lines in self.chunks():
            yield from zip(offsets, lines, strict=True)

    def records(self) -> Iterator[Record]:
        parse = self.parse
        for pos, line in self.lines():
            yield parse(pos, line)

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size if self.path != "-" else 0
        except OSError:
            return 0

    def follow_batches(self, stop: threading.Event, offset: int | None = None) -> Iterator[list[Record]]:
        """New records as they are appended (from ``offset``, default the current end), a batch per read.

        Blocking: run it in a thread; returns once ``stop`` is set.
        """
        if self.path == "-" or self.path.endswith(".gz"):
            return
        held, self._held = self._held, None
        if held is not None:
            held[2].detach()  # the follower closes it
        follower = FileFollower(self.path, offset, notices=self.notices, fh=held and held[0], head=held and held[1])
        for lines in follower.run(stop):
            texts = [(pos, decode(data[:-1] if data.endswith(b"\r") else data)) for pos, data in lines]
            if self._resniff:
                self._resniff = False
                self.kind = sniff([text for _, text in texts[:SNIFF_LINES]], self._name)
                self.parser = self._make_parser()
            parse = self.parse
            yield [parse(pos, text) for pos, text in texts]

    def follow(self, stop: threading.Event, offset: int | None = None) -> Iterator[Record]:
        """:meth:`follow_batches`, one record at a time."""
        for batch in self.follow_batches(stop, offset):
            yield from batch

