"""Access-log lines fed to the findings engine column-wise, a chunk at a time (the path a big file
takes), give exactly what feeding them record by record gives: the same findings (counts,
evidence ids, first/last seen, keys, details), the same templates view, the same store rows."""

from __future__ import annotations

import importlib.util
import random
import time
from pathlib import Path

import pytest
from alsate.engine.collect import SourceSet
from alsate.engine.findings import FindingsEngine
from alsate.engine.findings import nginx as detectors
from alsate.engine.formats import AccessLogParser
from alsate.engine.formats.nginx_access import AccessColumns
from alsate.engine.records import Record
from alsate.engine.sources import FileOptions, FileSource
from alsate.engine.store import Store
from conftest import Nginx, wait_for

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = ROOT / "tests" / "incidents"
T0 = 1714557600.0
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def stamp(ts: float) -> str:
    t = time.gmtime(ts)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def access(ts: float, ip: str, path: str, status: int, method: str = "GET", size: int = 512) -> str:
    return f'{ip} - - [{stamp(ts)}] "{method} {path} HTTP/1.1" {status} {size} "-" "Mozilla/5.0"'


def scenario(seed: int = 5) -> list[str]:
    """An hour and a half of traffic with every access finding planted, and what breaks fast paths:
    out-of-order times, clients back after 11 and after 25 minutes, stray and over-long lines."""
    rng = random.Random(seed)
    timed: list[tuple[float, str]] = []
    for m in range(90):
        for _ in range(rng.randint(30, 60)):
            ts = T0 + m * 60 + rng.random() * 60
            path = rng.choice(["/", "/about", f"/api/v1/items/{rng.randint(1, 50)}", "/static/app.css", "/cart?x=1"])
            timed.append((ts, access(ts, f"198.51.100.{rng.randint(1, 40)}", path, rng.choice((200, 200, 304, 404)))))
    for i in range(120):  # 5xx burst in minute 20 (warm by then)
        ts = T0 + 20 * 60 + i * 0.4
        timed.append((ts, access(ts, "198.51.100.9", f"/api/cart?id={i}", rng.choice((500, 502, 503)))))
    for i in range(1500):  # request-rate spike in minute 40, then it goes on spiking in the same minute
        ts = T0 + 40 * 60 + i * 0.03
        timed.append((ts, access(ts, f"203.0.113.{i % 7}", "/", 200)))
    probes = ["/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/index.php", "/cgi-bin/luci?a=1"]
    for i, p in enumerate(probes * 3):  # probes, and one secret served with a body
        ts = T0 + 50 * 60 + i * 5
        timed.append((ts, access(ts, "192.0.2.66", p, 200 if p == "/.env" else 404, size=1432 if p == "/.env" else 0)))
    for i in range(60):  # directory brute force: many distinct 404s, few good requests
        ts = T0 + 55 * 60 + i * 2
        timed.append((ts, access(ts, "192.0.2.70", f"/dir{i}/", 404 if i % 10 else 200)))
    for i in range(80):  # a busy client with many 404s among many good requests: not a scanner
        ts = T0 + 10 * 60 + i
        timed.append((ts, access(ts, "198.51.100.200", f"/img/{i}.png" if i % 3 == 0 else "/", 404 if i % 3 == 0 else 200)))
    for i in range(25):  # credential stuffing, then a WordPress login brute force answered 200
        ts = T0 + 60 * 60 + i * 3
        timed.append((ts, access(ts, "192.0.2.77", "/login", 401, method="POST")))
        timed.append((ts + 1, access(ts + 1, "192.0.2.78", "/wp-login.php", 200, method="POST")))
    for gap in (0, 11 * 60, 36 * 60, 37 * 60):  # one client's windows: fresh, carried, long gap
        for i in range(30):
            ts = T0 + 5 * 60 + gap + i * 3
            timed.append((ts, access(ts, "192.0.2.90", f"/miss{gap}-{i}", 404 if i % 4 else 200)))
    timed.sort()
    lines = [line for _, line in timed]
    # Late lines: nginx logs a request when it ends, so times run backwards a little.
    for k in range(0, len(lines) - 5, 97):
        lines[k], lines[k + 3] = lines[k + 3], lines[k]
    # Lines the format does not take, a bad time, a request without a protocol, an over-long line.
    lines.insert(400, "garbage that is not an access-log line")
    lines.insert(401, '192.0.2.1 - - [99/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"')
    for k, request in enumerate(['GET', '-', '', 'GET /only-a-path', 'GET /.env?x HTTP/1.1 extra']):
        lines.insert(1000 + k, f'192.0.2.5 - - [{stamp(T0 + 16 * 60)}] "{request}" 400 0 "-" "-"')
    lines.insert(1500, lines[1500].replace('"Mozilla/5.0"', '"' + "A" * 70_000 + '"'))
    lines.insert(2000, "")
    return lines


def record_by_record(lines: list[str], origin: str = "site.log", **options) -> tuple[FindingsEngine, list]:
    parser = AccessLogParser(origin, host="web", **options)
    engine = FindingsEngine(persist_templates=False)
    rows = []
    pos = 0
    for line in lines:
        record = parser.parse(line, pos)
        engine.feed(record)
        rows.append((record.ts, record.priority, record.effective))
        pos += len(line) + 1
    return engine, rows


def column_wise(lines: list[str], chunks: list[int], origin: str = "site.log", lockstep: bool = False, **options
                ) -> tuple[FindingsEngine, list]:
    """Chunk by chunk through ``feed_access_columns``; with ``lockstep``, a record-by-record engine is
    fed the same chunks and every bit of state is compared after each one."""
    parser = AccessLogParser(origin, host="web", **options)
    engine = FindingsEngine(persist_templates=False)
    assert engine.accepts_access_columns()
    twin_parser = AccessLogParser(origin, host="web", **options)
    twin = FindingsEngine(persist_templates=False)
    rows = []
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    start = 0
    for size in [*chunks, len(lines)]:
        stop = min(len(lines), start + size)
        if stop > start:
            columns = parser.access_columns(offsets[start:stop], lines[start:stop])
            assert columns is not None
            engine.feed_access_columns(origin, offsets[start:stop], columns)
            rows += zip(columns.ts, columns.priority, columns.effective, strict=True)
            if lockstep:
                for line, at in zip(lines[start:stop], offsets[start:stop], strict=True):
                    twin.feed(twin_parser.parse(line, at))
                assert state(engine) == state(twin), f"after lines {start}..{stop - 1}"
        start = stop
    return engine, rows


def state(engine: FindingsEngine) -> dict:
    """Everything the engine, the templates view and the access detector hold, comparably."""
    detector = next(d for d in engine.detectors if isinstance(d, detectors.NginxAccessDetector))

    def burst(b) -> tuple:  # noqa: ANN001
        return b._adds, b.hit_weight, {k: (list(v.events), v.weight, v.values, v.firing, v.last)
                                       for k, v in b._keys.items()}

    def rate(r) -> tuple:  # noqa: ANN001
        return r.minute, r.count, r.baseline, r.history

    return {
        "engine": (engine.records, engine.now),
        "findings": {fid: (s.title, s.severity, s.count, s.first, s.last, s.keys, s.template_key, s.evidence,
                           s.detail, s.version) for fid, s in engine._states.items()},
        "templates": (engine.templates.now, {k: (e.template, e.count, e.first, e.last, e.examples, e.priority,
                                                 rate(e.rate)) for k, e in engine.templates._entries.items()}),
        "addresses": detector._ips,
        "sites": {o: (rate(s.total), rate(s.errors5), s.minute, s.positions, s.addresses, s.records5, s.spiking,
                      s.bursting, s.spike_at) for o, s in detector._sites.items()},
        "bursts": (burst(detector.scan404), burst(detector.probes), burst(detector.stuffing)),
    }


def assert_same(reference: FindingsEngine, batched: FindingsEngine) -> None:
    assert [f.to_json() for f in batched.findings()] == [f.to_json() for f in reference.findings()]
    assert [t.to_json() for t in batched.templates.stats()] == [t.to_json() for t in reference.templates.stats()]
    assert (batched.records, batched.now, batched.templates.now) == \
        (reference.records, reference.now, reference.templates.now)


def random_chunks(seed: int, total: int) -> list[int]:
    rng = random.Random(seed)
    sizes = []
    while sum(sizes) < total:
        sizes.append(rng.choice((1, 3, 17, 64, 250, 900)))
    return sizes


@pytest.mark.parametrize("seed", [1, 2])
def test_planted_findings_are_the_same_in_any_chunking(seed: int) -> None:
    lines = scenario()
    reference, reference_rows = record_by_record(lines)
    found = {f.detector for f in reference.findings()}
    # Not vacuous: every access detector fired, and the busy client was let go.
    assert {"nginx.rate_spike", "nginx.5xx_burst", "nginx.scanner", "nginx.exposed",
            "nginx.credential_stuffing"} <= found
    assert reference.get("nginx.scanner:198.51.100.200") is None
    assert reference.get("nginx.scanner:192.0.2.70") is not None
    batched, rows = column_wise(lines, random_chunks(seed, len(lines)), lockstep=True)
    assert_same(reference, batched)
    assert rows == reference_rows


def test_forgetting_addresses_past_the_limit_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detectors, "MAX_ADDRESSES", 25)
    lines = scenario(seed=9)
    reference, _ = record_by_record(lines)
    batched, _ = column_wise(lines, random_chunks(3, len(lines)), lockstep=True)
    assert_same(reference, batched)
    detector = next(d for d in batched.detectors if isinstance(d, detectors.NginxAccessDetector))
    assert len(detector._ips) <= 26  # the table was cleared on the way


@pytest.mark.parametrize("log_format", [
    '$remote_addr [$time_local] "$request" $status $body_bytes_sent',
    '[$time_local] "$request" $status',
    '$remote_addr [$time_local] $status',
    '$remote_addr [$time_local] "$request"',
])
def test_custom_formats_missing_fields_are_the_same(log_format: str) -> None:
    rng = random.Random(4)
    lines = []
    for i in range(3000):
        ts = T0 + i * 1.5
        ip = f"192.0.2.{rng.randint(1, 4)}"
        path = rng.choice(["/", "/.env", "/login", f"/x/{i}", "/wp-login.php"])
        status = rng.choice((200, 401, 404, 404, 502))
        line = log_format.replace("$remote_addr", ip).replace("$time_local", stamp(ts))
        line = line.replace("$request", f"POST {path} HTTP/1.1").replace("$status", str(status))
        lines.append(line.replace("$body_bytes_sent", str(rng.choice((0, 120)))))
    reference, reference_rows = record_by_record(lines, log_format=log_format)
    batched, rows = column_wise(lines, random_chunks(5, len(lines)), lockstep=True, log_format=log_format)
    assert_same(reference, batched)
    assert rows == reference_rows
    assert len(reference.templates) > 1


def test_columns_given_directly_with_fractional_times_match_records() -> None:
    """``feed_access_columns`` as an API (times that are not whole seconds, a client seen again
    after a gap, unsorted times) against the Records those columns describe."""
    rng = random.Random(11)
    n = 4000
    ts, addresses, requests, statuses, sent = [], [], [], [], []
    t = T0
    for i in range(n):
        t += rng.choice((0.001, 0.37, 1.5, 3.25, 700.5)) if i % 50 else -rng.random() * 30
        ts.append(t)
        addresses.append(f"192.0.2.{rng.randint(1, 6)}")
        requests.append(rng.choice(["GET / HTTP/1.1", "GET /.env HTTP/1.1", "POST /login HTTP/1.1",
                                    f"GET /m/{rng.randint(1, 90)} HTTP/1.1", "GET /wp-admin/ HTTP/1.1"]))
        statuses.append(rng.choice((200, 404, 404, 401, 503)))
        sent.append(rng.choice(("0", "15", "-")))
    priority = [3 if s >= 500 else 4 if s >= 400 else 6 for s in statuses]
    positions = [i * 100 for i in range(n)]
    reference = FindingsEngine(persist_templates=False)
    batched = FindingsEngine(persist_templates=False)
    for start in range(0, n, 300):
        for i in range(start, min(n, start + 300)):
            method, path, protocol = requests[i].split(" ")
            extra = {"remote_addr": addresses[i], "request": requests[i], "status": statuses[i],
                     "body_bytes_sent": sent[i], "method": method, "path": path, "protocol": protocol}
            reference.feed(Record(ts[i], "web", "nginx-access", "nginx", None, priority[i], priority[i],
                                  requests[i], requests[i], extra, "site.log", positions[i]))
        part = slice(start, start + 300)
        batched.feed_access_columns("site.log", positions[part], AccessColumns(
            ts[part], priority[part], priority[part], addresses[part], requests[part], statuses[part], sent[part], {}))
        assert state(batched) == state(reference), f"after record {start + 299}"
    assert reference.findings()
    assert_same(reference, batched)


@pytest.mark.parametrize("name", sorted(p.stem for p in INCIDENTS.glob("[0-9][0-9]-*.log")
                                        if '"kind": "nginx-access"' in p.with_suffix(".json").read_text()))
def test_labelled_nginx_incidents_load_the_same(name: str, tmp_path: Path) -> None:
    """Through SourceSet.load, as ``alsate scan`` reads a file: the column path against record by record."""
    path = INCIDENTS / f"{name}.log"
    fast, fast_store = load(path, column_wise=True)
    slow, slow_store = load(path, column_wise=False)
    assert fast.findings() or name.startswith("40-")
    assert_same(slow, fast)
    assert store_rows(fast_store) == store_rows(slow_store)


def load(path: Path, column_wise: bool, log_format: str = "combined", expect_columns: bool = True
         ) -> tuple[FindingsEngine, Store]:
    source_set = SourceSet([FileSource(str(path), FileOptions(kind="nginx-access", host="web", log_format=log_format))])
    store = Store()
    engine = FindingsEngine(persist_templates=False)
    calls = []
    if column_wise:
        feed = engine.feed_access_columns

        def spy(*args):  # noqa: ANN002, ANN202 - passes through
            calls.append(len(args[1]))
            return feed(*args)

        engine.feed_access_columns = spy  # type: ignore[method-assign]
        source_set.load(store, consumer=engine.feed)
        assert bool(calls) == expect_columns, "the access log did not take the path expected"
    else:
        source_set.load(store, consumer=lambda record: engine.feed(record))
    return engine, store


def store_rows(store: Store) -> list[tuple]:
    """Each record as the store holds it: its indexed time and priorities, and the record it shows."""
    return [(store._ts[i], store._prio[i], store._eff[i], r.unit, r.host, r.raw, r.id) for i, r in
            enumerate(store.get(seq) for seq in range(store.first_seq, store.end_seq))]


def test_generated_benchmark_log_loads_the_same(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_access_log", ROOT / "bench" / "gen_access_log.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = tmp_path / "access.log"
    with open(path, "w", encoding="ascii") as fh:  # more than one read buffer: several chunks
        fh.writelines(gen.lines(40_000, 7))
        fh.write("a stray line\n")
        fh.writelines(gen.lines(5_000, 8, start=1714521600.0 + 200))
    fast, fast_store = load(path, column_wise=True)
    slow, slow_store = load(path, column_wise=False)
    assert {f.id for f in slow.findings()} == {"nginx.scanner:192.0.2.66", "nginx.credential_stuffing:192.0.2.77"}
    assert_same(slow, fast)
    assert store_rows(fast_store) == store_rows(slow_store)


def test_real_nginx_log_gives_the_same_findings(nginx: Nginx) -> None:
    (nginx.root / "html" / ".env").write_text("DB_PASSWORD=hunter2\n")
    expected = 0
    for path in ["/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/", "/"]:
        nginx.get(path)
        expected += 1
    for i in range(25):
        nginx.get(f"/nothing-here-{i}")
        nginx.get("/private/login")  # 403: a failed login
        expected += 2
    nginx.get("/broken/api")  # 502
    expected += 1
    wait_for(lambda: nginx.access_log.read_text().count("\n") >= expected)
    fast, fast_store = load(nginx.access_log, column_wise=True)
    slow, slow_store = load(nginx.access_log, column_wise=False)
    assert {f.detector for f in slow.findings()} >= {"nginx.exposed", "nginx.scanner", "nginx.credential_stuffing"}
    assert_same(slow, fast)
    assert store_rows(fast_store) == store_rows(slow_store)


def test_store_rows_are_the_same_on_every_load_path(tmp_path: Path) -> None:
    """The store's own column path (``scan --no-findings``), its row path, the findings path and
    record by record: the same time and priorities for every line, stray ones included."""
    path = tmp_path / "access.log"
    path.write_text("\n".join(scenario(seed=3)) + "\n")
    _, by_record = load(path, column_wise=False)
    _, by_columns = load(path, column_wise=True)
    source_set = SourceSet([FileSource(str(path), FileOptions(kind="nginx-access", host="web"))])
    store_only = Store()
    source_set.load(store_only)
    expected = store_rows(by_record)
    assert store_rows(by_columns) == expected
    assert store_rows(store_only) == expected
    parser = AccessLogParser(str(path), host="web")
    lines = path.read_text().split("\n")[:-1]
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    assert [row[:3] for row in parser.rows(offsets, lines, 0)] == [row[:3] for row in expected]


def test_a_bad_time_in_an_access_log_is_an_unparsed_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text(access(T0, "192.0.2.1", "/", 200) + "\n"
                    + '192.0.2.1 - - [99/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n')
    for column_wise in (True, False):
        engine, store = load(path, column_wise)
        records = [store.get(seq) for seq in range(store.first_seq, store.end_seq)]
        assert [r.ts for r in records] == [T0, T0]
        assert engine.records == 2


def test_a_chunk_of_mostly_stray_lines_and_an_iso_time_format_load_the_same(tmp_path: Path) -> None:
    """Where the column path gives way to record by record (many stray lines in one chunk; a format
    without $time_local), the result is still the same."""
    strays = tmp_path / "strays.log"
    lines = scenario(seed=4)
    for k in range(600):
        lines.insert(300 + 2 * k, f"stray line {k} " + "x" * 1500)
    strays.write_text("\n".join(lines) + "\n")
    fast, fast_store = load(strays, column_wise=True, log_format="combined")
    slow, slow_store = load(strays, column_wise=False, log_format="combined")
    assert_same(slow, fast)
    assert store_rows(fast_store) == store_rows(slow_store)
    iso = tmp_path / "iso.log"
    fmt = '$remote_addr [$time_iso8601] "$request" $status'
    iso.write_text("".join(f'192.0.2.{i % 3} [2024-05-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00] '
                           f'"GET /x{i} HTTP/1.1" 404\n' for i in range(3000)))
    fast, fast_store = load(iso, column_wise=True, log_format=fmt, expect_columns=False)
    slow, slow_store = load(iso, column_wise=False, log_format=fmt)
    assert fast.get("nginx.scanner:192.0.2.1") is not None
    assert_same(slow, fast)
    assert store_rows(fast_store) == store_rows(slow_store)


def test_live_records_after_a_column_wise_history_carry_on_the_same() -> None:
    """History column-wise, then the live tail record by record (as alsate-tui and scan -f go on)."""
    lines = scenario(seed=6)
    reference, _ = record_by_record(lines)
    cut = len(lines) * 2 // 3
    batched, _ = column_wise(lines[:cut], random_chunks(8, cut))
    parser = AccessLogParser("site.log", host="web")
    pos = sum(len(line) + 1 for line in lines[:cut])
    parser.last_ts = batched.now  # the history's parser would have left it at its last line's time
    for line in lines[cut:]:
        batched.feed(parser.parse(line, pos))
        pos += len(line) + 1
    assert_same(reference, batched)
