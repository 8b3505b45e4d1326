"""nginx detectors on combined access-log lines and nginx error-log lines."""

from __future__ import annotations

import json
import random
import time

import pytest
from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines

T0 = 1714557600.0
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def access(ts: float, ip: str, path: str, status: int, method: str = "GET", size: int = 512) -> str:
    t = time.gmtime(ts)
    stamp = f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "Mozilla/5.0"'


def error(ts: float, level: str, text: str) -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(ts)) + f" [{level}] 2211#2211: *7 {text}"


def traffic(minutes: int, per_minute: int, rng: random.Random, start: float = T0) -> list[tuple[float, str]]:
    out = []
    for m in range(minutes):
        for _ in range(per_minute):
            ts = start + m * 60 + rng.random() * 60
            out.append((ts, access(ts, f"198.51.100.{rng.randint(10, 60)}", rng.choice(["/", "/about", "/api/v1/x"]),
                                   rng.choice((200, 200, 304)))))
    return out


def run(kind: str, timed: list[tuple[float, str]] | list[str], origin: str = "site.log") -> FindingsEngine:
    lines = [x[1] for x in sorted(timed)] if timed and isinstance(timed[0], tuple) else timed
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines(kind, lines, origin=origin):
        engine.feed(record)
    return engine


def test_5xx_burst_against_the_baseline() -> None:
    rng = random.Random(1)
    lines = traffic(20, 40, rng)
    lines += [(T0 + 15 * 60 + i * 0.4, access(T0 + 15 * 60 + i * 0.4, "198.51.100.9", "/api/cart", 502))
              for i in range(100)]
    engine = run("nginx-access", lines)
    f = engine.get("nginx.5xx_burst:site.log")
    assert f is not None and f.category == "availability"
    assert f.count == 100 and len(f.evidence) == 100  # the 20 before the threshold too
    assert f.keys["status"] == ("502",) and f.keys["path"] == ("/api/cart",)


def test_steady_5xx_share_is_the_baseline_not_a_burst() -> None:
    rng = random.Random(2)
    lines = traffic(30, 40, rng)
    for m in range(30):  # 25 errors every minute, all along
        lines += [(T0 + m * 60 + i * 2, access(T0 + m * 60 + i * 2, "198.51.100.9", "/api/cart", 503))
                  for i in range(25)]
    assert run("nginx-access", lines).get("nginx.5xx_burst:site.log") is None


def test_rate_spike() -> None:
    rng = random.Random(3)
    lines = traffic(20, 50, rng)
    lines += [(T0 + 15 * 60 + i * 0.05, access(T0 + 15 * 60 + i * 0.05, "203.0.113.5", "/", 200)) for i in range(1000)]
    f = run("nginx-access", lines).get("nginx.rate_spike:site.log")
    assert f is not None and f.keys["ip"][0] == "203.0.113.5" and f.category == "performance"
    assert f.count >= 1000


def test_probe_scanner_and_exposed_secret() -> None:
    probes = ["/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/index.php"]
    lines = [access(T0 + i, "192.0.2.66", p, 200 if p == "/.env" else 404, size=1432 if p == "/.env" else 162)
             for i, p in enumerate(probes)]
    engine = run("nginx-access", lines)
    scan = engine.get("nginx.scanner:192.0.2.66")
    assert scan is not None and scan.count == 4 and set(scan.keys["path"]) == set(probes)
    exposed = engine.get("nginx.exposed:/.env")
    assert exposed is not None and exposed.severity == 2 and exposed.evidence == ("site.log#0",)


def test_many_404s_from_a_busy_client_are_not_a_scanner() -> None:
    # 25 distinct 404s among 600 good requests from the same address: a broken page, not a scan
    lines = []
    for i in range(625):
        ts = T0 + i * 0.5
        lines.append((ts, access(ts, "198.51.100.77", f"/img/{i}.png" if i % 25 == 0 else "/", 404 if i % 25 == 0
                                 else 200)))
    assert run("nginx-access", lines).findings() == []


def test_directory_bruteforce_is_a_scanner() -> None:
    lines = [access(T0 + i, "203.0.113.150", f"/dir{i}/", 404) for i in range(25)]
    f = run("nginx-access", lines).get("nginx.scanner:203.0.113.150")
    assert f is not None and f.count == 25


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/api/v1/auth/login", 401), ("POST", "/login", 403), ("POST", "/wp-login.php", 200),
    ("POST", "/oauth/token", 401)])
def test_credential_stuffing(method: str, path: str, status: int) -> None:
    lines = [access(T0 + i * 5, "192.0.2.77", path, status, method) for i in range(12)]
    f = run("nginx-access", lines).get("nginx.credential_stuffing:192.0.2.77")
    assert f is not None and f.count == 12


def test_failed_logins_spread_out_or_on_other_paths_are_not_stuffing() -> None:
    slow = [access(T0 + i * 120, "192.0.2.78", "/login", 401, "POST") for i in range(12)]  # one per 2 minutes
    other = [access(T0 + i, "192.0.2.79", "/admin/reports", 403) for i in range(12)]
    assert run("nginx-access", slow + other).findings() == []


UPSTREAM = ('client: 198.51.100.31, server: api.example.com, request: "GET /v1/users HTTP/1.1", '
            'upstream: "{up}", host: "api.example.com"')


@pytest.mark.parametrize(("text", "fid", "severity"), [
    ("upstream timed out (110: Connection timed out) while reading response header from upstream, "
     + UPSTREAM.format(up="http://127.0.0.1:8080/v1/users"), "nginx.upstream_timeout:127.0.0.1:8080", 3),
    ("connect() failed (111: Connection refused) while connecting to upstream, "
     + UPSTREAM.format(up="http://10.0.0.5:8000/v1/users"), "nginx.upstream_connect:10.0.0.5:8000", 3),
    ("connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream, "
     + UPSTREAM.format(up="fastcgi://unix:/run/php/php8.2-fpm.sock:"),
     "nginx.upstream_connect:unix:/run/php/php8.2-fpm.sock", 3),
    ("no live upstreams while connecting to upstream, " + UPSTREAM.format(up="http://backend/v1/users"),
     "nginx.no_live_upstreams:backend", 2),
])
def test_upstream_errors(text: str, fid: str, severity: int) -> None:
    engine = run("nginx-error", [error(T0, "error", text)])
    [f] = engine.findings()
    assert f.id == fid and f.severity == severity and f.keys["ip"] == ("198.51.100.31",)


def test_tls_handshake_failures_need_a_burst() -> None:
    text = ("SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, "
            "client: 192.0.2.{n}, server: 0.0.0.0:443")
    few = [error(T0 + i * 900, "crit", text.format(n=i)) for i in range(3)]
    assert run("nginx-error", few).findings() == []
    many = [error(T0 + i * 20, "crit", text.format(n=i)) for i in range(6)]
    f = run("nginx-error", many).get("nginx.tls_handshake:0.0.0.0:443")
    assert f is not None and f.count == 6 and len(f.keys["ip"]) == 6


def test_emerg_config_error_file_and_journal() -> None:
    engine = run("nginx-error", [error(T0, "emerg", 'unknown directive "proxy_passs" in '
                                                    "/etc/nginx/sites-enabled/app.conf:14")])
    f = engine.get("nginx.emerg:/etc/nginx/sites-enabled/app.conf")
    assert f is not None and f.severity == 0 and f.category == "configuration"

    line = json.dumps({"__CURSOR": "c1", "__REALTIME_TIMESTAMP": "1714557600000000", "_HOSTNAME": "web5",
                       "PRIORITY": "3", "SYSLOG_IDENTIFIER": "nginx", "_SYSTEMD_UNIT": "nginx.service",
                       "MESSAGE": "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)"})
    [f] = run("journal", [line]).findings()
    assert f.detector == "nginx.emerg" and "Address already in use" in f.template


def test_loghub_apache_error_log_has_no_nginx_findings(loghub) -> None:
    with open(loghub / "Apache_2k.log", encoding="utf-8", errors="replace") as fh:
        engine = run("apache-error", list(fh))
    assert not [f for f in engine.findings() if f.detector.startswith("nginx")]


def test_generated_benchmark_log_finds_the_planted_scanner_and_stuffer() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "gen_access_log", Path(__file__).resolve().parent.parent / "bench" / "gen_access_log.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    lines = [line.rstrip("\n") for line in gen.lines(60_000, 7)]
    ids = {f.id for f in run("nginx-access", lines, origin="bench.log").findings()}
    assert ids == {"nginx.scanner:192.0.2.66", "nginx.credential_stuffing:192.0.2.77"}
