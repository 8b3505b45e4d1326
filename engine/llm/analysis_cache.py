"""One explanation per (model, task, template, prompt version), in sqlite.

The database lives in the platformdirs cache (``~/.cache/alsate/analysis.sqlite3``
on Linux); ``ALSATE_CACHE_DIR`` moves it (tests, read-only homes). It runs in
WAL mode and every write is one transaction, so a process killed while writing
(or a full disk) never leaves a half-written answer: readers see the last
committed state. The cache only saves time: a database that is not one (or is
damaged) is set aside as ``analysis.sqlite3.corrupt`` and a fresh one begun, a
read that fails is a miss, and a cache that cannot be opened at all is skipped
by the caller with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.engine.config import cache_dir

log = logging.getLogger(__name__)

FILE_NAME = "analysis.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    template TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    answer TEXT NOT NULL,
    stats TEXT NOT NULL,
    created REAL NOT NULL
)
"""


_NUMBERS = re.compile(r"\b(?:0x[0-9a-f]+|\d+(?:[.:]\d+)*)\b", re.IGNORECASE)


def template_of(text: str) -> str:
    """A cheap template for a single record: numbers, hex and addresses masked."""
    return _NUMBERS.sub("<*>", " ".join(text.split()))


@dataclass(frozen=True)
class CachedAnalysis:
    answer: str
    stats: dict[str, Any]
    created: float


class AnalysisCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / FILE_NAME  # alsate.engine.config.cache_dir
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._read_failed = False
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise  # locked, full disk, read-only: the file may be fine; the caller goes on without it
            aside = self.path.with_name(self.path.name + ".corrupt")
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
            log.warning("analysis cache %s was damaged (%s); moved to %s, starting a new one", self.path, exc, aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=5)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of the process
            with db:
                db.execute(_SCHEMA)
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def key(model: str, task: str, template: str, prompt_version: str) -> str:
        raw = "\0".join((model, task, template, prompt_version))
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, model: str, task: str, template: str, prompt_version: str) -> CachedAnalysis | None:
        """The cached answer, or None (also when the database cannot be read: a miss costs only time)."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT answer, stats, created FROM analysis WHERE key = ?",
                    (self.key(model, task, template, prompt_version),),
                ).fetchone()
            if row is None:
                return None
            return CachedAnalysis(row[0], json.loads(row[1]), row[2])
        except (sqlite3.Error, ValueError) as exc:
            if not self._read_failed:
                log.warning("analysis cache %s not read: %s", self.path, exc)
            self._read_failed = True
            return None

    def put(self, model: str, task: str, template: str, prompt_version: str, answer: str,
            stats: dict[str, Any]) -> None:
        """Store an answer, in one transaction (all of it or nothing). Raises ``sqlite3.Error`` on failure."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO analysis VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.key(model, task, template, prompt_version), model, task, template, prompt_version,
                 answer, json.dumps(stats), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM analysis").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
