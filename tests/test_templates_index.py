"""The templates view: structured access templates, Drain for the rest, counts, examples, rate change."""

from __future__ import annotations

from pathlib import Path

import pytest
from alsate.engine.parse import parse_lines
from alsate.engine.templates.access import access_template, normalise_path
from alsate.engine.templates.index import TemplateIndex

ACCESS = [
    '198.51.100.7 - - [01/May/2024:10:00:01 +0000] "GET /api/v1/orders/5521?x=1 HTTP/1.1" 200 512 "-" "curl/8.0"',
    '198.51.100.8 - - [01/May/2024:10:00:02 +0000] "GET /api/v1/orders/981 HTTP/1.1" 200 498 "-" "curl/8.0"',
    '198.51.100.9 - - [01/May/2024:10:00:03 +0000] "GET /api/v1/orders/77 HTTP/1.1" 404 12 "-" "curl/8.0"',
    '198.51.100.9 - - [01/May/2024:10:00:04 +0000] "POST /api/v1/orders HTTP/1.1" 201 40 "-" "curl/8.0"',
    '198.51.100.9 - - [01/May/2024:10:00:05 +0000] "GET /static/app.3f2a1c.js HTTP/1.1" 304 0 "-" "curl/8.0"',
]


@pytest.mark.parametrize(("path", "normal"), [
    ("/api/v1/orders/5521?x=1", "/api/v1/orders/{id}"),
    ("/users/6f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0/avatar", "/users/{id}/avatar"),
    ("/static/app.3f2a1c.js", "/static/{file}.js"),
    ("/blog/2024/05/release-notes", "/blog/{id}/{id}/release-notes"),
    ("/", "/"),
    ("http://example.com/proxy", "/{absolute}"),
    ("/a/b/c/d/e/f/g/h", "/a/b/c/d/e/f/…"),
])
def test_normalise_path(path: str, normal: str) -> None:
    assert normalise_path(path) == normal


def test_access_template_is_method_path_status_class() -> None:
    records = parse_lines("nginx-access", ACCESS, origin="access.log")
    assert [access_template(r.extra) for r in records] == [
        "GET /api/v1/orders/{id} 2xx", "GET /api/v1/orders/{id} 2xx", "GET /api/v1/orders/{id} 4xx",
        "POST /api/v1/orders 2xx", "GET /static/{file}.js 3xx"]


def test_view_counts_examples_and_sorting(loghub: Path) -> None:
    index = TemplateIndex(persist=False, examples=3)
    with open(loghub / "OpenSSH_2k.log", encoding="utf-8", errors="replace") as fh:
        records = parse_lines("syslog", fh, origin="OpenSSH_2k.log")
    keys = [index.feed(r) for r in records]
    rows = index.stats()
    assert sum(r.count for r in rows) == len(records)
    assert [r.count for r in rows] == sorted((r.count for r in rows), reverse=True)
    top = rows[0]
    # the top template's examples are the ids of its first records, in order
    first_ids = [r.id for r, k in zip(records, keys, strict=True) if k == top.key][:3]
    assert list(top.examples) == first_ids
    assert "Received disconnect from <IP>" in top.template
    assert not top.structured
    assert index.template(top.key) == top.template


def test_rate_change_ranks_a_surge_first() -> None:
    lines = []
    for minute in range(30):
        lines.append(f"May  1 10:{minute:02d}:00 web1 app[1]: heartbeat ok seq={minute}")
        lines.append(f"May  1 10:{minute:02d}:30 web1 app[1]: queue depth {minute * 3}")
    lines += [f"May  1 10:30:{s:02d} web1 app[1]: ERROR lost connection to 10.0.0.{s % 9} errno=104"
              for s in range(40)]
    index = TemplateIndex(persist=False)
    for r in parse_lines("syslog", lines, origin="app.log"):
        index.feed(r)
    by_change = index.stats(sort="rate_change")
    assert "lost connection" in by_change[0].template
    assert by_change[0].recent == 40 and by_change[0].rate_change > 3
    by_count = index.stats(sort="count")
    assert by_count[0].count == 40
    # the ALSATE view (0-4) keeps only the error template
    assert [r.template for r in index.stats(max_priority=4)] == [by_change[0].template]


def test_access_records_skip_drain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path))
    index = TemplateIndex()
    for r in parse_lines("nginx-access", ACCESS, origin="access.log"):
        index.feed(r)
    rows = index.stats()
    assert rows[0].template == "GET /api/v1/orders/{id} 2xx" and rows[0].count == 2 and rows[0].structured
    index.close()
    assert not (tmp_path / "templates").exists()  # no Drain state for structured lines


def test_unknown_sort_is_an_error() -> None:
    with pytest.raises(ValueError):
        TemplateIndex(persist=False).stats(sort="nope")
