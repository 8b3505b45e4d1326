"""``alsate scan`` end to end, through the installed console script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Nginx, alsate_command, run_alsate, wait_for


def test_scan_loghub_file_default_priorities(loghub: Path):
    result = run_alsate("scan", str(loghub / "Apache_2k.log"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    summary = next(n for n, line in enumerate(lines) if line.startswith("-- "))
    assert lines[summary].startswith("-- 595 of 2000 records shown")
    assert "err 595" in lines[summary] and "notice 1405" in lines[summary]
    assert summary == 595 and all(" R " in line for line in lines[:summary])


def test_scan_json_counts_and_records(loghub: Path):
    result = run_alsate("scan", str(loghub / "OpenSSH_2k.log"), "--json", "-p", "all", "--grep", "Invalid user",
                        "-n", "3")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["read"] == 2000
    assert sum(document["counts"].values()) == 2000
    assert document["matched"] > 100
    assert len(document["records"]) == 3
    record = document["records"][0]
    assert record["unit"] == "sshd" and "Invalid user" in record["message"]
    assert set(record) >= {"id", "time", "host", "kind", "unit", "pid", "priority", "effective_priority",
                           "message", "raw", "extra"}


def test_scan_journal_file_with_filters(journal_files: Path):
    result = run_alsate("scan", str(journal_files), "--json", "-p", "0..3", "-H", "web-02")
    document = json.loads(result.stdout)
    messages = [r["message"] for r in document["records"]]
    assert any("db timeout" in m for m in messages)  # stdout at priority 6, effective err
    assert any("FAILED SMART" in m for m in messages)
    assert all(r["host"] == "web-02" and r["effective_priority"] <= 3 for r in document["records"])
    syslog_only = json.loads(run_alsate("scan", str(journal_files), "--json", "-p", "0..3", "-H", "web-02",
                                        "--syslog-priority").stdout)
    assert not any("db timeout" in r["message"] for r in syslog_only["records"])


def test_scan_journal_directory_and_time_range(journal_files: Path):
    result = run_alsate("scan", "-D", str(journal_files.parent), "-p", "all", "--since", "@1714521603",
                        "--until", "@1714521604", "--json")
    document = json.loads(result.stdout)
    assert [r["time"][:19] for r in document["records"]] == [
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t)) for t in (1714521603, 1714521604)]


def test_scan_merges_sources_in_time_order(tmp_path: Path, journal_files: Path):
    access = tmp_path / "access.log"
    access.write_text(
        '192.0.2.1 - - [01/May/2024:00:00:01 +0000] "GET /a HTTP/1.1" 500 1 "-" "x"\n'
        '192.0.2.1 - - [01/May/2024:00:00:05 +0000] "GET /b HTTP/1.1" 502 1 "-" "x"\n')
    document = json.loads(run_alsate("scan", str(journal_files), str(access), "-p", "0..3", "--json").stdout)
    stamps = [r["time"] for r in document["records"]]
    kinds = [r["kind"] for r in document["records"]]
    assert stamps == sorted(stamps)
    assert "nginx-access" in kinds and "journal" in kinds
    assert kinds.index("nginx-access") > 0  # interleaved, not appended


def test_scan_reads_stdin_and_gz(tmp_path: Path, loghub: Path):
    import gzip

    data = (loghub / "OpenSSH_2k.log").read_bytes()
    result = run_alsate("scan", "-", "-p", "all", "--json", "-n", "0", input=data)
    assert json.loads(result.stdout)["read"] == 2000
    packed = tmp_path / "auth.log.2.gz"
    packed.write_bytes(gzip.compress(data))
    result = run_alsate("scan", str(packed), "-p", "all", "--json", "-n", "0")
    assert json.loads(result.stdout)["read"] == 2000


def test_with_rotated_reads_oldest_first(tmp_path: Path):
    import gzip

    def line(n: int) -> str:
        return f'192.0.2.1 - - [01/May/2024:00:00:{n:02d} +0000] "GET /{n} HTTP/1.1" 500 1 "-" "x"\n'

    base = tmp_path / "access.log"
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(line(1).encode()))
    (tmp_path / "access.log.1").write_text(line(2))
    base.write_text(line(3))
    document = json.loads(run_alsate("scan", str(base), "--with-rotated", "--json").stdout)
    assert [r["extra"]["path"] for r in document["records"]] == ["/1", "/2", "/3"]


def test_hostile_bytes_never_crash_and_are_shown_visibly(tmp_path: Path):
    log = tmp_path / "weird.log"
    long_line = b"Jun 14 15:16:01 h app[1]: " + b"A" * (4 * 1024 * 1024)
    log.write_bytes(b"Jun 14 15:16:01 h app[1]: ERROR \xff\xfe bad utf8\n"
                    b"Jun 14 15:16:02 h app[1]: ERROR nul\x00byte and \x1b]0;pwned\x07 title\r\n"
                    + long_line + b" ERROR\n")
    result = run_alsate("scan", str(log), "-p", "all")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out
    assert "^[]0;pwned^G title" in out
    assert "\\xff\\xfe bad utf8" in out
    assert "more characters]" in out  # the 4 MB line is shortened on screen
    document = json.loads(run_alsate("scan", str(log), "-p", "all", "--json").stdout)
    assert len(document["records"][2]["raw"]) == len(long_line) + len(" ERROR")  # kept whole


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent/file.log"], "no such file"),
    (["-p", "loud"], "bad priority"),
    (["--since", "someday"], "cannot read time"),
    (["--grep", "(unclosed"], "bad --grep pattern"),
    (["-D", "/nonexistent-dir"], "no such directory"),
    (["--format", "nginx-access", "--log-format", "no variables here"], "no $variables"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path: Path, args: list[str], message: str):
    log = tmp_path / "x.log"
    log.write_text("hello\n")
    full = [*args] if args[0].startswith("/") or args[0] == "-D" else [str(log), *args]
    result = run_alsate("scan", *full)
    assert result.returncode != 0
    err = result.stderr.decode()
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_names_the_fix(tmp_path: Path):
    log = tmp_path / "secret.log"
    log.write_text("x\n")
    log.chmod(0)
    result = run_alsate("scan", str(log))
    assert result.returncode == 1 and "permission denied" in result.stderr.decode()


def test_config_file_sets_defaults_and_flags_win(tmp_path: Path, loghub: Path):
    config = tmp_path / "config.toml"
    config.write_text("max_priority = 3\n")
    document = json.loads(run_alsate("--config", str(config), "scan", str(loghub / "Apache_2k.log"), "--json",
                                     "-n", "0").stdout)
    assert document["matched"] == 595
    document = json.loads(run_alsate("--config", str(config), "scan", str(loghub / "Apache_2k.log"), "--json",
                                     "-n", "0", "-p", "notice").stdout)
    assert document["matched"] == 2000
    config.write_text("max_priorty = 3\n")
    result = run_alsate("--config", str(config), "scan", str(loghub / "Apache_2k.log"))
    assert result.returncode == 2 and "unknown option 'max_priorty'" in result.stderr.decode()


def test_follow_prints_new_lines_live(nginx: Nginx):
    nginx.get("/")
    wait_for(lambda: nginx.access_log.exists() and nginx.access_log.stat().st_size > 0)
    proc = subprocess.Popen([*alsate_command(), "scan", str(nginx.access_log), str(nginx.error_log), "-f",
                             "-p", "0..4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        assert nginx.get("/nope") == 404
        assert nginx.get("/broken/x") == 502
        lines: list[str] = []
        os.set_blocking(proc.stdout.fileno(), False)

        def got_all():  # both access lines, and the error log's line merged in (it may come in a later read)
            chunk = proc.stdout.read()
            if chunk:
                lines.extend(chunk.decode().splitlines())
            return (any("/nope" in line for line in lines) and any('"GET /broken/x' in line for line in lines)
                    and any("Connection refused" in line for line in lines))

        wait_for(got_all, timeout=15)
        assert not any('"GET / HTTP' in line for line in lines)  # 200 is info: filtered out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert b"Traceback" not in proc.stderr.read()


def test_cursor_resumes_a_journal_scan(journal_files: Path):
    first = json.loads(run_alsate("scan", str(journal_files), "-p", "all", "--json").stdout)["records"]
    cursor = first[4]["id"].split("#", 1)[1]
    rest = json.loads(run_alsate("scan", str(journal_files), "-p", "all", "--json", "--cursor", cursor).stdout)
    assert [r["id"] for r in rest["records"]] == [r["id"] for r in first[5:]]


def test_scan_lists_findings_and_json_has_them(loghub: Path):
    result = run_alsate("scan", str(loghub / "OpenSSH_2k.log"), "--json", "-n", "0")
    document = json.loads(result.stdout)
    findings = document["findings"]
    assert findings, "the OpenSSH sample is one long brute force"
    for finding in findings:
        assert set(finding) >= {"id", "title", "category", "severity", "count", "first_seen", "last_seen", "keys",
                                "template", "evidence"}
    brute = [f for f in findings if "183.62.140.253" in f["title"]]
    assert brute and brute[0]["category"] == "security"
    assert len(brute[0]["evidence"]) == brute[0]["count"] or len(brute[0]["evidence"]) >= 100
    text = run_alsate("scan", str(loghub / "OpenSSH_2k.log"), "-n", "0").stdout.decode()
    assert "SSH brute force from 183.62.140.253" in text


def test_report_is_written_and_never_over_a_log(tmp_path: Path, loghub: Path):
    report = tmp_path / "report.md"
    result = run_alsate("scan", str(loghub / "OpenSSH_2k.log"), "-n", "0", "--report", str(report))
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    assert text.startswith("# alsate findings") and "183.62.140.253" in text
    assert "```text" in text  # evidence lines quoted as code
    log = tmp_path / "auth.log"
    log.write_bytes((loghub / "OpenSSH_2k.log").read_bytes())
    before = log.read_bytes()
    result = run_alsate("scan", str(log), "--report", str(log))
    assert result.returncode == 2 and "is one of the logs being read" in result.stderr.decode()
    assert log.read_bytes() == before


def test_no_findings_flag_skips_them(loghub: Path):
    document = json.loads(run_alsate("scan", str(loghub / "OpenSSH_2k.log"), "--json", "-n", "0",
                                     "--no-findings").stdout)
    assert "findings" not in document
