"""Drain3 template mining over masked messages, one miner per host, persisted.

State lives in ``<cache>/templates/<host>.bin``, where ``<cache>`` is
``$ALSATE_CACHE_DIR`` or ``platformdirs.user_cache_dir("alsate")``, so templates
(and their ids) survive restarts. The file is written by this process only,
atomically (a temporary file renamed over it), and loaded with drain3's own
loader. The state only saves work: a cache directory that is full or read-only,
or a state file that cannot be read, costs a one-line warning (logged) and
alsate goes on without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from alsate.engine.config import cache_dir
from alsate.engine.templates.masking import DEFAULT_MASKS, Mask, mask
from drain3 import TemplateMiner as _Drain3Miner
from drain3.persistence_handler import PersistenceHandler
from drain3.template_miner_config import TemplateMinerConfig

log = logging.getLogger(__name__)


class AtomicFilePersistence(PersistenceHandler):
    """drain3's file persistence, written atomically: a crash or a full disk never leaves half a state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save_state(self, state: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(state)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load_state(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None



@dataclass(frozen=True)
class MinerConfig:
    """Drain parameters. ``sim_th`` 0.8 and ``depth`` 5 were chosen on the Loghub 2k
    samples (``bench/template_accuracy.py`` prints the sweep)."""

    sim_th: float = 0.8
    depth: int = 5
    max_children: int = 100
    #: Seconds between automatic snapshots while templates are changing.
    save_interval_s: float = 60.0
    #: Distinct masked messages remembered for the fast path.
    cache_size: int = 200_000


@dataclass(frozen=True)
class Mined:
    """Where one message went: its cluster id and that cluster's template now."""

    cluster_id: int
    template: str


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def state_path(host: str, base: Path | None = None) -> Path:
    """``<cache>/templates/<host>.bin`` with the host name made file-safe."""
    name = _UNSAFE.sub("_", host or "localhost").lstrip(".") or "localhost"
    return (base or cache_dir()) / "templates" / f"{name[:100]}.bin"


#: Put before a token that starts with ``py/`` (or with this character) on its way into Drain, taken off
#: on the way out. drain3 saves its prefix tree with jsonpickle, whose dict keys are message tokens, and
#: jsonpickle reads a key such as ``py/object`` or ``py/ref`` as an instruction: a log line carrying one
#: made the restored tree wrong (its messages went to new clusters after a restart).
ESCAPE = "\ue000"
_ESCAPABLE = re.compile(r"(?<!\S)(?=py/|\ue000)")
_ESCAPED = re.compile(r"(?<!\S)\ue000")


def _escape(masked: str) -> str:
    return _ESCAPABLE.sub(ESCAPE, masked)


def _unescape(template: str) -> str:
    return _ESCAPED.sub("", template) if ESCAPE in template else template


class TemplateMiner:
    """Mine templates from the messages of one host.

    ``add(message)`` masks the message, then asks Drain for its cluster. Identical
    masked messages take a fast path (a dict lookup) and bump the cluster size the
    way Drain would.
    """

    def __init__(self, host: str = "localhost", config: MinerConfig | None = None, *, persist: bool = True,
                 path: Path | None = None, masks: tuple[Mask, ...] = DEFAULT_MASKS) -> None:
        self.host = host
        self.config = config or MinerConfig()
        self.masks = masks
        self.path = (path or state_path(host)) if persist else None
        dconf = TemplateMinerConfig()
        dconf.drain_sim_th = self.config.sim_th
        dconf.drain_depth = self.config.depth
        dconf.drain_max_children = self.config.max_children
        dconf.drain_max_clusters = None
        dconf.masking_instructions = []  # masking is ours (masking.py)
        dconf.parametrize_numeric_tokens = True
        dconf.snapshot_compress_state = True
        self._persistence: AtomicFilePersistence | None = None
        self._save_failed = False
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._persistence = AtomicFilePersistence(self.path)
            except OSError as exc:
                log.warning("template state not kept (cannot create %s: %s)", self.path.parent,
                            exc.strerror or exc)
        # drain3 loads any saved state in its constructor; afterwards we save on our own schedule.
        self._tm = self._load(dconf)
        self._tm.persistence_handler = None
        self._drain = self._tm.drain
        self._fast: dict[str, object] = {}
        self._dirty = False
        self._last_save = time.monotonic()

    def _load(self, dconf: TemplateMinerConfig) -> _Drain3Miner:
        """drain3's miner with the saved state loaded; an unreadable state is set aside and a fresh one begun."""
        if self._persistence is None:
            return _Drain3Miner(None, dconf)
        try:
            return _Drain3Miner(self._persistence, dconf)
        except Exception as exc:  # truncated, corrupt or unreadable: any of zlib, base64, jsonpickle, OSError
            aside = self.path.with_name(self.path.name + ".corrupt")  # type: ignore[union-attr]
            try:
                os.replace(self.path, aside)  # type: ignore[arg-type]
                where = f"moved to {aside}"
            except OSError:
                where = "left in place"
            log.warning("template state %s could not be read (%s); starting afresh, the old file %s",
                        self.path, getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"[:120], where)
            return _Drain3Miner(None, dconf)

    def add(self, message: str) -> Mined:
        """Mine one message (the text after the header). ``Mined.template`` is the cluster's
        template at this moment (it may generalise later: see ``template``)."""
        cid = self.add_id(message)
        return Mined(cid, _unescape(self._drain.id_to_cluster[cid].get_template()))

    def add_id(self, message: str) -> int:
        """``add`` without building the template text: the cluster id only (the hot path)."""
        masked = mask(message, self.masks)
        if "py/" in masked or ESCAPE in masked:
            masked = _escape(masked)
        cluster = self._fast.get(masked)
        if cluster is not None:
            cluster.size += 1  # type: ignore[attr-defined]
            return cluster.cluster_id  # type: ignore[attr-defined]
        cluster, change = self._drain.add_log_message(masked)
        if len(self._fast) >= self.config.cache_size:
            self._fast.clear()
        self._fast[masked] = cluster
        if change != "none":
            self._dirty = True
            if self._persistence is not None and time.monotonic() - self._last_save >= self.config.save_interval_s:
                self.save()
        return cluster.cluster_id

    def template(self, cluster_id: int) -> str | None:
        cluster = self._drain.id_to_cluster.get(cluster_id)
        return _unescape(cluster.get_template()) if cluster is not None else None

    def clusters(self) -> list[tuple[int, int, str]]:
        """``(cluster_id, size, template)`` for every cluster (sizes include restored state)."""
        return [(c.cluster_id, c.size, _unescape(c.get_template())) for c in self._drain.clusters]

    def save(self) -> Path | None:
        """Write the state now (no-op without persistence or changes)."""
        if self._persistence is None or self.path is None:
            return None
        self._last_save = time.monotonic()
        if self._dirty or not self.path.exists():
            self._tm.persistence_handler = self._persistence
            try:
                self._tm.save_state("alsate")
            except OSError as exc:  # disk full, read-only: the templates are still right in memory
                if not self._save_failed:
                    log.warning("template state not saved to %s: %s", self.path, exc.strerror or exc)
                self._save_failed = True
                return None
            finally:
                self._tm.persistence_handler = None
            self._dirty = False
        return self.path

    def close(self) -> None:
        self.save()
