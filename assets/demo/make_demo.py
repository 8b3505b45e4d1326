"""Writes the bundled demo logs (run once; the output is committed).

    .venv/bin/python assets/demo/make_demo.py

Thirty minutes of one web server, ``web-01``: its journal as ``journalctl -o
json`` lines, and nginx's access and error logs. Background traffic (shop
requests, cron, logind sessions, a deploy user's SSH logins, a service that
logs ``level=...`` on stdout) carries these planted incidents:

- minute 5-8: SSH brute force from 203.0.113.45, then a successful root login from it;
- minute 10-17: /var filling (disk check warnings), ending in "No space left on device";
- minute 12: a scanner (198.51.100.23) probing /.env, /wp-login.php, /.git/config ...;
- minute 24.5: the kernel OOM killer kills shop-api; nginx answers 502 (upstream refused),
  shop-api.service then loops on restarts (port still bound) until systemd gives up;
- hostile lines: Rich markup, a click action, an OSC title sequence, a carriage return.

The replay (``alsate.engine.sources.demo``) shows minutes 0-24 as history and
replays the rest live, looping.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "web-01"
#: Fixed start of the recorded timeline (shifted to "now" when replayed).
BASE = 1_773_478_800.0  # 2026-03-14 09:00:00 UTC
LENGTH = 30 * 60.0
SPLIT = 24 * 60.0

rng = random.Random(20260314)
journal: list[tuple[float, dict]] = []
access: list[tuple[float, str]] = []
errors: list[tuple[float, str]] = []
_seq = 0


def jot(t: float, unit: str | None, ident: str, pid: int | None, priority: int, message: str,
        transport: str = "syslog", facility: int = 3, **extra: str) -> None:
    fields: dict[str, str] = {
        "PRIORITY": str(priority),
        "_HOSTNAME": HOST,
        "SYSLOG_IDENTIFIER": ident,
        "_TRANSPORT": transport,
        "SYSLOG_FACILITY": str(facility),
        "MESSAGE": message,
    }
    if unit:
        fields["_SYSTEMD_UNIT"] = unit
    if pid is not None:
        fields["_PID"] = str(pid)
        fields["_COMM"] = ident
    fields.update(extra)
    journal.append((t, fields))


def kernel(t: float, priority: int, message: str) -> None:
    jot(t, None, "kernel", None, priority, message, transport="kernel", facility=0)


AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1",
    "curl/7.88.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
PAGES = ["/", "/products", "/products/42", "/products/7", "/cart", "/static/app.css", "/static/app.js",
         "/static/logo.png", "/api/cart", "/api/products?page=2", "/api/session", "/favicon.ico", "/checkout"]
CLIENTS = [f"192.0.2.{n}" for n in range(10, 60)] + [f"10.20.{n}.{m}" for n in (1, 2) for m in (5, 9, 14)]


def stamp_access(t: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def stamp_error(t: float) -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(t))


def request(t: float, ip: str, method: str, path: str, status: int, size: int, agent: str,
            referer: str = "-") -> None:
    access.append((t, f'{ip} - - [{stamp_access(BASE + t)}] "{method} {path} HTTP/1.1" {status} {size} '
                      f'"{referer}" "{agent}"'))


def nginx_error(t: float, level: str, message: str) -> None:
    errors.append((t, f"{stamp_error(BASE + t)} [{level}] 1187#1187: {message}"))


def outage(t: float) -> bool:
    return 1472 <= t <= 1610


def background() -> None:
    t = 0.0
    while t < LENGTH:
        t += rng.expovariate(4.0)
        ip = rng.choice(CLIENTS)
        path = rng.choice(PAGES)
        method = "POST" if path in ("/api/cart", "/checkout") and rng.random() < 0.5 else "GET"
        status, size = 200, rng.randint(300, 40_000)
        if path.startswith("/static") and rng.random() < 0.3:
            status, size = 304, 0
        if rng.random() < 0.01:
            status, size = 404, 153
        if (path.startswith("/api") or path == "/checkout") and outage(t):
            status, size = 502, 157
            nginx_error(t + 0.001, "error", f"*{rng.randint(10000, 99999)} connect() failed (111: Connection refused) "
                        f"while connecting to upstream, client: {ip}, server: shop.example.com, "
                        f'request: "{method} {path} HTTP/1.1", upstream: "http://127.0.0.1:8080{path}", '
                        'host: "shop.example.com"')
        request(t, ip, method, path, status, size, rng.choice(AGENTS), "https://shop.example.com/")
        if path.startswith("/api") and not outage(t) and rng.random() < 0.25:
            jot(t + 0.002, "shop-api.service", "shop-api", 4242, 6,
                f'level=info msg="request handled" path={path.split("?")[0]} status={status} '
                f"duration_ms={rng.randint(3, 90)}", transport="stdout")
    # Slow, regular system noise.
    t = 7.0
    while t < LENGTH:
        jot(t, "chrony.service", "chronyd", 611, 6, f"Selected source 192.0.2.123 (ntp.example.net), offset "
            f"{rng.uniform(-0.002, 0.002):+.6f}s")
        t += 240
    for minute in range(0, 30):
        t = minute * 60 + 1.2
        pid = 20000 + minute * 7
        jot(t, "cron.service", "CRON", pid, 6, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
        jot(t + 0.01, "cron.service", "CRON", pid, 6, "(root) CMD (/usr/local/bin/diskcheck /var)")
        jot(t + 0.4, "cron.service", "CRON", pid, 6, "pam_unix(cron:session): session closed for user root")
        if minute % 3 == 0:
            jot(t + 5, "postgresql@15-main.service", "postgres", 900, 6,
                f"LOG:  checkpoint complete: wrote {rng.randint(20, 400)} buffers; distance={rng.randint(100, 9000)} kB")
        if minute % 2 == 1:
            src = f"10.20.0.{rng.choice((3, 4))}"
            kernel(t + 17, 4, f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=45.155.{rng.randint(1, 250)}.{rng.randint(1, 250)} "
                   f"DST=192.0.2.5 LEN=44 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP SPT={rng.randint(1024, 65000)} "
                   f"DPT={rng.choice((23, 3389, 5900, 8443))} WINDOW=1024 RES=0x00 SYN URGP=0")
            del src
    # The deploy user logs in twice (normal).
    for t, port in ((95.0, 40122), (1250.0, 40388)):
        jot(t, "ssh.service", "sshd", 3100 + int(t), 6, f"Accepted publickey for deploy from 10.20.1.5 port {port} ssh2: "
            "ED25519 SHA256:8bq3m3dS0aO4rPq0m8Vt2m0eY3k1Wl2Qf8H1ZP0y3xY")
        jot(t + 0.05, "ssh.service", "sshd", 3100 + int(t), 6,
            "pam_unix(sshd:session): session opened for user deploy(uid=1001) by deploy(uid=0)")
        jot(t + 0.1, "systemd-logind.service", "systemd-logind", 540, 6, f"New session {int(t)} of user deploy.")
    # shop-api warnings on stdout (effective priority above the journal's info).
    for t in (130.0, 410.0, 880.0, 1333.0):
        jot(t, "shop-api.service", "shop-api", 4242, 6,
            'level=warning msg="slow query" query="SELECT * FROM orders WHERE customer_id=$1" duration_ms=2210',
            transport="stdout")


def brute_force() -> None:
    ip = "203.0.113.45"
    users = ["root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user"]
    t = 300.0
    pid = 5100
    while t < 480:
        user = rng.choice(users)
        port = rng.randint(30000, 65000)
        pid += 1
        if user in ("root", "ubuntu"):
            jot(t, "ssh.service", "sshd", pid, 6, f"Failed password for {user} from {ip} port {port} ssh2", facility=10)
        else:
            jot(t, "ssh.service", "sshd", pid, 6, f"Invalid user {user} from {ip} port {port}", facility=10)
            jot(t + 0.3, "ssh.service", "sshd", pid, 6,
                f"Failed password for invalid user {user} from {ip} port {port} ssh2", facility=10)
        jot(t + 1.1, "ssh.service", "sshd", pid, 6,
            f"Connection closed by {'authenticating' if user == 'root' else 'invalid'} user {user} {ip} port {port} "
            "[preauth]", facility=10)
        t += rng.uniform(1.5, 4.0)
    pid += 1
    jot(495.0, "ssh.service", "sshd", pid, 6, f"Accepted password for root from {ip} port 51234 ssh2", facility=10)
    jot(495.05, "ssh.service", "sshd", pid, 6,
        "pam_unix(sshd:session): session opened for user root(uid=0) by root(uid=0)", facility=10)
    jot(495.1, "systemd-logind.service", "systemd-logind", 540, 6, "New session 77 of user root.")
    jot(540.0, "ssh.service", "sshd", pid, 6, "Received disconnect from 203.0.113.45 port 51234:11: disconnected by user",
        facility=10)


def disk_filling() -> None:
    for minute, used in zip(range(10, 18), (86, 89, 91, 93, 95, 97, 99, 100), strict=True):
        t = minute * 60 + 2.5
        priority = 6 if used < 90 else (4 if used < 97 else 3)
        word = "info" if used < 90 else ("WARNING" if used < 97 else "CRITICAL")
        jot(t, "cron.service", "diskcheck", 20000 + minute * 7 + 1, priority,
            f"{word}: filesystem /var is {used}% full ({used * 40 // 100}G of 40G used), "
            f"largest: /var/log/shop/debug.log")
    jot(17 * 60 + 9, "postgresql@15-main.service", "postgres", 900, 3,
        'ERROR:  could not extend file "base/16384/24576": No space left on device')
    jot(17 * 60 + 9.2, "postgresql@15-main.service", "postgres", 900, 6,
        "HINT:  Check free disk space.")
    jot(17 * 60 + 31, "shop-api.service", "shop-api", 4242, 6,
        'level=error msg="write failed" file=/var/log/shop/debug.log err="write /var/log/shop/debug.log: '
        'no space left on device"', transport="stdout")
    jot(18 * 60 + 40, "systemd-journald.service", "systemd-journald", 301, 4,
        "Under memory pressure, flushing caches.")


def scanner() -> None:
    ip = "198.51.100.23"
    agent = "Mozilla/5.0 zgrab/0.x"
    probes = ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/", "/wp-admin/setup-config.php",
              "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/.aws/credentials", "/server-status",
              "/config.json", "/backup.sql", "/admin/config.php", "/.env.production", "/xmlrpc.php",
              "/cgi-bin/luci/;stok=/locale", "/actuator/health", "/.DS_Store"]
    t = 720.0
    for path in probes:
        request(t, ip, "GET", path, 404, 153, agent)
        if path.startswith("/.") or path.endswith(".php"):
            nginx_error(t + 0.001, "error", f'*{rng.randint(10000, 99999)} open() "/var/www/shop{path}" failed '
                        f"(2: No such file or directory), client: {ip}, server: shop.example.com, "
                        f'request: "GET {path} HTTP/1.1", host: "192.0.2.5"')
        t += rng.uniform(0.2, 0.9)
    request(t + 1, ip, "POST", "/wp-login.php", 404, 153, agent)


def oom_and_restart_loop() -> None:
    t = 1470.0
    kernel(t, 4, "python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
           "oom_score_adj=0")
    kernel(t + 0.01, 4, "Mem-Info:")
    kernel(t + 0.02, 6, "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
           "global_oom,task_memcg=/system.slice/shop-api.service,task=python3,pid=4242,uid=998")
    kernel(t + 0.03, 3, "Out of memory: Killed process 4242 (python3) total-vm:3521440kB, anon-rss:1894212kB, "
           "file-rss:0kB, shmem-rss:0kB, UID:998 pgtables:4120kB oom_score_adj:0")
    kernel(t + 0.2, 6, "oom_reaper: reaped process 4242 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB")
    jot(t + 0.3, "init.scope", "systemd", 1, 5,
        "shop-api.service: A process of this unit has been killed by the OOM killer.", facility=3)
    jot(t + 0.35, "init.scope", "systemd", 1, 5,
        "shop-api.service: Main process exited, code=killed, status=9/KILL")
    jot(t + 0.36, "init.scope", "systemd", 1, 4, "shop-api.service: Failed with result 'oom-kill'.")
    jot(t + 0.37, "init.scope", "systemd", 1, 6,
        "shop-api.service: Consumed 14min 2.113s CPU time, 1.8G memory peak.")
    # The worker it forked still holds the port: every restart fails to bind.
    start = t + 5.3
    for n in range(1, 6):
        pid = 4300 + n * 11
        jot(start, "init.scope", "systemd", 1, 6, f"shop-api.service: Scheduled restart job, restart counter is at {n}.")
        jot(start + 0.02, "init.scope", "systemd", 1, 6, "Stopped shop-api.service - Shop API.")
        jot(start + 0.05, "init.scope", "systemd", 1, 6, "Started shop-api.service - Shop API.")
        jot(start + 1.4, "shop-api.service", "shop-api", pid, 6,
            'level=error msg="cannot start server" err="listen tcp 0.0.0.0:8080: bind: address already in use"',
            transport="stdout")
        jot(start + 1.5, "init.scope", "systemd", 1, 5, "shop-api.service: Main process exited, code=exited, "
            "status=1/FAILURE")
        jot(start + 1.51, "init.scope", "systemd", 1, 4, "shop-api.service: Failed with result 'exit-code'.")
        start += 6.5
    jot(start, "init.scope", "systemd", 1, 4, "shop-api.service: Start request repeated too quickly.")
    jot(start + 0.01, "init.scope", "systemd", 1, 4, "shop-api.service: Failed with result 'exit-code'.")
    jot(start + 0.02, "init.scope", "systemd", 1, 3, "Failed to start shop-api.service - Shop API.")
    nginx_error(1473.0, "error", "*88123 no live upstreams while connecting to upstream, client: 192.0.2.31, "
                "server: shop.example.com, request: \"GET /api/cart HTTP/1.1\", upstream: \"http://shop_api/api/cart\", "
                'host: "shop.example.com"')
    # An operator fixes it (kills the stray worker, resets the unit).
    fix = 1605.0
    jot(fix, "ssh.service", "sshd", 9911, 6, "Accepted publickey for deploy from 10.20.1.5 port 40912 ssh2: "
        "ED25519 SHA256:8bq3m3dS0aO4rPq0m8Vt2m0eY3k1Wl2Qf8H1ZP0y3xY")
    jot(fix + 20, "init.scope", "systemd", 1, 6, "Started shop-api.service - Shop API.")
    jot(fix + 21.5, "shop-api.service", "shop-api", 4999, 6, 'level=info msg="listening" addr=0.0.0.0:8080',
        transport="stdout")


def hostile() -> None:
    # Text that must be shown literally: Rich markup, a Textual action, an OSC title, a CR overwrite.
    jot(205.0, "shop-api.service", "shop-api", 4242, 6,
        'level=error msg="bad review text" body="[bold red]FREE MONEY[/bold red] [@click=app.quit]claim[/]"',
        transport="stdout")
    jot(612.0, "shop-api.service", "shop-api", 4242, 6,
        'level=error msg="bad user-agent" ua="\x1b]0;you have been pwned\x07curl/8.0"', transport="stdout")
    jot(1010.0, "backup.service", "backup.sh", 7781, 3,
        "ERROR backup failed: progress 99%\rOK: backup completed successfully")
    request(1122.0, "192.0.2.77", "GET", "/search?q=[bold]hi[/bold]%1b]0;x", 400, 0, "[@click=app.quit]")


def write() -> None:
    background()
    brute_force()
    disk_filling()
    scanner()
    oom_and_restart_loop()
    hostile()
    journal.sort(key=lambda item: item[0])
    with open(HERE / "journal.json", "w", encoding="utf-8") as fh:
        for n, (t, fields) in enumerate(journal):
            micros = int(round((BASE + t) * 1e6))
            entry = {"__CURSOR": f"s=d3m0;i={n + 1:x};t={micros:x}", "__REALTIME_TIMESTAMP": str(micros),
                     "__MONOTONIC_TIMESTAMP": str(int((t + 86400) * 1e6)), "_BOOT_ID": "5f0c0ffee0ddba11ab1e5eed0000d3m0",
                     **fields}
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    nginx = HERE / "nginx"
    nginx.mkdir(exist_ok=True)
    for name, lines in (("access.log", access), ("error.log", errors)):
        lines.sort(key=lambda item: item[0])
        with open(nginx / name, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for _, line in lines)
    print(f"journal {len(journal)}, access {len(access)}, error {len(errors)}")


if __name__ == "__main__":
    write()
