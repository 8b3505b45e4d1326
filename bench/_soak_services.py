"""The real services a soak run reads: nginx on 127.0.0.1 and a journald namespace, both in temp places.

nginx is configured as tests/conftest.py's ``Nginx`` fixture does (own prefix,
config and logs in a temp dir, a ``/broken/`` location proxying to a port where
nothing listens, so 502s and error-log lines are real) plus what a load run
needs: keep-alive connections that are never closed by a request count, and
``/missing/`` (404), ``/private/`` (403) and ``/busy/`` (503) paths.

journald runs as a namespace instance (``systemd-journald NAMESPACE``): its
own sockets under ``/run/systemd/journal.NAMESPACE/`` and its own files under
``/var/log/journal/MACHINE-ID.NAMESPACE/``, so the soak neither reads nor
disturbs the machine's journal (or the one a test session started), and the
journal directory the app follows holds only what this run wrote. Root is
needed to start it, as for the tests' standalone journald.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

JOURNALD = "/lib/systemd/systemd-journald"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def die_with_parent() -> None:
    """In a child: get SIGTERM when the bench dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def remove_stale_namespaces(prefix: str) -> list[str]:
    """Journal namespaces ``PREFIX<pid>`` left by a soak that was killed (its pid is gone): removed."""
    removed = []
    for run_dir in Path("/run/systemd").glob(f"journal.{prefix}*"):
        name = run_dir.name.removeprefix("journal.")
        pid = name.removeprefix(prefix)
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            for path in (run_dir, *Path("/var/log/journal").glob(f"*.{name}"),
                         *Path("/run/log/journal").glob(f"*.{name}")):
                shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


class SetupError(Exception):
    """A service could not be started: reported as one line by the bench."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxServer:
    """A real nginx on 127.0.0.1; access and error logs in ``root/logs``."""

    def __init__(self, root: Path) -> None:
        if shutil.which("nginx") is None:
            raise SetupError("nginx is not installed (apt-get install nginx)")
        self.root = root
        self.port = free_port()
        self.upstream_port = free_port()  # nothing listens here: proxying to it gives 502
        self.access_log = root / "logs" / "access.log"
        self.error_log = root / "logs" / "error.log"
        (root / "logs").mkdir(parents=True)
        (root / "html" / "static").mkdir(parents=True)
        (root / "html" / "index.html").write_text("<h1>alsate soak</h1>\n")
        (root / "html" / "static" / "app.css").write_text("body { margin: 0; }\n")
        (root / "html" / "static" / "app.js").write_text("console.log('soak');\n")
        self.access_log.touch()
        user = "user root root;" if os.geteuid() == 0 else ""  # workers must read the temp dir
        (root / "nginx.conf").write_text(f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    access_log {self.access_log} combined;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {root}/tmp_body;
    proxy_temp_path {root}/tmp_proxy;
    fastcgi_temp_path {root}/tmp_fcgi;
    uwsgi_temp_path {root}/tmp_uwsgi;
    scgi_temp_path {root}/tmp_scgi;
    server {{
        listen 127.0.0.1:{self.port};
        server_name alsate.soak;
        root {root}/html;
        location /broken/ {{ proxy_pass http://127.0.0.1:{self.upstream_port}; }}
        location /private/ {{ deny all; }}
        location /busy/ {{ return 503; }}
    }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-p", str(root), "-c", str(root / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    raise SetupError(f"nginx failed: {self.proc.stderr.read().decode().strip()}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise SetupError("nginx did not start within 10 s") from None
                time.sleep(0.05)

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.proc.pid, *children(self.proc.pid)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class JournaldNamespace:
    """``systemd-journald NAMESPACE``: a journald of its own, written through :attr:`socket_path`."""

    def __init__(self, namespace: str) -> None:
        if os.geteuid() != 0:
            raise SetupError("starting a journald needs root (run the soak as root)")
        if not os.path.exists(JOURNALD):
            raise SetupError(f"{JOURNALD} not found (apt-get install systemd)")
        self.namespace = namespace
        self.run_dir = Path(f"/run/systemd/journal.{namespace}")
        self.socket_path = self.run_dir / "socket"
        machine_id = Path("/etc/machine-id").read_text().strip()
        self._candidates = [Path(f"/var/log/journal/{machine_id}.{namespace}"),
                            Path(f"/run/log/journal/{machine_id}.{namespace}")]
        if self.run_dir.exists() or any(path.exists() for path in self._candidates):
            raise SetupError(f"journal namespace {namespace!r} is in use")
        self.proc = subprocess.Popen([JOURNALD, namespace], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while self.directory is None or not self.socket_path.exists():
            if self.proc.poll() is not None:
                raise SetupError(f"systemd-journald failed: {self.proc.stderr.read().decode().strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise SetupError("systemd-journald did not start within 10 s")
            time.sleep(0.05)
        # A namespace journald exits after 30 s without a message unless a stream client is connected
        # (the app may take that long to start on a busy box): hold one open, silent, until stop().
        self._hold = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._hold.connect(str(self.run_dir / "stdout"))
        self._hold.sendall(b"alsate-soak-hold\n\n6\n0\n0\n0\n0\n")  # identifier, unit, priority, flags

    @property
    def directory(self) -> Path | None:
        """Where its journal files are (``/var/log/journal`` when writable, else ``/run/log/journal``)."""
        for path in self._candidates:
            if path.is_dir() and any(path.glob("*.journal")):
                return path
        return None

    def disk_bytes(self) -> int:
        directory = self.directory
        return sum(p.stat().st_size for p in directory.glob("*.journal*")) if directory else 0

    def count_entries(self, identifiers: list[str], timeout: float = 600) -> int | None:
        """Entries with these SYSLOG_IDENTIFIERs in the journal files (journalctl), None if it fails."""
        command = ["journalctl", "-D", str(self.directory), "-q", "-o", "cat", "--no-pager"]
        for identifier in identifiers:
            command += ["-t", identifier]
        try:
            with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
                deadline = time.monotonic() + timeout
                count = 0
                while chunk := proc.stdout.read(1 << 20):
                    count += chunk.count(b"\n")
                    if time.monotonic() > deadline:
                        proc.kill()
                        return None
                return count if proc.wait() == 0 else None
        except OSError:
            return None

    def stop(self, remove: bool = True) -> None:
        if hasattr(self, "_hold"):
            self._hold.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if remove:
            for path in (*self._candidates, self.run_dir):
                shutil.rmtree(path, ignore_errors=True)


# -- /proc readings -----------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


_last_cpu: dict[int, float] = {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads); its last reading once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return _last_cpu.get(pid, 0.0)
    seconds = _last_cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return seconds


def memory_bytes(pid: int | str = "self") -> dict[str, int]:
    """RSS and its parts: anonymous (the heap: where a leak shows) and file-backed (mapped files, such as
    the journal files sd_journal reads through mmap: page cache, given back under memory pressure)."""
    wanted = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}
    found = dict.fromkeys(wanted.values(), 0)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0] + ":"
        if key in wanted:
            found[wanted[key]] = int(line.split()[1]) * 1024
    return found
