"""Write the labelled incident set: one log per incident, its labels beside it.

    python tests/incidents/make_incidents.py        # rewrites tests/incidents/NN-*.{log,jsonl,json}

Each incident is a short log in a real format (rsyslog traditional or RFC 3339
syslog, ``journalctl -o json``, nginx ``combined`` access log, nginx error log)
with ordinary background traffic around the incident. The label file
``NN-name.json`` says how to read the log (``kind``), what happened
(``description``) and which findings a correct engine reports (``expect``),
each either ``{"id": ...}`` (``{origin}`` stands for the log's origin, its file
name) or ``{"detector": ..., "template": <substring>}`` where the finding id
depends on a mined template id. Incidents with ``"expect": []`` are normal
traffic and near misses: any finding there is a false positive.

The message texts follow what the programs really print (OpenSSH 9, sudo 1.9,
util-linux su, systemd 252, Linux 6.1, nginx 1.22); the addresses are from the
documentation ranges (RFC 5737) and the names are made up. Deterministic.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = 1714557600.0  # 2024-05-01 10:00:00 UTC
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
CLIENTS = [f"198.51.100.{i}" for i in range(10, 60)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile/15E148"]
PAGES = ["/", "/about", "/pricing", "/blog/", "/blog/2024/04/release-notes", "/docs/install", "/contact",
         "/static/app.4f1c2a.js", "/static/app.9e0b1d.css", "/favicon.ico", "/api/v1/items?page=2", "/api/v1/items/981"]


class Log:
    """Lines of one log, kept with their time so incidents and noise interleave."""

    def __init__(self) -> None:
        self.items: list[tuple[float, int, str]] = []

    def add(self, ts: float, line: str) -> None:
        self.items.append((ts, len(self.items), line))

    def text(self) -> str:
        return "".join(line + "\n" for _, _, line in sorted(self.items))


def _tm(ts: float) -> time.struct_time:
    return time.gmtime(ts)


def syslog(ts: float, host: str, ident: str, msg: str, pid: int | None = None, iso: bool = False) -> str:
    tag = f"{ident}[{pid}]" if pid is not None else ident
    if iso:
        frac = f"{ts % 1:.6f}"[1:]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", _tm(ts)) + frac + "+00:00"
    else:
        t = _tm(ts)
        stamp = f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{stamp} {host} {tag}: {msg}"


_cursor = [0]


def journal(ts: float, host: str, ident: str, msg: str, *, priority: int = 6, pid: int | None = None,
            unit: str | None = None, transport: str = "syslog", about: str | None = None) -> str:
    _cursor[0] += 1
    fields = {
        "__CURSOR": f"s=6f1e2d3c4b5a49788796a5b4c3d2e1f0;i={_cursor[0]:x};b=0a1b2c3d4e5f;m={_cursor[0]:x};"
                    f"t={int(ts * 1e6):x};x=1",
        "__REALTIME_TIMESTAMP": str(int(ts * 1e6)),
        "_HOSTNAME": host,
        "PRIORITY": str(priority),
        "SYSLOG_IDENTIFIER": ident,
        "_TRANSPORT": transport,
        "MESSAGE": msg,
    }
    if pid is not None:
        fields["_PID"] = str(pid)
    if unit is not None:
        fields["_SYSTEMD_UNIT"] = unit
    if about is not None:
        fields["UNIT"] = about
    if transport == "kernel":
        fields["SYSLOG_FACILITY"] = "0"
    return json.dumps(fields)


def access(ts: float, ip: str, method: str, path: str, status: int, size: int, agent: str | None = None,
           referer: str = "-") -> str:
    t = _tm(ts)
    stamp = f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    return (f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "{referer}" '
            f'"{agent or AGENTS[0]}"')


def nginx_error(ts: float, level: str, text: str, pid: int = 2211, cid: int | None = None) -> str:
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", _tm(ts))
    conn = f"*{cid} " if cid is not None else ""
    return f"{stamp} [{level}] {pid}#{pid}: {conn}{text}"


# -- background traffic ----------------------------------------------------------------------

def auth_noise(log: Log, rng: random.Random, host: str, start: float, minutes: int, iso: bool = False) -> None:
    """cron sessions every minute, a few key-based logins by deploy, sudo by bob."""
    for m in range(minutes):
        ts = start + m * 60 + 1
        pid = 30000 + m
        log.add(ts, syslog(ts, host, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                           pid, iso))
        log.add(ts + 0.4, syslog(ts + 0.4, host, "CRON", "pam_unix(cron:session): session closed for user root",
                                 pid, iso))
        if m % 7 == 3:
            sp = 40000 + m
            ip = rng.choice(["192.0.2.10", "192.0.2.11"])
            port = rng.randint(40000, 60000)
            log.add(ts + 5, syslog(ts + 5, host, "sshd", f"Accepted publickey for deploy from {ip} port {port} ssh2: "
                                   "ED25519 SHA256:Qm9vZ2xlIGl0IHlvdXJzZWxmIDopIGp1c3QgYSB0ZXN0", sp, iso))
            log.add(ts + 5, syslog(ts + 5, host, "sshd", "pam_unix(sshd:session): session opened for user "
                                   "deploy(uid=1002) by (uid=0)", sp, iso))
            log.add(ts + 40, syslog(ts + 40, host, "sshd", f"Received disconnect from {ip} port {port}:11: "
                                    "disconnected by user", sp, iso))
            log.add(ts + 40, syslog(ts + 40, host, "sshd", f"Disconnected from user deploy {ip} port {port}", sp, iso))
            log.add(ts + 40, syslog(ts + 40, host, "sshd", "pam_unix(sshd:session): session closed for user deploy",
                                    sp, iso))
        if m % 11 == 5:
            log.add(ts + 20, syslog(ts + 20, host, "sudo", "     bob : TTY=pts/1 ; PWD=/home/bob ; USER=root ; "
                                    "COMMAND=/usr/bin/apt update", None, iso))
            log.add(ts + 20, syslog(ts + 20, host, "sudo", "pam_unix(sudo:session): session opened for user root(uid=0) "
                                    "by bob(uid=1001)", None, iso))
            log.add(ts + 31, syslog(ts + 31, host, "sudo", "pam_unix(sudo:session): session closed for user root",
                                    None, iso))


def journal_noise(log: Log, rng: random.Random, host: str, start: float, minutes: int) -> None:
    """systemd timers and a chatty info-level service."""
    for m in range(minutes):
        ts = start + m * 60 + 3
        log.add(ts, journal(ts, host, "systemd", "Starting phpsessionclean.service - Clean php session files...",
                            pid=1, unit="init.scope", about="phpsessionclean.service"))
        log.add(ts + 1, journal(ts + 1, host, "systemd", "phpsessionclean.service: Deactivated successfully.",
                                pid=1, unit="init.scope", about="phpsessionclean.service"))
        log.add(ts + 1, journal(ts + 1, host, "systemd", "Finished phpsessionclean.service - Clean php session files.",
                                pid=1, unit="init.scope", about="phpsessionclean.service"))
        for k in range(3):
            t = ts + 10 + k * 15
            log.add(t, journal(t, host, "orders-api", f"INFO request served path=/orders/{rng.randint(1000, 9999)} "
                               f"status=200 duration={rng.randint(3, 90)}ms", pid=812, unit="orders-api.service"))


def web_noise(log: Log, rng: random.Random, start: float, minutes: int, per_minute: int = 40) -> None:
    for m in range(minutes):
        for _ in range(per_minute):
            ts = start + m * 60 + rng.random() * 60
            ip = rng.choice(CLIENTS)
            roll = rng.random()
            if roll < 0.03:
                path, status = f"/products/{rng.randint(2000, 9999)}", 404
            elif roll < 0.033:
                path, status = "/api/v1/cart", 502
            else:
                path, status = rng.choice(PAGES), rng.choice((200, 200, 200, 304))
            size = 0 if status == 304 else rng.randint(200, 40000)
            log.add(ts, access(ts, ip, "GET", path, status, size, rng.choice(AGENTS)))


def kernel_noise(log: Log, host: str, start: float, iso: bool = True) -> None:
    lines = ["e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
             "IPv6: ADDRCONF(NETDEV_CHANGE): eno1: link becomes ready",
             "audit: type=1400 audit(1714557601.123:42): apparmor=\"STATUS\" operation=\"profile_load\" "
             "profile=\"unconfined\" name=\"nginx\" pid=812 comm=\"apparmor_parser\"",
             "EXT4-fs (sda1): mounted filesystem 3b1f0c2e-5d4a-4f7e-9a8b-1c2d3e4f5a6b with ordered data mode. "
             "Quota mode: none."]
    for i, line in enumerate(lines):
        ts = start + i * 7
        log.add(ts, syslog(ts, host, "kernel", line, None, iso))


def write(n: int, name: str, kind: str, log: Log, description: str, expect: list[dict]) -> None:
    ext = "jsonl" if kind == "journal" else "log"
    (HERE / f"{n:02d}-{name}.{ext}").write_text(log.text(), encoding="utf-8")
    label = {"kind": kind, "description": description, "expect": expect}
    (HERE / f"{n:02d}-{name}.json").write_text(json.dumps(label, indent=2) + "\n", encoding="utf-8")


# -- the incidents ----------------------------------------------------------------------------

def ssh_attempts(log: Log, host: str, ip: str, users: list[str], start: float, gap: float, *, iso: bool = False,
                 invalid: bool = False, pid0: int = 50000, journal_fmt: bool = False) -> float:
    """One connection per user name, one password attempt each, as OpenSSH 9 + PAM log it."""
    ts = start
    for k, user in enumerate(users):
        pid = pid0 + k
        port = 30000 + k * 7
        msgs = []
        if invalid:
            msgs += [f"Invalid user {user} from {ip} port {port}",
                     "pam_unix(sshd:auth): check pass; user unknown",
                     f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}",
                     f"Failed password for invalid user {user} from {ip} port {port} ssh2",
                     f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
                     f"Disconnected from invalid user {user} {ip} port {port} [preauth]"]
        else:
            msgs += [f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  "
                     f"user={user}",
                     f"Failed password for {user} from {ip} port {port} ssh2",
                     f"Connection closed by authenticating user {user} {ip} port {port} [preauth]"]
        for j, msg in enumerate(msgs):
            t = ts + j * 0.3
            if journal_fmt:
                log.add(t, journal(t, host, "sshd", msg, pid=pid, unit="ssh.service"))
            else:
                log.add(t, syslog(t, host, "sshd", msg, pid, iso))
        ts += gap
    return ts


def build() -> list[str]:
    made = []
    rng = random.Random(20240501)

    def done(n: int, name: str, kind: str, log: Log, description: str, expect: list[dict]) -> None:
        write(n, name, kind, log, description, expect)
        made.append(name)

    # 1 brute force on root, one address, auth.log
    log = Log()
    auth_noise(log, rng, "web1", T0, 30)
    ssh_attempts(log, "web1", "203.0.113.9", ["root"] * 25, T0 + 600, 7.0)
    done(1, "ssh-bruteforce-root", "syslog", log, "25 password attempts on root from 203.0.113.9 in 3 minutes",
         [{"id": "ssh.bruteforce:203.0.113.9"}])

    # 2 password spraying: many invalid user names from one address
    log = Log()
    auth_noise(log, rng, "web1", T0, 30, iso=True)
    names = ["admin", "test", "oracle", "postgres", "ubuntu", "git", "pi", "user", "ftpuser", "guest", "support"]
    ssh_attempts(log, "web1", "198.51.100.23", names, T0 + 420, 4.0, iso=True, invalid=True)
    done(2, "ssh-password-spraying", "syslog", log,
         "11 different non-existent user names tried from 198.51.100.23 within a minute",
         [{"id": "ssh.spraying:198.51.100.23"}, {"id": "ssh.bruteforce:198.51.100.23"},
          {"id": "ssh.invalid_users:web1"}])

    # 3 distributed attack on root: 8 addresses, 2 attempts each (each below the per-address threshold)
    log = Log()
    journal_noise(log, rng, "db1", T0, 20)
    for i in range(8):
        ssh_attempts(log, "db1", f"192.0.2.{100 + i}", ["root", "root"], T0 + 300 + i * 20, 5.0, pid0=60000 + i * 10,
                     journal_fmt=True)
    done(3, "ssh-distributed-root", "journal", log, "root attacked from 8 addresses, 2 attempts each, in 3 minutes",
         [{"id": "ssh.distributed:root"}])

    # 4 brute force on an existing user, journal
    log = Log()
    journal_noise(log, rng, "db1", T0, 20)
    ssh_attempts(log, "db1", "192.0.2.45", ["admin"] * 15, T0 + 500, 9.0, journal_fmt=True)
    done(4, "ssh-bruteforce-journal", "journal", log, "15 password attempts on admin from 192.0.2.45 (journal)",
         [{"id": "ssh.bruteforce:192.0.2.45"}])

    # 5 brute force that succeeds, as root
    log = Log()
    auth_noise(log, rng, "web2", T0, 25)
    ts = ssh_attempts(log, "web2", "203.0.113.77", ["root"] * 12, T0 + 600, 6.0)
    log.add(ts + 3, syslog(ts + 3, "web2", "sshd", "Accepted password for root from 203.0.113.77 port 59113 ssh2", 51999))
    log.add(ts + 3, syslog(ts + 3, "web2", "sshd", "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
                           51999))
    log.add(ts + 4, syslog(ts + 4, "web2", "systemd-logind", "New session 412 of user root.", 702))
    done(5, "ssh-bruteforce-success", "syslog", log, "12 failures then a successful password login as root",
         [{"id": "ssh.bruteforce:203.0.113.77"}, {"id": "ssh.login_after_failures:203.0.113.77"},
          {"id": "auth.root_login:203.0.113.77"}])

    # 6 sudo: wrong password three times
    log = Log()
    auth_noise(log, rng, "web1", T0, 20)
    ts = T0 + 400
    log.add(ts, syslog(ts, "web1", "sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
                       "tty=/dev/pts/0 ruser=alice rhost=  user=alice"))
    log.add(ts + 12, syslog(ts + 12, "web1", "sudo", "   alice : 3 incorrect password attempts ; TTY=pts/0 ; "
                            "PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"))
    done(6, "sudo-incorrect-password", "syslog", log, "alice fails sudo three times",
         [{"id": "auth.sudo_failure:alice"}])

    # 7 sudo: user not in sudoers (journal)
    log = Log()
    journal_noise(log, rng, "app1", T0, 15)
    ts = T0 + 300
    log.add(ts, journal(ts, "app1", "sudo", "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/mallory ; "
                        "USER=root ; COMMAND=/bin/bash", priority=1, pid=9121, unit="session-77.scope"))
    done(7, "sudo-not-in-sudoers", "journal", log, "mallory is not in sudoers and tries sudo bash",
         [{"id": "auth.sudo_failure:mallory"}])

    # 8 su failure
    log = Log()
    auth_noise(log, rng, "web1", T0, 15, iso=True)
    ts = T0 + 333
    log.add(ts, syslog(ts, "web1", "su", "pam_unix(su:auth): authentication failure; logname=carol uid=1003 euid=0 "
                       "tty=/dev/pts/1 ruser=carol rhost=  user=root", 7711, True))
    log.add(ts + 2, syslog(ts + 2, "web1", "su", "FAILED SU (to root) carol on pts/1", 7711, True))
    done(8, "su-failure", "syslog", log, "carol fails su to root", [{"id": "auth.su_failure:carol"}])

    # 9 root login over SSH from a new address
    log = Log()
    auth_noise(log, rng, "web1", T0, 20)
    ts = T0 + 700
    log.add(ts, syslog(ts, "web1", "sshd", "Accepted publickey for root from 198.51.100.200 port 50122 ssh2: "
                       "RSA SHA256:dGhpcyBpcyBub3QgYSByZWFsIGtleSBmaW5nZXJwcmludA", 8123))
    log.add(ts, syslog(ts, "web1", "sshd", "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)", 8123))
    done(9, "root-login-new-address", "syslog", log, "root logs in by key from 198.51.100.200",
         [{"id": "auth.root_login:198.51.100.200"}])

    # 10 OOM kill, kern.log with kernel timestamps, plus systemd's view
    log = Log()
    kernel_noise(log, "app2", T0)
    auth_noise(log, rng, "app2", T0, 15, iso=True)
    ts = T0 + 500
    oom = ["[86400.112233] java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
           "oom_score_adj=0",
           "[86400.112240] CPU: 1 PID: 4242 Comm: java Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1",
           "[86400.112301] Mem-Info:",
           "[86400.112305] active_anon:1843210 inactive_anon:10233 isolated_anon:0",
           "[86400.112390] Tasks state (memory values in pages):",
           "[86400.112399] [   4242]  1000  4242  2211123  1843000 15400000        0             0 java",
           "[86400.112450] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
           "task_memcg=/system.slice/tomcat.service,task=java,pid=4242,uid=1000",
           "[86400.112461] Out of memory: Killed process 4242 (java) total-vm:8844492kB, anon-rss:7372000kB, "
           "file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:14480kB oom_score_adj:0",
           "[86400.298001] oom_reaper: reaped process 4242 (java), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"]
    for i, line in enumerate(oom):
        log.add(ts + i * 0.01, syslog(ts + i * 0.01, "app2", "kernel", line, None, True))
    for i, line in enumerate(["tomcat.service: A process of this unit has been killed by the OOM killer.",
                              "tomcat.service: Main process exited, code=killed, status=9/KILL",
                              "tomcat.service: Failed with result 'oom-kill'.",
                              "tomcat.service: Consumed 2h 3min 11.200s CPU time."]):
        log.add(ts + 1 + i * 0.01, syslog(ts + 1 + i * 0.01, "app2", "systemd", line, 1, True))
    done(10, "oom-kill-kernlog", "syslog", log, "the OOM killer kills java (tomcat.service)",
         [{"id": "kernel.oom:java"}, {"id": "systemd.failed:tomcat.service"}])

    # 11 OOM kill of mysqld in the journal, unit restarts once
    log = Log()
    journal_noise(log, rng, "db2", T0, 20)
    ts = T0 + 650
    for i, line in enumerate([
            "mysqld invoked oom-killer: gfp_mask=0x1100dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO), order=0, oom_score_adj=0",
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
            "task_memcg=/system.slice/mariadb.service,task=mysqld,pid=1881,uid=106",
            "Out of memory: Killed process 1881 (mysqld) total-vm:4512332kB, anon-rss:3950112kB, file-rss:0kB, "
            "shmem-rss:0kB, UID:106 pgtables:8120kB oom_score_adj:0"]):
        log.add(ts + i * 0.01, journal(ts + i * 0.01, "db2", "kernel", line, priority=3 if i else 4,
                                      transport="kernel"))
    for i, line in enumerate(["mariadb.service: A process of this unit has been killed by the OOM killer.",
                              "mariadb.service: Main process exited, code=killed, status=9/KILL",
                              "mariadb.service: Failed with result 'oom-kill'.",
                              "mariadb.service: Scheduled restart job, restart counter is at 1.",
                              "Stopped mariadb.service - MariaDB 10.11.6 database server.",
                              "Starting mariadb.service - MariaDB 10.11.6 database server...",
                              "Started mariadb.service - MariaDB 10.11.6 database server."]):
        t = ts + 1 + i * 2
        log.add(t, journal(t, "db2", "systemd", line, priority=3 if "Failed" in line else 6, pid=1,
                           unit="init.scope", about="mariadb.service"))
    done(11, "oom-kill-journal", "journal", log, "the OOM killer kills mysqld; mariadb.service restarts once",
         [{"id": "kernel.oom:mysqld"}, {"id": "systemd.failed:mariadb.service"}])

    # 12 segfault
    log = Log()
    kernel_noise(log, "web3", T0, iso=False)
    auth_noise(log, rng, "web3", T0, 10)
    ts = T0 + 250
    log.add(ts, syslog(ts, "web3", "kernel", "php-fpm8.2[23456]: segfault at 8 ip 00007f3a2b4c5d6e sp 00007ffc1a2b3c40 "
                       "error 4 in libphp8.2.so[7f3a2b200000+4a0000] likely on CPU 3 (core 3, socket 0)"))
    log.add(ts, syslog(ts, "web3", "kernel", "Code: 48 8b 47 08 48 85 c0 74 1a 48 8b 50 10 <48> 8b 02 48 89 d7 ff 50 38"))
    log.add(ts + 1, syslog(ts + 1, "web3", "php-fpm8.2", "[WARNING] [pool www] child 23456 exited on signal 11 "
                           "(SIGSEGV) after 812.331 seconds from start", 900))
    done(12, "segfault", "syslog", log, "a php-fpm worker segfaults", [{"id": "crash:php-fpm8.2"}])

    # 13 core dump (systemd-coredump) + trap, unit fails
    log = Log()
    journal_noise(log, rng, "app3", T0, 15)
    ts = T0 + 420
    log.add(ts, journal(ts, "app3", "kernel", "traps: myapp[3141] general protection fault ip:55f1c2a3b4c5 "
                        "sp:7ffd2c3b4a50 error:0 in myapp[55f1c2a00000+5000]", priority=6, transport="kernel"))
    log.add(ts + 1, journal(ts + 1, "app3", "systemd-coredump", "Process 3141 (myapp) of user 1000 dumped core.\n\n"
                            "Stack trace of thread 3141:\n#0  0x000055f1c2a3b4c5 n/a (myapp + 0x34c5)\n"
                            "#1  0x00007f8e1c029d90 __libc_start_call_main (libc.so.6 + 0x29d90)\nELF object binary "
                            "architecture: AMD x86-64", priority=2, pid=3150,
                            unit="systemd-coredump@0-3149-0.service"))
    for i, line in enumerate(["myapp.service: Main process exited, code=dumped, status=11/SEGV",
                              "myapp.service: Failed with result 'core-dump'."]):
        t = ts + 1.5 + i * 0.01
        log.add(t, journal(t, "app3", "systemd", line, priority=5 if i == 0 else 4, pid=1, unit="init.scope",
                           about="myapp.service"))
    done(13, "coredump-journal", "journal", log, "myapp crashes (general protection fault) and dumps core",
         [{"id": "crash:myapp"}, {"id": "systemd.failed:myapp.service"}])

    # 14 disk I/O errors, SATA
    log = Log()
    kernel_noise(log, "nas1", T0, iso=False)
    ts = T0 + 200
    for rep in range(3):
        base = ts + rep * 40
        for i, line in enumerate([
                "ata1.00: exception Emask 0x0 SAct 0x80000 SErr 0x0 action 0x0",
                "ata1.00: irq_stat 0x40000008",
                "ata1.00: failed command: READ FPDMA QUEUED",
                "ata1.00: cmd 60/08:98:00:bc:82/00:00:1d:00:00/40 tag 19 ncq dma 4096 in",
                "ata1.00: status: { DRDY ERR }",
                "ata1.00: error: { UNC }",
                "ata1: EH complete",
                "sd 0:0:0:0: [sda] tag#19 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=3s",
                "sd 0:0:0:0: [sda] tag#19 Sense Key : Medium Error [current]",
                "sd 0:0:0:0: [sda] tag#19 Add. Sense: Unrecovered read error - auto reallocate failed",
                f"critical medium error, dev sda, sector {495098880 + rep * 8} op 0x0:(READ) flags 0x80700 "
                "phys_seg 1 prio class 2"]):
            log.add(base + i * 0.01, syslog(base + i * 0.01, "nas1", "kernel", line))
    done(14, "disk-io-errors", "syslog", log, "unrecoverable read errors on sda (ata1)",
         [{"id": "hw.disk_io:sda"}, {"id": "hw.disk_io:ata1.00"}])

    # 15 ext4 errors, journal aborted, remount read-only
    log = Log()
    kernel_noise(log, "web4", T0)
    auth_noise(log, rng, "web4", T0, 10, iso=True)
    ts = T0 + 300
    for i, line in enumerate([
            "Buffer I/O error on dev sdb1, logical block 0, lost sync page write",
            "EXT4-fs error (device sdb1): ext4_journal_check_start:83: comm kworker/u16:2: Detected aborted journal",
            "Aborting journal on device sdb1-8.",
            "EXT4-fs (sdb1): Remounting filesystem read-only",
            "EXT4-fs error (device sdb1): ext4_find_entry:1463: inode #2: comm nginx: reading directory lblock 0"]):
        log.add(ts + i * 0.5, syslog(ts + i * 0.5, "web4", "kernel", line, None, True))
    done(15, "ext4-remount-ro", "syslog", log, "ext4 on sdb1 aborts its journal and goes read-only",
         [{"id": "fs.error:sdb1"}, {"id": "fs.readonly:sdb1"}, {"id": "hw.disk_io:sdb1"}])

    # 16 XFS shut down (journal)
    log = Log()
    journal_noise(log, rng, "st1", T0, 12)
    ts = T0 + 360
    for i, line in enumerate([
            'XFS (dm-2): metadata I/O error in "xfs_buf_ioend+0x1a5/0x3c0 [xfs]" at daddr 0x3c8f10 len 8 error 5',
            "XFS (dm-2): log I/O error -5",
            "XFS (dm-2): Filesystem has been shut down due to log error (0x2).",
            "XFS (dm-2): Please unmount the filesystem and rectify the problem(s)."]):
        log.add(ts + i * 0.2, journal(ts + i * 0.2, "st1", "kernel", line, priority=2 if i else 3, transport="kernel"))
    done(16, "xfs-shutdown", "journal", log, "XFS on dm-2 hits log I/O errors and shuts down",
         [{"id": "fs.error:dm-2"}, {"id": "fs.readonly:dm-2"}])

    # 17 machine check / EDAC corrected memory errors
    log = Log()
    kernel_noise(log, "db3", T0, iso=False)
    ts = T0 + 900
    log.add(ts, syslog(ts, "db3", "kernel", "mce: [Hardware Error]: Machine check events logged"))
    for i in range(5):
        t = ts + 1 + i * 30
        log.add(t, syslog(t, "db3", "kernel", "EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 "
                          "(channel:1 slot:0 page:0x8a2f1 offset:0x0 grain:32 syndrome:0x0 - area:DRAM "
                          "err_code:0101:0091 socket:0 ha:0 channel_mask:2 rank:0)"))
    done(17, "mce-edac", "syslog", log, "corrected memory errors on DIMM 0 of channel 1", [{"id": "hw.mce:db3"}])

    # 18 disk full (journal)
    log = Log()
    journal_noise(log, rng, "db4", T0, 15)
    ts = T0 + 500
    log.add(ts, journal(ts, "db4", "postgres", 'PANIC:  could not write to file "pg_wal/xlogtemp.2291": '
                        "No space left on device", priority=2, pid=2291, unit="postgresql@15-main.service"))
    log.add(ts + 2, journal(ts + 2, "db4", "systemd-journald", "Failed to write entry (23 items, 712 bytes) despite "
                            "vacuuming, ignoring: No space left on device", priority=3, pid=301,
                            unit="systemd-journald.service"))
    log.add(ts + 5, journal(ts + 5, "db4", "logrotate", "error: error creating output file /var/log/nginx/access.log.1: "
                            "No space left on device", priority=3, pid=5121, unit="logrotate.service"))
    done(18, "disk-full", "journal", log, "the root filesystem fills up", [{"id": "disk.full:db4"}])

    # 19 a unit fails once
    log = Log()
    auth_noise(log, rng, "bk1", T0, 10)
    ts = T0 + 180
    for i, (ident, pid, line) in enumerate([
            ("systemd", 1, "Starting backup.service - Nightly backup..."),
            ("backup.sh", 4567, "tar: /srv/data: Cannot open: Permission denied"),
            ("systemd", 1, "backup.service: Main process exited, code=exited, status=2/INVALIDARGUMENT"),
            ("systemd", 1, "backup.service: Failed with result 'exit-code'."),
            ("systemd", 1, "Failed to start backup.service - Nightly backup.")]):
        log.add(ts + i, syslog(ts + i, "bk1", ident, line, pid))
    done(19, "unit-failed", "syslog", log, "backup.service fails", [{"id": "systemd.failed:backup.service"}])

    # 20 restart loop (Restart=always)
    log = Log()
    auth_noise(log, rng, "app4", T0, 12)
    ts = T0 + 200
    for cycle in range(6):
        base = ts + cycle * 6
        for i, line in enumerate(["app.service: Main process exited, code=exited, status=1/FAILURE",
                                  "app.service: Failed with result 'exit-code'.",
                                  f"app.service: Scheduled restart job, restart counter is at {cycle + 1}.",
                                  "Stopped app.service - Orders application.",
                                  "Started app.service - Orders application."]):
            log.add(base + i * 0.1 + (5 if i >= 2 else 0), syslog(base + i * 0.1 + (5 if i >= 2 else 0), "app4",
                                                                  "systemd", line, 1))
        log.add(base + 5.5, syslog(base + 5.5, "app4", "app", "Error: connect ECONNREFUSED 127.0.0.1:5432", 6000 + cycle))
    done(20, "restart-loop", "syslog", log, "app.service crashes and is restarted every 5 s",
         [{"id": "systemd.restart_loop:app.service"}, {"id": "systemd.failed:app.service"}])

    # 21 start limit hit (journal)
    log = Log()
    journal_noise(log, rng, "q1", T0, 12)
    ts = T0 + 240
    for cycle in range(5):
        base = ts + cycle * 2
        for i, line in enumerate(["worker.service: Main process exited, code=exited, status=203/EXEC",
                                  "worker.service: Failed with result 'exit-code'.",
                                  f"worker.service: Scheduled restart job, restart counter is at {cycle + 1}.",
                                  "Stopped worker.service - Queue worker.",
                                  "Started worker.service - Queue worker."]):
            t = base + i * 0.2
            log.add(t, journal(t, "q1", "systemd", line, priority=3 if "Failed" in line else 6, pid=1, unit="init.scope",
                               about="worker.service"))
    base = ts + 11
    for i, line in enumerate(["worker.service: Start request repeated too quickly.",
                              "worker.service: Failed with result 'exit-code'.",
                              "Failed to start worker.service - Queue worker."]):
        log.add(base + i * 0.01, journal(base + i * 0.01, "q1", "systemd", line, priority=3, pid=1,
                                         unit="init.scope", about="worker.service"))
    done(21, "start-limit-hit", "journal", log, "worker.service cannot exec and hits its start limit",
         [{"id": "systemd.restart_loop:worker.service"}, {"id": "systemd.failed:worker.service"}])

    # 22 flapping: restarted cleanly every minute by something else
    log = Log()
    auth_noise(log, rng, "lb1", T0, 15, iso=True)
    ts = T0 + 120
    for cycle in range(8):
        base = ts + cycle * 60
        for i, line in enumerate(["Stopping haproxy.service - HAProxy Load Balancer...",
                                  "haproxy.service: Deactivated successfully.",
                                  "Stopped haproxy.service - HAProxy Load Balancer.",
                                  "Starting haproxy.service - HAProxy Load Balancer...",
                                  "Started haproxy.service - HAProxy Load Balancer."]):
            log.add(base + i * 0.2, syslog(base + i * 0.2, "lb1", "systemd", line, 1, True))
    done(22, "unit-flapping", "syslog", log, "haproxy.service stopped and started every minute",
         [{"id": "systemd.flapping:haproxy.service"}])

    # 23 5xx burst against a quiet baseline
    log = Log()
    web_noise(log, rng, T0, 25)
    for m in range(2):
        for _ in range(150):
            t = T0 + (18 + m) * 60 + rng.random() * 60
            log.add(t, access(t, rng.choice(CLIENTS), "GET", rng.choice(["/api/v1/cart", "/api/v1/items?page=1",
                                                                         "/checkout"]), 502, 157))
    done(23, "nginx-5xx-burst", "nginx-access", log, "two minutes of 502s (150/min) on a site serving 40 req/min",
         [{"id": "nginx.5xx_burst:{origin}"}])

    # 24 upstream timeouts
    log = Log()
    ts = T0 + 60
    log.add(T0, nginx_error(T0, "notice", "signal process started", pid=2200))
    for i in range(6):
        t = ts + i * 13
        log.add(t, nginx_error(t, "error", "upstream timed out (110: Connection timed out) while reading response header "
                               f"from upstream, client: {CLIENTS[i]}, server: shop.example.com, request: \"GET "
                               "/api/cart HTTP/1.1\", upstream: \"http://127.0.0.1:8080/api/cart\", host: "
                               "\"shop.example.com\"", cid=1000 + i))
    done(24, "nginx-upstream-timeout", "nginx-error", log, "the app behind nginx stops answering in time",
         [{"id": "nginx.upstream_timeout:127.0.0.1:8080"}])

    # 25 upstream refuses connections (TCP)
    log = Log()
    for i in range(4):
        t = T0 + i * 9
        log.add(t, nginx_error(t, "error", "connect() failed (111: Connection refused) while connecting to upstream, "
                               f"client: {CLIENTS[i + 5]}, server: app.example.com, request: \"POST /graphql HTTP/2.0\", "
                               "upstream: \"http://127.0.0.1:3000/graphql\", host: \"app.example.com\"", cid=77 + i))
    done(25, "nginx-connect-refused", "nginx-error", log, "the node app on :3000 is down",
         [{"id": "nginx.upstream_connect:127.0.0.1:3000"}])

    # 26 php-fpm socket missing
    log = Log()
    for i in range(3):
        t = T0 + i * 20
        log.add(t, nginx_error(t, "crit", "connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or "
                               f"directory) while connecting to upstream, client: {CLIENTS[i]}, server: "
                               "blog.example.com, request: \"GET /index.php HTTP/1.1\", upstream: "
                               "\"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"blog.example.com\"", cid=12 + i))
    done(26, "nginx-php-fpm-down", "nginx-error", log, "php-fpm is not running",
         [{"id": "nginx.upstream_connect:unix:/run/php/php8.2-fpm.sock"}])

    # 27 no live upstreams after both backends refuse
    log = Log()
    t = T0
    for i, up in enumerate(["10.0.0.5:8000", "10.0.0.6:8000"]):
        t = T0 + i
        log.add(t, nginx_error(t, "error", "connect() failed (111: Connection refused) while connecting to upstream, "
                               "client: 198.51.100.31, server: api.example.com, request: \"GET /v1/users HTTP/1.1\", "
                               f"upstream: \"http://{up}/v1/users\", host: \"api.example.com\"", cid=300 + i))
        log.add(t, nginx_error(t, "warn", "upstream server temporarily disabled while connecting to upstream, client: "
                               "198.51.100.31, server: api.example.com, request: \"GET /v1/users HTTP/1.1\", "
                               f"upstream: \"http://{up}/v1/users\", host: \"api.example.com\"", cid=300 + i))
    for i in range(5):
        t = T0 + 5 + i * 3
        log.add(t, nginx_error(t, "error", "no live upstreams while connecting to upstream, client: "
                               f"{CLIENTS[i]}, server: api.example.com, request: \"GET /v1/users HTTP/1.1\", "
                               "upstream: \"http://backend/v1/users\", host: \"api.example.com\"", cid=310 + i))
    done(27, "nginx-no-live-upstreams", "nginx-error", log, "both backends refuse, then no live upstreams",
         [{"id": "nginx.no_live_upstreams:backend"}, {"id": "nginx.upstream_connect:10.0.0.5:8000"},
          {"id": "nginx.upstream_connect:10.0.0.6:8000"}])

    # 28 scanner with probe paths
    log = Log()
    web_noise(log, rng, T0, 15)
    probes = ["/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/index.php", "/.aws/credentials",
              "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/server-status", "/actuator/env", "/config.php",
              "/cgi-bin/luci", "/.DS_Store", "/admin/config.php"]
    for i, p in enumerate(probes):
        t = T0 + 400 + i * 2
        log.add(t, access(t, "192.0.2.66", "GET", p, 404, 162, "Mozilla/5.0 zgrab/0.x"))
    done(28, "nginx-scanner-probes", "nginx-access", log, "192.0.2.66 probes 12 well-known paths",
         [{"id": "nginx.scanner:192.0.2.66"}])

    # 29 directory brute force (many distinct 404s)
    log = Log()
    web_noise(log, rng, T0, 12)
    words = ["backup", "old", "new", "tmp", "test", "dev", "staging", "api2", "private", "files", "upload", "uploads",
             "download", "archive", "data", "db", "sql", "logs", "log", "cache", "assets2", "img2", "include",
             "includes", "lib", "src", "bin", "conf", "cfg", "secret", "hidden", "internal", "beta", "v2", "v3",
             "portal", "dashboard", "panel", "cpanel", "webmail"]
    for i, w in enumerate(words):
        t = T0 + 300 + i * 1.5
        log.add(t, access(t, "203.0.113.150", "GET", f"/{w}/", 404, 162, "gobuster/3.6"))
    done(29, "nginx-dir-bruteforce", "nginx-access", log, "203.0.113.150 tries 40 directory names, all 404",
         [{"id": "nginx.scanner:203.0.113.150"}])

    # 30 a secret file served
    log = Log()
    web_noise(log, rng, T0, 10)
    for i, (p, st, sz) in enumerate([("/.env", 200, 1432), ("/.git/config", 404, 162), ("/wp-config.php.bak", 404, 162),
                                     ("/phpinfo.php", 404, 162), ("/.aws/credentials", 404, 162)]):
        t = T0 + 200 + i
        log.add(t, access(t, "203.0.113.201", "GET", p, st, sz, "python-requests/2.31.0"))
    done(30, "nginx-env-exposed", "nginx-access", log, "a scanner gets /.env with 200 and a body",
         [{"id": "nginx.exposed:/.env"}, {"id": "nginx.scanner:203.0.113.201"}])

    # 31 credential stuffing on an API login
    log = Log()
    web_noise(log, rng, T0, 15)
    for i in range(40):
        t = T0 + 500 + i * 5
        log.add(t, access(t, "192.0.2.77", "POST", "/api/v1/auth/login", 401, 61, "python-requests/2.31.0"))
    done(31, "nginx-credential-stuffing", "nginx-access", log, "40 failed API logins from 192.0.2.77",
         [{"id": "nginx.credential_stuffing:192.0.2.77"}])

    # 32 WordPress login brute force (failed wp-login answers 200)
    log = Log()
    web_noise(log, rng, T0, 15)
    for i in range(25):
        t = T0 + 420 + i * 6
        log.add(t, access(t, "203.0.113.99", "POST", "/wp-login.php", 200, 4521, AGENTS[1]))
    done(32, "nginx-wp-login-bruteforce", "nginx-access", log, "25 POSTs to /wp-login.php answered 200 (failed logins)",
         [{"id": "nginx.credential_stuffing:203.0.113.99"}])

    # 33 request-rate spike
    log = Log()
    web_noise(log, rng, T0, 20, per_minute=60)
    for _ in range(1500):
        t = T0 + 16 * 60 + rng.random() * 60
        log.add(t, access(t, f"203.0.113.{rng.randint(1, 30)}", "GET", "/", 200, 5120, "Go-http-client/1.1"))
    done(33, "nginx-rate-spike", "nginx-access", log, "1500 requests in one minute on a site doing 60/min",
         [{"id": "nginx.rate_spike:{origin}"}])

    # 34 TLS handshake failures
    log = Log()
    for i in range(12):
        t = T0 + i * 25
        log.add(t, nginx_error(t, "crit", "SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) "
                               f"while SSL handshaking, client: 192.0.2.{200 + i % 4}, server: 0.0.0.0:443", cid=900 + i))
    done(34, "nginx-tls-handshake", "nginx-error", log, "12 TLS handshake failures in 5 minutes",
         [{"id": "nginx.tls_handshake:0.0.0.0:443"}])

    # 35 [emerg] configuration error (error log)
    log = Log()
    log.add(T0, nginx_error(T0, "notice", "signal process started", pid=2200))
    for i in range(2):
        t = T0 + 60 + i * 30
        log.add(t, nginx_error(t, "emerg", 'unknown directive "proxy_passs" in /etc/nginx/sites-enabled/app.conf:14',
                               pid=2300 + i))
    done(35, "nginx-emerg-config", "nginx-error", log, "a typo in app.conf; nginx -t and reload fail",
         [{"id": "nginx.emerg:/etc/nginx/sites-enabled/app.conf"}])

    # 36 [emerg] bind failure seen in the journal
    log = Log()
    journal_noise(log, rng, "web5", T0, 8)
    t = T0 + 200
    for i, line in enumerate(["nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
                              "nginx: [emerg] bind() to [::]:80 failed (98: Address already in use)",
                              "nginx: [emerg] still could not bind()"]):
        log.add(t + i * 0.5, journal(t + i * 0.5, "web5", "nginx", line, priority=3, pid=6100, unit="nginx.service"))
    log.add(t + 2, journal(t + 2, "web5", "systemd", "nginx.service: Control process exited, code=exited, "
                           "status=1/FAILURE", priority=5, pid=1, unit="init.scope", about="nginx.service"))
    log.add(t + 2, journal(t + 2, "web5", "systemd", "nginx.service: Failed with result 'exit-code'.", priority=4, pid=1,
                           unit="init.scope", about="nginx.service"))
    done(36, "nginx-emerg-bind-journal", "journal", log, "port 80 is taken; nginx cannot start",
         [{"detector": "nginx.emerg", "template": "Address already in use"},
          {"detector": "nginx.emerg", "template": "still could not bind"},
          {"id": "systemd.failed:nginx.service"}])

    # 37 rate anomaly on an application error template
    log = Log()
    journal_noise(log, rng, "app5", T0, 35)
    for m in range(0, 30, 4):
        t = T0 + m * 60 + 30
        log.add(t, journal(t, "app5", "orders-api", f"ERROR payment gateway timeout after 30000ms order={4000 + m}",
                           priority=3, pid=812, unit="orders-api.service"))
    for i in range(120):
        t = T0 + 31 * 60 + i * 0.45
        log.add(t, journal(t, "app5", "orders-api", f"ERROR payment gateway timeout after 30000ms order={5000 + i}",
                           priority=3, pid=812, unit="orders-api.service"))
    done(37, "app-error-surge", "journal", log, "payment gateway timeouts jump from one per 4 minutes to 120 in a minute",
         [{"detector": "rate", "template": "payment gateway timeout"}])

    # 38 thermal throttling
    log = Log()
    kernel_noise(log, "gpu1", T0)
    t = T0 + 300
    log.add(t, syslog(t, "gpu1", "kernel", "mce: CPU2: Core temperature above threshold, cpu clock throttled "
                      "(total events = 31337)", None, True))
    log.add(t, syslog(t, "gpu1", "kernel", "mce: CPU6: Package temperature above threshold, cpu clock throttled "
                      "(total events = 31340)", None, True))
    log.add(t + 1, syslog(t + 1, "gpu1", "kernel", "mce: CPU2: Core temperature/speed normal", None, True))
    done(38, "thermal-throttling", "syslog", log, "CPU package overheats and throttles", [{"id": "hw.thermal:gpu1"}])

    # -- normal traffic and near misses: nothing to report ---------------------------------
    log = Log()
    auth_noise(log, rng, "web1", T0, 40)
    t = T0 + 900
    for i in range(2):
        log.add(t + i * 4, syslog(t + i * 4, "web1", "sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                                  "euid=0 tty=ssh ruser= rhost=192.0.2.10  user=alice", 9900))
        log.add(t + i * 4 + 1, syslog(t + i * 4 + 1, "web1", "sshd", f"Failed password for alice from 192.0.2.10 port "
                                      f"{52000 + i} ssh2", 9900))
    log.add(t + 12, syslog(t + 12, "web1", "sshd", "Accepted password for alice from 192.0.2.10 port 52002 ssh2", 9900))
    log.add(t + 13, syslog(t + 13, "web1", "sshd", "Set /proc/self/oom_score_adj to 0", 9901))
    done(39, "normal-auth", "syslog", log, "cron, key logins, sudo by bob, alice mistypes her password twice",
         [])

    log = Log()
    web_noise(log, rng, T0, 30, per_minute=50)
    t = T0 + 700
    log.add(t, access(t, "198.51.100.44", "GET", "/wp-login.php", 404, 162, AGENTS[0]))
    log.add(t + 9, access(t + 9, "198.51.100.44", "GET", "/robots.txt", 200, 67, AGENTS[0]))
    for i in range(3):
        log.add(t + 30 + i, access(t + 30 + i, "198.51.100.45", "POST", "/login", 401, 61, AGENTS[2]))
    done(40, "normal-web", "nginx-access", log,
         "30 minutes of traffic with scattered 404s and 502s, one stray wp-login probe, three failed logins", [])

    log = Log()
    journal_noise(log, rng, "app6", T0, 30)
    t = T0 + 600
    for i, line in enumerate(["Stopping nginx.service - A high performance web server and a reverse proxy server...",
                              "nginx.service: Deactivated successfully.",
                              "Stopped nginx.service - A high performance web server and a reverse proxy server.",
                              "Starting nginx.service - A high performance web server and a reverse proxy server...",
                              "Started nginx.service - A high performance web server and a reverse proxy server.",
                              "session-3.scope: Deactivated successfully."]):
        log.add(t + i * 0.3, journal(t + i * 0.3, "app6", "systemd", line, pid=1, unit="init.scope"))
    done(41, "normal-systemd", "journal", log, "a timer every minute and one manual nginx restart", [])

    log = Log()
    for i, line in enumerate([
            "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP "
            "PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
            "mce: CPU0: Thermal monitoring enabled (TM1)",
            "MCE: In-kernel MCE decoding enabled.",
            "EDAC MC: Ver: 3.0.0",
            "EDAC ie31200: No ECC support",
            "ata1: SATA link up 6.0 Gbps (SStatus 133 SControl 300)",
            "ata1.00: ATA-10: Samsung SSD 870 EVO 1TB, SVT02B6Q, max UDMA/133",
            "ata1.00: configured for UDMA/133",
            "sd 0:0:0:0: [sda] 1953525168 512-byte logical blocks: (1.00 TB/932 GiB)",
            "sd 0:0:0:0: [sda] Write cache: enabled, read cache: enabled, doesn't support DPO or FUA",
            "nvme nvme0: 8/0/0 default/read/poll queues",
            "pcieport 0000:00:1c.0: AER: enabled with IRQ 122",
            "EXT4-fs (sda1): mounted filesystem 3b1f0c2e-5d4a-4f7e-9a8b-1c2d3e4f5a6b with ordered data mode. "
            "Quota mode: none.",
            "EXT4-fs (sda1): re-mounted 3b1f0c2e-5d4a-4f7e-9a8b-1c2d3e4f5a6b. Quota mode: none.",
            "XFS (sdb1): Mounting V5 Filesystem 9c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
            "XFS (sdb1): Ending clean mount",
            "Adding 1998844k swap on /dev/sda5.  Priority:-2 extents:1 across:1998844k SS"]):
        t = T0 + i * 0.05
        log.add(t, syslog(t, "srv9", "kernel", f"[    {1.5 + i * 0.3:.6f}] {line}"))
    log.add(T0 + 5, syslog(T0 + 5, "srv9", "systemd-fsck", "/dev/sda1: clean, 112233/6553600 files, "
                           "3322110/26214400 blocks", 301))
    done(42, "normal-boot-kernel", "syslog", log, "a boot: mount options, ata link, EDAC and MCE banners", [])

    log = Log()
    log.add(T0, nginx_error(T0, "notice", "signal process started", pid=2200))
    log.add(T0 + 1, nginx_error(T0 + 1, "warn", 'conflicting server name "example.com" on 0.0.0.0:80, ignored',
                                pid=2201))
    for i in range(3):
        t = T0 + 100 + i * 600
        log.add(t, nginx_error(t, "error", 'open() "/var/www/html/apple-touch-icon.png" failed (2: No such file or '
                               f'directory), client: {CLIENTS[i]}, server: example.com, request: "GET '
                               '/apple-touch-icon.png HTTP/1.1", host: "example.com"', cid=40 + i))
    for i in range(2):
        t = T0 + 300 + i * 1800
        log.add(t, nginx_error(t, "crit", "SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported "
                               f"protocol) while SSL handshaking, client: 192.0.2.{30 + i}, server: 0.0.0.0:443",
                               cid=60 + i))
    log.add(T0 + 2000, nginx_error(T0 + 2000, "warn", "an upstream response is buffered to a temporary file "
                                   "/var/lib/nginx/proxy/1/00/0000000001 while reading upstream, client: 198.51.100.12, "
                                   'server: example.com, request: "GET /report.pdf HTTP/1.1", upstream: '
                                   '"http://127.0.0.1:8080/report.pdf", host: "example.com"', cid=99))
    done(43, "normal-nginx-error", "nginx-error", log,
         "reloads, a missing icon, two TLS failures an hour apart, a buffered upstream response", [])

    log = Log()
    journal_noise(log, rng, "app7", T0, 40)
    for m in range(40):
        for k in range(25):
            t = T0 + m * 60 + k * 2.3
            log.add(t, journal(t, "app7", "orders-api", f"ERROR cache refresh failed key=sku:{rng.randint(1, 99999)}",
                               priority=3, pid=812, unit="orders-api.service"))
    done(44, "steady-app-errors", "journal", log, "an app logs the same error 25 times a minute for 40 minutes", [])

    log = Log()
    journal_noise(log, rng, "db5", T0, 20)
    for i, (ip, user) in enumerate([("192.0.2.150", "admin"), ("192.0.2.150", "admin"), ("192.0.2.151", "postgres")]):
        ssh_attempts(log, "db5", ip, [user], T0 + 300 + i * 90, 1.0, pid0=70000 + i * 10, journal_fmt=True)
    ssh_attempts(log, "db5", "192.0.2.152", ["oracle", "test"], T0 + 700, 30.0, invalid=True, pid0=71000,
                 journal_fmt=True)
    done(45, "ssh-near-miss", "journal", log, "a handful of failures and two invalid users, below every threshold", [])

    # -- older formats (CentOS 7: OpenSSH 7.4, systemd 219, rsyslog "systemd:" without a pid) --------
    log = Log()
    for m in range(20):
        ts = T0 + m * 60 + 1
        log.add(ts, syslog(ts, "c7", "systemd", f"Started Session {100 + m} of user root."))
        log.add(ts, syslog(ts, "c7", "CROND", "(root) CMD (/usr/lib64/sa/sa1 1 1)", 20000 + m))
    for i in range(8):
        t = T0 + 400 + i * 8
        pid = 31000 + i
        log.add(t, syslog(t, "c7", "sshd", "error: PAM: Authentication failure for root from 203.0.113.60", pid))
        log.add(t + 0.5, syslog(t + 0.5, "c7", "sshd", f"Failed keyboard-interactive/pam for root from 203.0.113.60 "
                                f"port {51000 + i} ssh2", pid))
    done(46, "ssh-bruteforce-kbdint-centos7", "syslog", log,
         "keyboard-interactive brute force on root, CentOS 7 /var/log/secure wording",
         [{"id": "ssh.bruteforce:203.0.113.60"}])

    log = Log()
    for m in range(12):
        ts = T0 + m * 60 + 1
        log.add(ts, syslog(ts, "c7", "systemd", f"Started Session {200 + m} of user root."))
        log.add(ts + 0.2, syslog(ts + 0.2, "c7", "systemd", "Removed slice User Slice of root."))
    ts = T0 + 300
    for cycle in range(5):
        base = ts + cycle * 2
        for i, line in enumerate(["app.service: main process exited, code=exited, status=1/FAILURE",
                                  "Unit app.service entered failed state.",
                                  "app.service failed.",
                                  "app.service holdoff time over, scheduling restart.",
                                  "Stopped My App.",
                                  "Started My App."]):
            log.add(base + i * 0.1, syslog(base + i * 0.1, "c7", "systemd", line))
    base = ts + 11
    for i, line in enumerate(["start request repeated too quickly for app.service", "Failed to start My App.",
                              "Unit app.service entered failed state.", "app.service failed."]):
        log.add(base + i * 0.01, syslog(base + i * 0.01, "c7", "systemd", line))
    done(47, "restart-loop-systemd219", "syslog", log, "a restart loop as systemd 219 words it, ending in the start limit",
         [{"id": "systemd.restart_loop:app.service"}, {"id": "systemd.failed:app.service"}])

    log = Log()
    for m in range(30):
        ts = T0 + m * 60 + 1
        log.add(ts, syslog(ts, "c7", "systemd", f"Started Session {300 + m} of user root."))
        log.add(ts + 0.1, syslog(ts + 0.1, "c7", "systemd", f"Starting Session {300 + m} of user root."))
        log.add(ts + 0.5, syslog(ts + 0.5, "c7", "systemd", "Removed slice User Slice of root."))
        log.add(ts + 0.6, syslog(ts + 0.6, "c7", "systemd", "Stopping User Slice of root."))
    log.add(T0 + 700, syslog(T0 + 700, "c7", "systemd", "Stopped The nginx HTTP and reverse proxy server."))
    log.add(T0 + 701, syslog(T0 + 701, "c7", "systemd", "Started The nginx HTTP and reverse proxy server."))
    done(48, "normal-centos7-systemd", "syslog", log, "cron sessions every minute and one nginx restart on CentOS 7",
         [])
    return made


if __name__ == "__main__":
    for old in HERE.glob("[0-9][0-9]-*"):
        old.unlink()
    names = build()
    print(f"wrote {len(names)} incidents to {HERE}")
