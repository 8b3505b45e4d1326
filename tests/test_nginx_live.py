"""A real nginx on 127.0.0.1: its access and error logs parsed, and followed live across rotation."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from alsate.engine.records import SourceKind
from alsate.engine.sources import FileSource
from conftest import Nginx, wait_for


def test_access_and_error_logs_of_real_requests(nginx: Nginx):
    assert nginx.get("/") == 200
    assert nginx.get("/missing.php") == 404
    assert nginx.get("/private/x") == 403
    assert nginx.get("/broken/api", headers={"User-Agent": "alsate-test [bold]x[/bold]"}) == 502
    wait_for(lambda: nginx.access_log.read_text().count("\n") >= 4)

    access = FileSource(str(nginx.access_log))
    assert access.kind == SourceKind.NGINX_ACCESS
    records = list(access.records())
    assert [r.extra["status"] for r in records] == [200, 404, 403, 502]
    assert [r.priority for r in records] == [6, 4, 4, 3]
    assert records[3].extra["http_user_agent"] == "alsate-test [bold]x[/bold]"
    assert all(r.extra["remote_addr"] == "127.0.0.1" for r in records)

    error = FileSource(str(nginx.error_log))
    assert error.kind == SourceKind.NGINX_ERROR
    errors = [r for r in error.records() if r.priority <= 3]
    refused = [r for r in errors if "connect() failed (111: Connection refused)" in r.message]
    assert refused, [r.message for r in errors]
    assert refused[0].extra["upstream"] == f"http://127.0.0.1:{nginx.upstream_port}/broken/api"
    assert refused[0].extra["request"] == "GET /broken/api HTTP/1.1"
    forbidden = [r for r in errors if "access forbidden by rule" in r.message]
    assert forbidden and forbidden[0].extra["client"] == "127.0.0.1"


def test_follow_across_logrotate_rename_and_usr1(nginx: Nginx, tmp_path: Path):
    nginx.get("/")
    wait_for(lambda: nginx.access_log.exists() and nginx.access_log.stat().st_size > 0)
    source = FileSource(str(nginx.access_log))
    stop = threading.Event()
    seen: list[str] = []
    # from the end as it is now: the thread may start after the first requests below are logged
    start = nginx.access_log.stat().st_size

    def follow():
        for record in source.follow(stop, start):
            seen.append(record.extra["path"])

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    for n in range(5):
        nginx.get(f"/before-{n}")
    os.rename(nginx.access_log, str(nginx.access_log) + ".1")
    for n in range(5):
        nginx.get(f"/between-{n}")  # still written to the renamed file until nginx reopens
    nginx.reopen_logs()
    wait_for(lambda: nginx.access_log.exists())
    for n in range(5):
        nginx.get(f"/after-{n}")
    expected = [f"/before-{n}" for n in range(5)] + [f"/between-{n}" for n in range(5)] + \
               [f"/after-{n}" for n in range(5)]
    wait_for(lambda: len(seen) >= 15, timeout=15)
    stop.set()
    thread.join(timeout=5)
    assert seen == expected
