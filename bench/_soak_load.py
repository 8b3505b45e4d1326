"""Load generators for the soak: HTTP requests to nginx and messages to journald, each at a fixed rate.

Both run in their own process (started with ``fork`` before the app is
imported) and pace themselves in 10 ms slices: every slice sends what is due
since the start, so the rate holds on average even when a slice runs late.
What is not sent because the far side falls behind is counted, never sent in a
burst later, so the achieved rate the bench reports is what really happened.

HTTP: a few keep-alive connections with pipelined requests (one ``sendall``
per connection per slice, responses counted by a reader thread): a fraction of
the CPU that one ``http.client`` round trip per request would cost, which
matters on a 2-core box that also runs the app, nginx and journald.

Journal: journald's native protocol (``KEY=value`` lines, one datagram per
entry, to the namespace's socket) -- what ``systemd.journal.send`` speaks, sent
to our namespace instead of the machine's journal.
"""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import threading
import time
from multiprocessing.sharedctypes import Synchronized

from _soak_services import die_with_parent

SLICE = 0.01
#: Requests sent but not yet answered (over all connections) before a slice is skipped.
MAX_IN_FLIGHT = 4000
CONNECTIONS = 4

#: (path template, weight): 200s, 404s, 403s, 502s (with an error-log line each), 503s.
PATHS = (
    ("/", 30), ("/index.html?page={n}", 20), ("/static/app.css", 10), ("/static/app.js", 10),
    ("/missing/item/{n}", 12), ("/static/img/{n}.png", 4), ("/private/admin", 3),
    ("/broken/api/v1/orders/{n}", 5), ("/busy/checkout", 6),
)
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/7.88.1",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15", "soak-probe/1.0")

#: (priority, weight, identifier suffix, message template): all 8 syslog priorities, info most common,
#: some info lines that state an error level in their content (effective priority).
MESSAGES = (
    (0, 1, "kernel", "emergency: filesystem /srv/data remounted read-only after I/O error {n}"),
    (1, 1, "raid", "array md{d} degraded, disk sd{c} failed"),
    (2, 2, "worker", "worker {d} crashed: segmentation fault at 0x{n:x}"),
    (3, 5, "api", "upstream 10.0.{d}.{c} timed out (110: Connection timed out) request_id={n}"),
    (4, 10, "disk", "disk usage at {p}% on /var (threshold 80%)"),
    (5, 8, "api", "config reloaded: {n} routes, {d} backends"),
    (6, 40, "api", 'level=info msg="request served" path=/api/items/{n} dur={p}ms'),
    (6, 6, "api", 'level=error msg="db query failed" err="deadline exceeded after {p}ms" id={n}'),
    (6, 10, "worker", "job {n} finished in {p} ms"),
    (7, 17, "cache", "cache lookup key=k{n} hit={hit}"),
)


def journal_identifiers(tag: str) -> list[str]:
    return sorted({f"{tag}-{ident}" for _, _, ident, _ in MESSAGES})


def _weighted(items, weight_of, count: int, seed: int) -> list:
    rng = random.Random(seed)
    return rng.choices(items, weights=[weight_of(item) for item in items], k=count)


def request_pool(size: int = 8192, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    pool = []
    for n, (path, _) in enumerate(_weighted(PATHS, lambda item: item[1], size, seed)):
        agent = rng.choice(AGENTS)
        pool.append(f"GET {path.format(n=n * 7919 % 100_000)} HTTP/1.1\r\nHost: alsate.soak\r\n"
                    f"User-Agent: {agent}\r\n\r\n".encode())
    return pool


def journal_pool(tag: str, size: int = 8192, seed: int = 2) -> list[bytes]:
    rng = random.Random(seed)
    pool = []
    for n, (priority, _, ident, text) in enumerate(_weighted(MESSAGES, lambda item: item[1], size, seed)):
        message = text.format(n=n * 104_729 % 1_000_000, d=rng.randrange(16), c="abcdef"[rng.randrange(6)],
                              p=rng.randrange(1, 100), hit=rng.choice(("true", "false")))
        pool.append(f"PRIORITY={priority}\nSYSLOG_IDENTIFIER={tag}-{ident}\nMESSAGE={message}\n".encode())
    return pool


class _Connection:
    """One keep-alive connection; a thread counts the responses (status lines) coming back."""

    MARK = b"HTTP/1.1 "

    def __init__(self, port: int, answered: Synchronized) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.answered = answered
        self.sent = 0
        self.received = 0
        self.alive = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        tail = b""
        mark = self.MARK
        while True:
            try:
                data = self.sock.recv(1 << 18)
            except OSError:
                data = b""
            if not data:
                self.alive = False
                return
            chunk = tail + data
            count = chunk.count(mark)
            self.received += count
            self.answered.value += count
            tail = chunk[-(len(mark) - 1):]  # a status line split between two reads is counted once

    def send(self, blob: bytes) -> bool:
        try:
            self.sock.sendall(blob)
            return True
        except OSError:
            self.alive = False
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self.thread.join(timeout=10)
        self.sock.close()


def _as_child() -> None:
    """The bench stops a generator through its ``stop`` event; a signal to the group just ends it quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    die_with_parent()


def _paced(rate: float, go, stop, send_slice, skipped: Synchronized) -> None:
    """Call ``send_slice(first, count)`` every slice with what is due; count the slices' shortfall."""
    go.wait()
    start = time.monotonic()
    done = 0
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate)
        if due > done:
            sent = send_slice(done, due - done)
            skipped.value += due - done - sent
            done = due
        delay = SLICE - (time.monotonic() - start) % SLICE
        time.sleep(delay)


def http_load(port: int, rate: float, go, stop, sent: Synchronized, answered: Synchronized,
              skipped: Synchronized, reconnects: Synchronized) -> None:
    _as_child()
    pool = request_pool()
    conns = [_Connection(port, answered) for _ in range(CONNECTIONS)]

    def send_slice(first: int, count: int) -> int:
        if sent.value - answered.value > MAX_IN_FLIGHT:
            return 0
        total = 0
        share = -(-count // len(conns))
        for index, conn in enumerate(conns):
            if not conn.alive:
                reconnects.value += 1
                try:
                    conn = conns[index] = _Connection(port, answered)
                except OSError:
                    continue
            lo = first + index * share
            hi = min(first + count, lo + share)
            if hi <= lo:
                break
            blob = b"".join(pool[n % len(pool)] for n in range(lo, hi))
            if conn.send(blob):
                total += hi - lo
                sent.value += hi - lo
        return total

    try:
        _paced(rate, go, stop, send_slice, skipped)
    finally:
        for conn in conns:
            conn.close()


def journal_load(socket_path: str, tag: str, rate: float, go, stop, sent: Synchronized,
                 skipped: Synchronized) -> None:
    _as_child()
    pool = journal_pool(tag)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    sock.connect(socket_path)

    def send_slice(first: int, count: int) -> int:
        size = len(pool)
        done = 0
        for n in range(first, first + count):
            try:
                sock.send(pool[n % size])
            except OSError:
                break
            done += 1
        sent.value += done
        return done

    try:
        _paced(rate, go, stop, send_slice, skipped)
    finally:
        sock.close()
