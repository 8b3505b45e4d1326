"""alsate never writes to a log: scan, findings, report and follow over read-only (immutable) logs and a
journal directory leave every byte, every timestamp and the directory listings as they were.

The logs are made read-only (mode 0444, directories 0555) and, as root, immutable (``chattr +i``: not even
root may write, rename or create there, so an attempt fails loudly). When strace is installed, every
system call that could change a file is also recorded and none may touch the log directories.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, JOURNAL_REMOTE, alsate_command

SYSLOG = "".join(
    [f"May  1 00:00:{n:02d} web1 sshd[9]: Failed password for invalid user u{n} from 203.0.113.9 port {4000 + n} ssh2\n"
     for n in range(30)]
    + ["May  1 00:01:00 web1 kernel: EXT4-fs error (device sda1): bad block\n",
       "May  1 00:01:01 web1 app[3]: ERROR \x1b]0;title\x07 disk full\n"])
ACCESS = "".join(f'192.0.2.{n % 9} - - [01/May/2024:00:00:{n % 60:02d} +0000] "GET /.env HTTP/1.1" 404 1 "-" "x"\n'
                 for n in range(40))
ERROR = "2024/05/01 00:00:01 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream\n"
#: System calls that change files, and open flags that could.
MUTATING = re.compile(r"^(?:\d+ +)?(creat|truncate|ftruncate|rename\w*|unlink\w*|mkdir\w*|rmdir|chmod|fchmod\w*|"
                      r"chown\w*|utime\w*|link\w*|symlink\w*|setxattr|removexattr)\(")
WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: content (files), mode, mtime and ctime (a write or chmod moves them)."""
    out = {}
    for path in sorted([root, *root.rglob("*")]):
        st = path.lstat()
        content = path.read_bytes() if path.is_file() else tuple(sorted(os.listdir(path)))
        out[str(path.relative_to(root))] = (content, st.st_mode, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    return out


def immutable(paths: list[Path], on: bool) -> bool:
    """``chattr +i`` / ``-i`` (root only); returns whether it was applied."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        return False
    result = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True)
    return result.returncode == 0


@pytest.fixture
def readonly_logs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    logs = tmp_path / "logs"
    nginx = logs / "nginx"
    nginx.mkdir(parents=True)
    (logs / "auth.log").write_text(SYSLOG)
    (nginx / "access.log").write_text(ACCESS)
    (nginx / "access.log.1").write_text(ACCESS)
    (nginx / "access.log.2.gz").write_bytes(gzip.compress(ACCESS.encode()))
    (nginx / "error.log").write_text(ERROR)
    journal = tmp_path / "journal"
    journal.mkdir()
    subprocess.run([JOURNAL_REMOTE, "-o", str(journal / "remote.journal"), str(FIXTURES / "journal-export.bin")],
                   check=True, capture_output=True, timeout=30)
    every = sorted([*logs.rglob("*"), logs, *journal.rglob("*"), journal], key=lambda p: -len(p.parts))
    for path in every:
        path.chmod(0o555 if path.is_dir() else 0o444)
    locked = immutable(every, True)
    try:
        yield logs, journal
    finally:
        if locked:
            immutable(every, False)
        for path in every:
            path.chmod(0o755 if path.is_dir() else 0o644)


def run(args: list[str], trace: Path | None, *, follow_for: float = 0.0) -> subprocess.CompletedProcess:
    """``alsate ARGS``, under strace when there is one; a follow is stopped with Ctrl+C after ``follow_for``."""
    prefix = ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=%file,%desc"] if trace is not None else []
    proc = subprocess.Popen([*prefix, *alsate_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    if follow_for:
        time.sleep(follow_for)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C reaches the whole group (strace passes none on)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def writes_under(trace: Path, roots: list[Path]) -> list[str]:
    """Lines of an strace log that open for writing, or change, something under ``roots``."""
    found = []
    for line in trace.read_text(errors="replace").splitlines():
        if not any(str(root) in line for root in roots):
            continue
        if MUTATING.match(line) or ("open" in line and WRITE_FLAGS.search(line)):
            found.append(line)
    return found


def test_scan_findings_report_and_follow_never_touch_the_logs(readonly_logs, tmp_path: Path):
    logs, journal = readonly_logs
    before = snapshot(logs), snapshot(journal)
    auth, access, error = logs / "auth.log", logs / "nginx" / "access.log", logs / "nginx" / "error.log"
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    strace = shutil.which("strace") is not None
    runs = [
        (["scan", str(auth), str(access), str(error), "--with-rotated", "-p", "all"], 0),
        (["scan", str(auth), str(access), "-D", str(journal), "--json", "--report", str(report)], 0),
        (["scan", str(journal / "remote.journal"), "-p", "all"], 0),
        (["scan", str(auth), str(access), str(error), "-D", str(journal), "-f"], 3.0),
    ]
    for n, (args, follow_for) in enumerate(runs):
        trace = tmp_path / f"trace-{n}.txt" if strace else None
        result = run(args, trace, follow_for=follow_for)
        err = result.stderr.decode()
        assert result.returncode in ((0, 130) if follow_for else (0,)), err
        assert "Traceback" not in err and "error" not in err.lower(), err
        assert result.stdout
        if trace is not None:
            assert writes_under(trace, [logs, journal]) == [], args
    assert "SSH brute force" in report.read_text()
    refused = run(["scan", str(auth), "--report", str(auth)], None)
    assert refused.returncode == 2 and b"is one of the logs being read" in refused.stderr
    assert (snapshot(logs), snapshot(journal)) == before
