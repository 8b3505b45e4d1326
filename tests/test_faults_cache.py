"""Faults in what alsate keeps: the cache directory full, the analysis cache killed mid-write or damaged,
the template state unreadable. The command still gives its answer, with a one-line warning; the analysis
cache is never left half-written. (Chat history is not persisted anywhere: sessions live in memory.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alsate.engine.llm.analysis_cache import AnalysisCache
from conftest import run_alsate


@contextlib.contextmanager
def full_tmpfs(size_kb: int = 64, leave_kb: int = 0) -> Iterator[Path]:
    """A small tmpfs (root only), filled up to ``leave_kb`` free; unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    where = Path(tempfile.mkdtemp(prefix="alsate-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)], check=True)
    try:
        filler = where / "filler"
        fill(filler)
        if leave_kb:
            with open(filler, "r+b") as fh:
                fh.truncate(max(0, filler.stat().st_size - leave_kb * 1024))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system is full."""
    with open(path, "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 1024)


def varied_log(path: Path, lines: int = 3000) -> None:
    """Many different messages: the template state grows past a few KB."""
    words = ["disk", "queue", "worker", "socket", "table", "index", "cache", "session", "upstream", "lock"]
    with open(path, "w") as fh:
        for n in range(lines):
            picked = " ".join(words[(n * k) % len(words)] + str(k) for k in range(1, 2 + n % 6))
            fh.write(f"May  1 00:{n // 60 % 60:02d}:{n % 60:02d} web1 app{n % 40}[1]: ERROR {picked} failed {n}\n")


def test_scan_with_a_full_cache_directory_still_answers(tmp_path: Path):
    log = tmp_path / "app.log"
    varied_log(log)
    with full_tmpfs() as full:
        result = run_alsate("scan", str(log), "-n", "3", env={"ALSATE_CACHE_DIR": str(full / "cache")})
        leftovers = [str(p.relative_to(full)) for p in full.rglob("*") if p.is_file() and p.name != "filler"]
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "-- 3000 of 3000 records shown" in result.stdout.decode() and "failed 2999" in result.stdout.decode()
    assert err.count("\n") == 1 and "template state not" in err and "No space left on device" in err, err
    assert leftovers == []  # no half-written state, no temporary file left behind


def test_corrupt_template_state_is_set_aside(tmp_path: Path):
    log = tmp_path / "app.log"
    varied_log(log, 200)
    cache = tmp_path / "cache"
    first = run_alsate("scan", str(log), env={"ALSATE_CACHE_DIR": str(cache)})
    state = cache / "templates" / "web1.bin"
    assert first.returncode == 0 and state.exists() and not first.stderr
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])  # cut short, as a crash would
    second = run_alsate("scan", str(log), env={"ALSATE_CACHE_DIR": str(cache)})
    err = second.stderr.decode()
    assert second.returncode == 0 and err.count("\n") == 1 and "could not be read" in err, err
    assert second.stdout == first.stdout
    assert (cache / "templates" / "web1.bin.corrupt").exists() and state.exists()
    third = run_alsate("scan", str(log), env={"ALSATE_CACHE_DIR": str(cache)})
    assert third.returncode == 0 and not third.stderr  # the fresh state reads back


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from alsate.engine.llm.analysis_cache import AnalysisCache

    cache = AnalysisCache(Path(sys.argv[1]))
    n = int(sys.argv[2])
    while True:
        cache.put("model", "explain", f"template {n}", "v1", f"answer {n} " * 20000, {"n": n})
        print(n, flush=True)
        n += 1
""")


def test_a_writer_killed_mid_write_leaves_the_cache_whole(tmp_path: Path):
    path = tmp_path / "analysis.sqlite3"
    cache = AnalysisCache(path)
    assert cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cache.close()
    start = 0
    for delay in (0.4, 0.9, 0.6):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start)], stdout=subprocess.PIPE)
        committed = []
        deadline = time.monotonic() + delay + 30
        while len(committed) < 3 and time.monotonic() < deadline:
            committed.append(int(writer.stdout.readline()))
        time.sleep(delay / 10)  # somewhere inside a later write
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        committed += [int(line) for line in writer.stdout.read().split()]
        cache = AnalysisCache(path)
        assert cache._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for n in range(committed[-1] + 1):  # every answer it said it wrote is there, and whole
            hit = cache.get("model", "explain", f"template {n}", "v1")
            assert hit is not None and hit.answer == f"answer {n} " * 20000 and hit.stats == {"n": n}
        start = len(cache)
        cache.close()
    assert start >= 9


def test_a_damaged_analysis_cache_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "analysis.sqlite3"
    cache = AnalysisCache(path)
    for n in range(50):
        cache.put("m", "explain", f"t{n}", "v", "x" * 2000, {})
    cache.close()
    data = path.read_bytes()
    for damaged in (b"this is not a database" * 100, data[:4096] + b"\xff" * (len(data) - 4096)):
        path.write_bytes(damaged)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        caplog.clear()
        cache = AnalysisCache(path)
        assert len(cache) == 0
        cache.put("m", "explain", "t", "v", "fresh", {})
        assert cache.get("m", "explain", "t", "v").answer == "fresh"
        cache.close()
        assert Path(f"{path}.corrupt").read_bytes() == damaged
        assert any("was damaged" in r.getMessage() for r in caplog.records)


def test_analysis_cache_on_a_full_disk_costs_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Opening fails (nothing fits) or writing fails (the database fits, the answer does not): either way
    the analyst still answers, with one warning."""
    from alsate.engine.llm.analyst import Analyst
    from alsate.engine.llm.profiles import load_profile
    from llm_fixtures import ScriptedBackend, records

    with full_tmpfs() as full, pytest.raises(sqlite3.OperationalError):
        AnalysisCache(full / "analysis.sqlite3")
    with full_tmpfs(size_kb=512, leave_kb=200) as full:
        cache = AnalysisCache(full / "analysis.sqlite3")
        cache.put("m", "explain", "small", "v", "fits", {})
        fill(full / "filler2")
        answer = "Cause - disk " + "x" * 20000 + "\nRemediation steps -\n1. Free space on /var.\nThreat level - low"
        analyst = Analyst(ScriptedBackend([answer]), load_profile("smollm2"), cache=cache)
        started = analyst.explain(records(["ERROR disk full on /var"]))
        text = "".join(started.stream)
        assert "Cause - disk xxxx" in text  # the answer, whole
        assert any("analysis cache not written" in r.getMessage() for r in caplog.records)
        assert cache.get("m", "explain", "small", "v").answer == "fits"  # what was there survives
        cache.close()


@pytest.mark.slow
def test_explain_with_a_full_cache_directory_answers_with_one_warning(tmp_path: Path):
    """The real path: `alsate explain` on the embedded model, its cache directory full."""
    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:01 web1 app[1]: ERROR cannot write /var/lib/app: No space left on device\n")
    with full_tmpfs() as full:
        result = run_alsate("explain", str(log), "-p", "all", "--max-tokens", "8",
                            env={"ALSATE_CACHE_DIR": str(full / "cache")}, timeout=280)
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert result.stdout.decode().strip()
    lines = err.splitlines()
    assert lines and all(line.startswith("alsate: warning: ") for line in lines), err
    assert any("analysis cache not used" in line for line in lines) and "Traceback" not in err
