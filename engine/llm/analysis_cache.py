"""One explanation per (model, task, template, prompt version), in sqlite.

The database lives in the platformdirs cache (``~/.cache/alsate/analysis.sqlite3``
on Linux); ``ALSATE_CACHE_DIR`` moves it (tests, read-only homes). A cache that
cannot be opened is skipped with a warning, never fatal: it only saves time.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.engine.config import cache_dir

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
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=5)
        with self._db:
            self._db.execute(_SCHEMA)

    @staticmethod
    def key(model: str, task: str, template: str, prompt_version: str) -> str:
        raw = "\0".join((model, task, template, prompt_version))
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, model: str, task: str, template: str, prompt_version: str) -> CachedAnalysis | None:
        with self._lock:
            row = self._db.execute(
                "SELECT answer, stats, created FROM analysis WHERE key = ?",
                (self.key(model, task, template, prompt_version),),
            ).fetchone()
        if row is None:
            return None
        return CachedAnalysis(row[0], json.loads(row[1]), row[2])

    def put(self, model: str, task: str, template: str, prompt_version: str, answer: str,
            stats: dict[str, Any]) -> None:
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
