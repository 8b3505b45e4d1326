"""The not-a-log check (engine/llm/not_a_log.py): data that is not logs is refused without the model.

Measured on the dataset (every log input, every non-log input) and on Loghub's messages with their
header cut off (the hardest case: a bare message pasted on its own), then through a session and the CLI.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from alsate.engine.llm.answer import REFUSAL
from alsate.engine.llm.context import assemble
from alsate.engine.llm.not_a_log import not_a_log, reads_like_a_log
from alsate.engine.llm.profiles import load_profile
from alsate.engine.llm.session import ChatSession
from alsate.engine.parse import parse_lines
from llm_fixtures import ScriptedBackend, records, word_count

DATASET = Path(__file__).resolve().parents[1] / "assets" / "dataset"


def dataset() -> list[dict]:
    return [json.loads(line) for path in sorted(DATASET.glob("*.jsonl")) for line in path.open()]


def engine_records(text: str):
    from alsate.train.data import _records

    return _records(text, random.Random(0))


def test_no_log_input_of_the_dataset_is_taken_for_a_non_log():
    logs = [e for e in dataset() if e["task"] != "refuse"]
    assert len(logs) > 1000
    for example in logs:
        assert not not_a_log(engine_records(example["input"])), example["id"]
        assert reads_like_a_log(example["input"]), example["id"]  # even read as plain text


def test_most_non_log_inputs_are_refused_by_the_check():
    non_logs = [e for e in dataset() if e["task"] == "refuse"]
    refused = [e for e in non_logs if not_a_log(engine_records(e["input"]))]
    assert len(refused) >= 0.95 * len(non_logs), sorted(set(e["id"] for e in non_logs) - {e["id"] for e in refused})


def test_bare_loghub_messages_read_like_logs(loghub):
    """Messages with their header cut off (no time, host or tag): at most 1% would be refused."""
    total = unread = 0
    for name in ("Apache", "Linux", "OpenSSH"):
        with (loghub / f"{name}_2k.log_structured.csv").open(errors="replace") as handle:
            for row in csv.DictReader(handle):
                total += 1
                unread += not reads_like_a_log(row["Content"])
    assert total == 6000 and unread <= 0.01 * total, unread


def test_the_check_is_not_fooled_by_a_log_word_alone_being_absent():
    assert not reads_like_a_log("Pancakes: 200 g flour, 2 eggs, 300 ml milk. Whisk and fry.")
    assert not reads_like_a_log("https://www.example.com/blog/how-we-scaled-postgres")  # a URL is not a path
    for line in ("check pass; user unknown", "workerEnv.init() ok /etc/httpd/conf/workers2.properties",
                 "Started Session 3 of user root.", "GET /index.html 200", "a=1 b=2", "sshd[1]: x"):
        assert reads_like_a_log(line), line
    assert not not_a_log([])  # nothing selected is not "not a log"


def session_for(lines: list[str], kind: str = "text") -> tuple[ChatSession, ScriptedBackend]:
    backend = ScriptedBackend(["Cause - scripted\nRemediation -\n1. x\nThreat level - low"])
    context = assemble(word_count, 1000, selected=parse_lines(kind, lines))
    return ChatSession(backend, load_profile("smollm2"), task="explain", context=context), backend


def test_a_session_refuses_prose_without_asking_the_model_and_answers_follow_ups():
    session, backend = session_for(["How long should I simmer a chickpea curry?"])
    result = session.start().collect()
    assert result.text == REFUSAL and result.answer.refusal and backend.requests == []
    assert result.stats.completion_tokens == 0 and result.stats.finish_reason == "stop"
    follow_up = session.ask("why not?").collect()  # a follow-up question goes to the model
    assert follow_up.text.startswith("Cause - scripted") and len(backend.requests) == 1


def test_a_session_asks_the_model_about_logs_and_findings():
    session, backend = session_for(["check pass; user unknown"])  # bare, but reads like a log
    assert "scripted" in session.start().collect().text and len(backend.requests) == 1
    backend = ScriptedBackend(["Cause - scripted"])
    context = assemble(word_count, 1000, selected=records(["Pancakes: flour and eggs"]))  # syslog-parsed
    session = ChatSession(backend, load_profile("smollm2"), task="explain", context=context)
    assert "scripted" in session.start().collect().text and len(backend.requests) == 1


@pytest.mark.slow
def test_the_cli_refuses_a_file_of_prose(tmp_path, monkeypatch, capsys):
    from alsate.engine.cli import main

    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path / "cache"))
    notes = tmp_path / "notes.txt"
    notes.write_text("Remember to buy milk, bread and coffee beans on the way home.\n")
    assert main(["explain", str(notes), "-p", "all", "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == REFUSAL, (out, err)
