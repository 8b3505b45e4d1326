"""The systemd journal as a record source.

The native path is systemd-python's ``journal.Reader`` (sd_journal): PRIORITY,
unit and host matches and the ``since`` seek are pushed into sd_journal, and
live follow blocks in ``sd_journal_wait`` (in the caller's thread, never an
event loop). When systemd-python cannot be imported, ``journalctl -o json``
gives the same records. ``ALSATE_JOURNAL_BACKEND=journalctl`` forces the
fallback.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from alsate.engine.errors import SourceError
from alsate.engine.formats.journal_fields import record_from_fields
from alsate.engine.records import Record

try:  # pragma: no cover - depends on the machine
    from systemd import journal as sd_journal
except ImportError:  # pragma: no cover
    sd_journal = None

JOURNAL_GROUPS = ("systemd-journal", "adm", "wheel")
PERMISSION_HINT = ("add yourself to the systemd-journal (or adm) group: "
                   "sudo usermod -aG systemd-journal $USER, then log in again")


@dataclass(frozen=True)
class JournalFilter:
    """What to read. Priorities/units/hosts are OR within a field and AND across fields."""

    max_priority: int | None = None
    priorities: frozenset[int] | None = None
    units: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    #: Also read stdout-transport entries (journald files them at priority 6 whatever they say),
    #: so a filter on effective priority sees a service's ``level=error`` lines.
    include_stdout: bool = False
    #: Start after this cursor instead of at the head (history) or the tail (follow).
    cursor: str | None = None
    #: Extra ``(field, value)`` matches read whatever their priority (OR-ed, within the unit/host filter).
    also: tuple[tuple[str, str], ...] = ()

    def priority_set(self) -> list[int] | None:
        if self.priorities is not None:
            return sorted(self.priorities)
        if self.max_priority is not None:
            return list(range(self.max_priority + 1))
        return None


def can_read_system_journal() -> bool:
    """Whether this user sees the whole system journal (root or a journal-reading group)."""
    if os.geteuid() == 0:
        return True
    groups = set()
    for gid in os.getgroups():
        try:
            groups.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return bool(groups & set(JOURNAL_GROUPS))


def backend() -> str:
    forced = os.environ.get("ALSATE_JOURNAL_BACKEND")
    if forced in ("native", "journalctl"):
        if forced == "native" and sd_journal is None:
            raise SourceError("systemd-python is not installed (pip install systemd-python)")
        return forced
    return "native" if sd_journal is not None else "journalctl"


class JournalSource:
    """The local journal, a journal directory (``-D``), or journal files."""

    def __init__(self, directory: str | None = None, files: Sequence[str] = (),
                 filter: JournalFilter | None = None, cursor: str | None = None) -> None:
        self.directory = directory
        self.files = tuple(files)
        self.filter = filter or JournalFilter()
        self.cursor = cursor or self.filter.cursor
        self.backend = backend()
        if directory:
            self.origin = os.path.abspath(directory)
            self._check_path(directory, is_dir=True)
        elif self.files:
            self.origin = os.path.abspath(self.files[0]) if len(self.files) == 1 else "journal-files"
            for path in self.files:
                self._check_path(path, is_dir=False)
        else:
            self.origin = "journal"
        self.warning: str | None = None
        if not directory and not self.files and not can_read_system_journal():
            self.warning = f"you can only read your own journal entries; {PERMISSION_HINT}"

    @staticmethod
    def _check_path(path: str, is_dir: bool) -> None:
        if not os.path.exists(path):
            raise SourceError(f"{path}: no such {'directory' if is_dir else 'file'}")
        if is_dir != os.path.isdir(path):
            raise SourceError(f"{path}: not a journal {'directory' if is_dir else 'file'}")
        if not os.access(path, os.R_OK | (os.X_OK if is_dir else 0)):
            raise SourceError(f"{path}: permission denied; {PERMISSION_HINT}")

    # -- native ---------------------------------------------------------------------------------

    def _reader(self):
        assert sd_journal is not None
        try:
            if self.directory:
                reader = sd_journal.Reader(path=self.directory)
            elif self.files:
                reader = sd_journal.Reader(files=list(self.files))
            else:
                reader = sd_journal.Reader()
        except OSError as exc:
            raise SourceError(f"cannot open the journal: {exc.strerror or exc}") from None
        for n, term in enumerate(self._terms()):
            if n:
                reader.add_disjunction()
            for key, value in term:
                reader.add_match(**{key: value})
        return reader

    def _terms(self) -> list[list[tuple[str, str]]]:
        """The match expression as OR-ed terms of AND-ed fields (values of one field OR-ed)."""
        common = [("_SYSTEMD_UNIT", unit) for unit in self.filter.units]
        common += [("_HOSTNAME", host) for host in self.filter.hosts]
        priorities = self.filter.priority_set()
        if priorities is None:
            return [common] if common else []
        terms = [[("PRIORITY", str(level)) for level in priorities] + common]
        if self.filter.include_stdout:
            terms.append([("_TRANSPORT", "stdout")] + common)
        terms += [[match] + common for match in self.filter.also]
        return terms

    def _native_history(self) -> Iterator[Record]:
        reader = self._reader()
        try:
            if self.cursor:
                reader.seek_cursor(self.cursor)
                reader.get_next()  # the entry at the cursor was seen already
            elif self.filter.since is not None:
                reader.seek_realtime(datetime.fromtimestamp(self.filter.since, tz=timezone.utc))
            until = self.filter.until
            while True:
                entry = reader.get_next()
                if not entry:
                    break
                record = record_from_fields(entry, self.origin)
                if until is not None and record.ts > until:
                    break
                yield record
        finally:
            reader.close()

    def _native_follow(self, stop: threading.Event, from_tail: bool) -> Iterator[list[Record]]:
        reader = self._reader()
        try:
            if self.cursor and not from_tail:
                reader.seek_cursor(self.cursor)
                reader.get_next()
            else:
                reader.seek_tail()
                reader.get_previous()
            batch: list[Record] = []
            while not stop.is_set():
                entry = reader.get_next()
                if entry:
                    batch.append(record_from_fields(entry, self.origin))
                    if len(batch) < 1000:
                        continue
                if batch:
                    yield batch
                    batch = []
                    continue
                # Blocks in sd_journal_wait (inotify) for at most 0.25 s so `stop` is honoured.
                reader.wait(0.25)
        finally:
            reader.close()

    # -- journalctl fallback ----------------------------------------------------------------

    def _journalctl_args(self, follow: bool) -> list[str]:
        exe = shutil.which("journalctl")
        if exe is None:
            raise SourceError("neither systemd-python nor journalctl is available to read the journal")
        # --all: without it journalctl prints fields over 4096 bytes as null (a long line would be lost).
        args = [exe, "-o", "json", "--all", "--no-pager", "-q"]
        if self.directory:
            args += ["-D", self.directory]
        for path in self.files:
            args += ["--file", path]
        for n, term in enumerate(self._terms()):
            if n:
                args.append("+")
            args += [f"{key}={value}" for key, value in term]
        if follow:
            args += ["-f"]
            if self.cursor:
                args += ["--after-cursor", self.cursor]
            else:
                args += ["-n", "0"]
        else:
            if self.cursor:
                args += ["--after-cursor", self.cursor]
            if self.filter.since is not None:
                args += ["--since", f"@{self.filter.since:.6f}"]
            if self.filter.until is not None:
                args += ["--until", f"@{self.filter.until:.6f}"]
        return args

    def _journalctl(self, follow: bool, stop: threading.Event | None = None) -> Iterator[Record]:
        args = self._journalctl_args(follow)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watcher = None
        if stop is not None:
            watcher = threading.Thread(target=lambda: (stop.wait(), proc.terminate()), daemon=True)
            watcher.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if not line.strip():
                    continue
                try:
                    fields = json.loads(line)
                except ValueError:
                    continue
                yield record_from_fields(fields, self.origin)
            if proc.wait() not in (0, -15) and not (stop and stop.is_set()):
                message = (proc.stderr.read() if proc.stderr else b"").decode("utf-8", "replace").strip()
                if message:
                    raise SourceError(f"journalctl: {message.splitlines()[-1]}")
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
            if stop is not None and not stop.is_set() and watcher is not None:
                stop.set()

    # -- public ----------------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Entries matching the filter, oldest first."""
        if self.backend == "native":
            return self._native_history()
        return self._journalctl(follow=False)

    def follow_batches(self, stop: threading.Event, from_tail: bool = True) -> Iterator[list[Record]]:
        """New entries as they are written, in batches, until ``stop`` is set. Blocking: use a thread."""
        if self.backend == "native":
            return self._native_follow(stop, from_tail)
        return ([record] for record in self._journalctl(follow=True, stop=stop))

    def follow(self, stop: threading.Event, from_tail: bool = True) -> Iterator[Record]:
        """:meth:`follow_batches`, one record at a time."""
        for batch in self.follow_batches(stop, from_tail):
            yield from batch
