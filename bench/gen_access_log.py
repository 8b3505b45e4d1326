"""Write a realistic nginx ``combined`` access log for the benchmarks.

Deterministic (seeded): a mix of pages, assets and API calls from a pool of
clients, mostly 200/304, some 301/404, a few 5xx, with a scanner and a burst of
401s on the login endpoint so the findings have something to find.

    python bench/gen_access_log.py OUT.log [--lines 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time

PAGES = ["/", "/index.html", "/about", "/pricing", "/blog/", "/blog/2024/05/release-notes", "/docs/install",
         "/docs/config", "/contact", "/search?q=nginx+timeout", "/products/42", "/products/1337", "/cart"]
ASSETS = ["/static/app.3f2a1c.js", "/static/app.9b81e0.css", "/static/logo.svg", "/favicon.ico",
          "/static/fonts/inter.woff2", "/images/hero-1600.webp"]
API = ["/api/v1/items?page=2", "/api/v1/items/981", "/api/v1/cart", "/api/v1/session", "/api/v1/orders/5521",
       "/api/v1/search?q=lamp"]
PROBES = ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/index.php", "/admin/config.php",
          "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/cgi-bin/luci", "/server-status", "/.aws/credentials"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148",
    "curl/7.88.1",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
]
REFERERS = ["-", "-", "https://www.example.com/", "https://www.example.com/blog/", "https://duckduckgo.com/"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def stamp(ts: float) -> str:
    t = time.gmtime(ts)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def lines(count: int, seed: int, start: float = 1714521600.0):
    rng = random.Random(seed)
    clients = [f"198.51.100.{i}" for i in range(1, 200)] + [f"203.0.113.{i}" for i in range(1, 120)]
    scanner = "192.0.2.66"
    stuffer = "192.0.2.77"
    ts = start
    for n in range(count):
        ts += rng.expovariate(300.0)  # ~300 requests/s
        roll = rng.random()
        ip = rng.choice(clients)
        agent = rng.choice(AGENTS)
        referer = rng.choice(REFERERS)
        method = "GET"
        if roll < 0.004:
            ip, path, status, agent = scanner, rng.choice(PROBES), 404, "Mozilla/5.0 zgrab/0.x"
        elif roll < 0.006:
            ip, method, path, status = stuffer, "POST", "/login", 401
        elif roll < 0.02:
            path, status = rng.choice(API), rng.choice((500, 502, 503, 504))
        elif roll < 0.05:
            path, status = "/products/" + str(rng.randint(2000, 9999)), 404
        elif roll < 0.10:
            path, status = rng.choice(PAGES), 301
        elif roll < 0.35:
            path, status = rng.choice(ASSETS), rng.choice((200, 304))
        elif roll < 0.55:
            path, status = rng.choice(API), 200
            method = "POST" if rng.random() < 0.3 else "GET"
        else:
            path, status = rng.choice(PAGES), 200
        size = 0 if status in (301, 304) else rng.randint(120, 48000)
        yield (f'{ip} - - [{stamp(ts)}] "{method} {path} HTTP/1.1" {status} {size} "{referer}" "{agent}"\n')
        if n % 100000 == 99999:
            ts += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with open(args.out, "w", encoding="ascii") as fh:
        fh.writelines(lines(args.lines, args.seed))


if __name__ == "__main__":
    main()
