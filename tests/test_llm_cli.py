"""``alsate ask`` and ``alsate explain`` end to end, on the real embedded model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("alsate.engine.cli.scan", reason="needs the sources/store of `alsate scan`")

from alsate.engine.cli import main  # noqa: E402

pytestmark = pytest.mark.slow

LINES = [
    "Nov 27 08:00:01 web1 nginx[811]: 2026/11/27 08:00:01 [error] 811#811: *12 connect() to "
    "unix:/run/php/php8.2-fpm.sock failed (111: Connection refused) while connecting to upstream",
    "Nov 27 08:00:02 web1 systemd[1]: php8.2-fpm.service: Main process exited, code=killed, status=9/KILL",
    "Nov 27 08:00:03 web1 kernel: Out of memory: Killed process 4242 (php-fpm8.2) total-vm:812345kB",
    "Nov 27 08:00:04 web1 sshd[999]: Failed password for invalid user \x1b[31madmin\x1b[0m from 203.0.113.9 "
    "port 52814 ssh2",
]


@pytest.fixture
def logfile(tmp_path, monkeypatch):
    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ALSATE_MODEL", raising=False)
    monkeypatch.delenv("ALSATE_REMOTE", raising=False)
    path = tmp_path / "syslog"
    path.write_text("\n".join(LINES) + "\n")
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_json_has_fields_and_stats(capsys, logfile):
    code, out, err = run(capsys, "explain", str(logfile), "-p", "all", "--max-tokens", "24", "--json",
                         "--temperature", "0")
    assert code == 0, err
    data = json.loads(out)
    assert data["answer"]["task"] == "explain" and data["answer"]["raw"].startswith("Cause -")
    assert data["stats"]["backend"] == "local" and 0 < data["stats"]["completion_tokens"] <= 24
    assert data["stats"]["prompt_tokens"] > 50 and data["context"]["selected"] == 1
    assert data["records"] == [f"{logfile}#0"] and data["cached"] is False
    assert set(data["guard"]) == {"flagged", "flags"}


def test_explain_streams_text_and_explains_a_chosen_record(capsys, logfile):
    code, out, err = run(capsys, "explain", str(logfile), "-p", "all", "--max-tokens", "16", "--no-cache",
                         "--record", f"{logfile}#{len(LINES[0]) + 1}")
    assert code == 0, err
    assert out.startswith("Cause -") and "\x1b" not in out


def test_ask_question_and_tasks(capsys, logfile):
    code, out, err = run(capsys, "ask", "Why did php-fpm stop?", str(logfile), "-p", "all", "--max-tokens", "20",
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["answer"]["task"] == "question" and data["answer"]["raw"]
    assert data["context"]["selected"] == len(LINES) and not data["context"]["truncated"]
    code, out, err = run(capsys, "ask", "", str(logfile), "-p", "all", "--task", "summarize", "--max-tokens", "16")
    assert code == 0, err
    assert out.startswith("Summary -")


def test_user_errors_are_one_line(capsys, logfile, monkeypatch):
    code, out, err = run(capsys, "explain", str(logfile), "-p", "all", "--record", "nope#1")
    assert code == 2 and err.count("\n") == 1 and err.startswith("alsate: no record 'nope#1'")
    code, out, err = run(capsys, "ask", "  ", str(logfile))
    assert code == 2 and "empty question" in err
    config = logfile.parent / "config.toml"
    config.write_text('model = "/missing/from-config.gguf"\n')
    code, out, err = run(capsys, "--config", str(config), "explain", str(logfile), "-p", "all")
    assert code == 3 and "model file not found: /missing/from-config.gguf (from config)" in err
    monkeypatch.setenv("ALSATE_MODEL", "/missing/model.gguf")
    code, out, err = run(capsys, "explain", str(logfile), "-p", "all")
    assert code == 3 and err.count("\n") == 1
    assert "model file not found: /missing/model.gguf (from ALSATE_MODEL)" in err and "fix:" in err
    code, out, err = run(capsys, "ask", "why?", str(logfile), "-p", "all", "--remote", "http://127.0.0.1:9/v1")
    assert code == 3 and err.startswith("alsate: cannot reach the model server") and err.count("\n") == 1


def test_explain_a_finding(capsys, tmp_path, monkeypatch):
    from alsate.engine.cli import build_parser
    from alsate.engine.findings import FindingsEngine
    from alsate.engine.llm.cli_support import load_selection

    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "auth.log"
    path.write_text("".join(
        f"Nov 27 08:{i // 60:02d}:{i % 60:02d} web1 sshd[{900 + i}]: Failed password for invalid user u{i} "
        f"from 203.0.113.9 port {40000 + i} ssh2\n" for i in range(40)))
    selection = load_selection(build_parser().parse_args(["explain", str(path), "-p", "all"]))
    engine = FindingsEngine(persist_templates=False)
    engine.feed_all(selection.store)
    findings = engine.findings()
    engine.close()
    assert findings, "the ssh detector should report 40 failed passwords from one address"
    fid = findings[0].id
    # A small context: not all 20 evidence lines fit, and the answer's stats say so. Without the adapter
    # (the profile then starts the answer): with it, this input is refused as "not a log" in ~1 run of 10
    # (the prompt's data boundary is random), a false refusal noted on the training issue.
    code, out, err = run(capsys, "explain", str(path), "-p", "all", "--finding", fid, "--max-tokens", "16",
                         "--json", "--temperature", "0", "--ctx", "1024", "--lora", "none")
    assert code == 0, err
    data = json.loads(out)
    assert data["finding"] == fid and 1 <= data["context"]["selected"] < data["context"]["selected_total"] == 20
    assert data["stats"]["context_truncated"] and "selected entries" in data["stats"]["omitted"][0]
    assert data["context"]["tokens"] <= data["context"]["budget"]
    assert data["answer"]["raw"].startswith("Cause -") and len(data["answer"]["raw"]) > len("Cause -") + 10
    code, out, err = run(capsys, "explain", str(path), "-p", "all", "--finding", "nope:1")
    assert code == 2 and err.startswith("alsate: no finding 'nope:1'") and fid in err
