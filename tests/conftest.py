"""Fixtures that start the real things alsate reads: journald, journal files, nginx."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOGHUB = ROOT.parent / "shared" / "data" / "loghub"
JOURNALD = "/lib/systemd/systemd-journald"
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
JOURNAL_SOCKET = "/run/systemd/journal/stdout"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config, cache and state go to a temp dir: tests never touch the user's."""
    base = tmp_path_factory.mktemp("alsate-home")
    for name in ("CONFIG", "CACHE", "STATE"):
        monkeypatch.setenv(f"ALSATE_{name}_DIR", str(base / name.lower()))


@pytest.fixture(scope="session")
def loghub() -> Path:
    if not (LOGHUB / "Linux_2k.log").exists():
        pytest.fail(f"Loghub samples not found at {LOGHUB}")
    return LOGHUB


def alsate_command() -> list[str]:
    """The installed ``alsate`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "alsate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "alsate.engine.cli"]


def run_alsate(*args: str, input: bytes | None = None, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*alsate_command(), *args], input=input, capture_output=True, timeout=timeout,
                          env=full_env)


@pytest.fixture
def journal_files(tmp_path: Path) -> Path:
    """A journal file written by systemd-journal-remote from the export-format fixture."""
    if not os.path.exists(JOURNAL_REMOTE):
        pytest.fail("systemd-journal-remote is not installed (apt-get install systemd-journal-remote)")
    out = tmp_path / "journal" / "remote.journal"
    out.parent.mkdir()
    subprocess.run([JOURNAL_REMOTE, "-o", str(out), str(FIXTURES / "journal-export.bin")], check=True,
                   capture_output=True, timeout=30)
    return out


def _journald_running() -> bool:
    if not os.path.exists(JOURNAL_SOCKET):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(JOURNAL_SOCKET)
            return True
        except OSError:
            return False


@pytest.fixture(scope="session")
def journald() -> Iterator[None]:
    """A real systemd-journald: the machine's if it runs, else a standalone one (needs root)."""
    proc = None
    if not _journald_running():
        if os.geteuid() != 0:
            pytest.fail("a live journal test needs journald running, or root to start it")
        proc = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _journald_running():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("systemd-journald did not start")
            time.sleep(0.05)
    yield
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


def journal_write(message: str, priority: str = "err", tag: str | None = None) -> str:
    """Write one entry to the live journal with systemd-cat; returns the tag used."""
    tag = tag or f"alsate-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["systemd-cat", "-t", tag, "-p", priority], input=message.encode(), check=True, timeout=10)
    return tag


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    """A real nginx on 127.0.0.1 with its prefix, config and logs in a temp dir."""

    def __init__(self, root: Path, log_format: str | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.upstream_port = free_port()  # nothing listens here: proxying to it fails
        self.access_log = root / "logs" / "access.log"
        self.error_log = root / "logs" / "error.log"
        (root / "logs").mkdir(parents=True)
        (root / "html").mkdir()
        (root / "html" / "index.html").write_text("<h1>alsate test</h1>\n")
        fmt = f"log_format custom '{log_format}';" if log_format else ""
        access = f"access_log {self.access_log} {'custom' if log_format else 'combined'};"
        user = "user root root;" if os.geteuid() == 0 else ""  # workers must read the temp dir
        (root / "nginx.conf").write_text(f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 64; }}
http {{
    {fmt}
    {access}
    client_body_temp_path {root}/tmp_body;
    proxy_temp_path {root}/tmp_proxy;
    fastcgi_temp_path {root}/tmp_fcgi;
    uwsgi_temp_path {root}/tmp_uwsgi;
    scgi_temp_path {root}/tmp_scgi;
    server {{
        listen 127.0.0.1:{self.port};
        server_name alsate.test;
        root {root}/html;
        location /broken/ {{ proxy_pass http://127.0.0.1:{self.upstream_port}; }}
        location /private/ {{ deny all; }}
    }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-p", str(root), "-c", str(root / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nginx failed: {self.proc.stderr.read().decode()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.05)

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def reopen_logs(self) -> None:
        """What logrotate's postrotate does: USR1 makes nginx reopen its log files."""
        os.kill(self.proc.pid, signal.SIGUSR1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (apt-get install nginx)")
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)


def run_train(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``alsate-train ARGS`` in a subprocess (text output)."""
    return subprocess.run([sys.executable, "-m", "alsate.train.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def assert_train_error(proc: subprocess.CompletedProcess, message: str) -> None:
    """``alsate-train`` failed with one line that names the problem, exit code 2 and no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (message, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("alsate-train: ") and message in lines[0], (message, lines)
    assert "Traceback" not in proc.stderr
