"""Faults while following: the followed file deleted or unreadable, the journal rotated and vacuumed,
files and journals alsate may not read. Each is told in one line (or a clean exit), never a traceback,
and following goes on. Rotation, copytruncate and truncation are in test_follow.py.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from alsate.engine.sources.follow import FileFollower
from conftest import JOURNALD, alsate_command, run_alsate, wait_for

BACKENDS = ["native", "journalctl"]


class Running:
    """``alsate`` in the background, its stdout and stderr collected line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen([*prefix, *alsate_command(), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._collect, args=(stream, into), daemon=True).start()

    @staticmethod
    def _collect(stream, into: list[str]) -> None:
        for line in iter(stream.readline, b""):
            into.append(line.decode("utf-8", "replace"))

    def wait_out(self, text: str, timeout: float = 20) -> None:
        wait_for(lambda: any(text in line for line in self.out), timeout=timeout)

    def wait_err(self, text: str, timeout: float = 20) -> None:
        wait_for(lambda: any(text in line for line in self.err), timeout=timeout)

    def stop(self) -> str:
        """Stop it as Ctrl+C would; returns stderr (checked for tracebacks)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.1)
        err = "".join(self.err)
        assert "Traceback" not in err and "internal error" not in err, err
        return err


def unprivileged() -> tuple[str, ...]:
    """A command prefix that takes away root's power over files (a user namespace in which this uid is
    unmapped: permission bits apply again), or nothing when not root."""
    if os.geteuid() != 0:
        return ()
    probe = subprocess.run(["unshare", "-U", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and cannot drop privileges (unshare -U: {probe.stderr.decode().strip()})")
    return ("unshare", "-U")


# -- a followed file deleted ------------------------------------------------------------------------

def test_follower_tells_a_deletion_once_and_follows_the_new_file(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("")
    follower = FileFollower(str(log), grace=0.0, missing_grace=0.0)
    with open(log, "a") as writer:
        os.unlink(log)
        writer.write("written after the unlink\n")
        writer.flush()
        seen = [data for _ in range(5) for _, data in follower.poll()]
    assert seen == [b"written after the unlink"]
    assert list(follower.notices) == [f"{log} was deleted; still reading the open file, and following {log} again "
                                      "when it reappears"]
    log.write_text("new file\n")
    assert [data for _ in range(3) for _, data in follower.poll()] == [b"new file"]
    assert list(follower.notices)[1:] == [f"following the new {log}"]
    os.rename(log, tmp_path / "elsewhere.log")
    for _ in range(3):
        follower.poll()
    assert list(follower.notices)[2].startswith(f"{log} was moved away;")
    follower.close()


def test_scan_follow_goes_on_when_its_file_is_deleted_and_recreated(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:01 web1 app[1]: ERROR first\n")
    running = Running("scan", str(log), "-f", "-p", "all", "--no-findings")
    try:
        running.wait_out("ERROR first")
        with open(log, "a") as writer:
            os.unlink(log)
            time.sleep(0.5)
            writer.write("May  1 00:00:02 web1 app[1]: ERROR written to the deleted file\n")
            writer.flush()
            running.wait_out("written to the deleted file")
            running.wait_err("was deleted")
        time.sleep(1.5)  # still missing: told once, not once a poll
        log.write_text("May  1 00:00:03 web1 app[1]: ERROR in the new file\n")
        running.wait_out("in the new file")
        running.wait_err("following the new")
        with open(log, "a") as fh:
            fh.write("May  1 00:00:04 web1 app[1]: ERROR still followed\n")
        running.wait_out("still followed")
        assert running.proc.poll() is None
    finally:
        err = running.stop()
    assert err.count("was deleted") == 1 and err.count("following the new") == 1
    assert all(line.startswith("alsate: ") for line in err.splitlines())


# -- permission denied -------------------------------------------------------------------------------

def test_unreadable_file_and_journal_directory_are_one_line(tmp_path: Path, journal_files: Path):
    prefix = unprivileged()
    log = tmp_path / "secret.log"
    log.write_text("x\n")
    log.chmod(0)
    journal_dir = journal_files.parent
    journal_dir.chmod(0)
    try:
        for args, message in (([str(log)], "permission denied (try: sudo"),
                              (["-D", str(journal_dir)], "permission denied; add yourself to the systemd-journal")):
            result = subprocess.run([*prefix, *alsate_command(), "scan", *args], capture_output=True, timeout=60)
            err = result.stderr.decode()
            assert result.returncode == 1 and message in err, err
            assert err.count("\n") == 1 and "Traceback" not in err
    finally:
        journal_dir.chmod(0o755)


def test_unwritable_cache_directory_costs_a_warning_not_the_answer(tmp_path: Path):
    prefix = unprivileged()
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    log = tmp_path / "app.log"
    log.write_text("".join(f"May  1 00:00:{n:02d} web1 app[1]: ERROR disk {n} failed\n" for n in range(20)))
    result = subprocess.run([*prefix, *alsate_command(), "scan", str(log)], capture_output=True, timeout=60,
                            env={**os.environ, "ALSATE_CACHE_DIR": str(cache)})
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "-- 20 of 20 records shown" in result.stdout.decode()
    assert err.startswith("alsate: warning: template state not kept") and err.count("\n") == 1, err


def test_a_new_file_that_cannot_be_opened_is_told_then_followed_when_it_can(tmp_path: Path):
    prefix = unprivileged()
    log = tmp_path / "app.log"
    log.write_text("May  1 00:00:01 web1 app[1]: ERROR before rotation\n")
    running = Running("scan", str(log), "-f", "-p", "all", "--no-findings", prefix=prefix)
    try:
        running.wait_out("before rotation")
        os.rename(log, tmp_path / "app.log.1")
        # Created unreadable, as logrotate's `create 0600 someone-else` does: writing it first and
        # chmod-ing after leaves an instant in which the follower may open it.
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0)
        os.write(fd, b"May  1 00:00:02 web1 app[1]: ERROR in the new file\n")
        os.close(fd)
        running.wait_err("cannot open the new")
        time.sleep(1.0)
        log.chmod(0o644)
        running.wait_out("in the new file")
        running.wait_err("following the new")
    finally:
        err = running.stop()
    assert err.count("cannot open the new") == 1 and "Permission denied" in err


# -- the journal vacuumed while followed -------------------------------------------------------------

class NamespacedJournald:
    """A journald of its own namespace (its own sockets and files), so rotating and vacuuming it touches
    no one else's journal."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("starting a journald namespace needs root")
        self.name = f"alsatetest{os.getpid()}x{time.monotonic_ns() % 100000}"
        self.socket = f"/run/systemd/journal.{self.name}/socket"
        self.proc = subprocess.Popen([JOURNALD, self.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.socket), timeout=10)
        self.send("alsate test journal", "start")
        self.directory = wait_for(self._find_directory, timeout=10)

    def _find_directory(self) -> str | None:
        found = glob.glob(f"/var/log/journal/*.{self.name}") + glob.glob(f"/run/log/journal/*.{self.name}")
        return found[0] if found and glob.glob(os.path.join(found[0], "*.journal")) else None

    def send(self, tag: str, message: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(f"MESSAGE={message}\nPRIORITY=3\nSYSLOG_IDENTIFIER={tag}\n".encode(), self.socket)

    def rotate(self) -> None:
        self.proc.send_signal(signal.SIGUSR2)  # journald: rotate the journal files

    def archived(self) -> list[str]:
        return [p for p in glob.glob(os.path.join(self.directory, "*.journal*")) if "@" in os.path.basename(p)]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
        shutil.rmtree(os.path.dirname(self.socket), ignore_errors=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_follow_survives_the_journal_being_rotated_and_vacuumed(backend: str):
    journald = NamespacedJournald()
    tag = f"alsate-vacuum-{backend}"
    running = None
    try:
        running = Running("scan", "-D", journald.directory, "-f", "--json", "-p", "all", "--no-findings", "-n", "0",
                          env={"ALSATE_JOURNAL_BACKEND": backend})
        time.sleep(2.0)  # at the tail
        for n in range(3):
            journald.send(tag, f"before vacuum {n}")
            journald.rotate()
            time.sleep(0.3)
        running.wait_out("before vacuum 2")
        assert journald.archived()
        vacuum = subprocess.run(["journalctl", "-D", journald.directory, "--vacuum-files=1"], capture_output=True,
                                timeout=30)
        assert vacuum.returncode == 0 and not journald.archived(), vacuum.stderr
        for n in range(3):
            journald.send(tag, f"after vacuum {n}")
        running.wait_out("after vacuum 2")
        assert running.proc.poll() is None
    finally:
        err = running.stop() if running is not None else ""
        journald.close()
    messages = [json.loads(line)["message"] for line in running.out if tag in line]
    assert messages == [f"before vacuum {n}" for n in range(3)] + [f"after vacuum {n}" for n in range(3)]
    assert "warning" not in err


def test_scan_of_a_vacuumed_journal_directory_is_clean():
    """Reading a journal directory right after its archived files are vacuumed (history, not follow)."""
    journald = NamespacedJournald()
    try:
        for n in range(3):
            journald.send("alsate-vacuumed", f"entry {n}")
            journald.rotate()
            time.sleep(0.3)
        subprocess.run(["journalctl", "-D", journald.directory, "--vacuum-files=1"], capture_output=True,
                       timeout=30, check=True)
        result = run_alsate("scan", "-D", journald.directory, "-p", "all", "--json", "--no-findings")
        assert result.returncode == 0 and not result.stderr, result.stderr
        json.loads(result.stdout)
    finally:
        journald.close()
