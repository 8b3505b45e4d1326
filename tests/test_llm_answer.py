"""Parsing answers into the fields of docs/answer-format.md."""

from __future__ import annotations

import pytest
from alsate.engine.llm.answer import REFUSAL, THREAT_LEVELS, parse_answer
from hypothesis import given, settings
from hypothesis import strategies as st


def test_explain_format():
    text = """Cause - nginx could not connect to php-fpm because the socket is missing.
Remediation -
1. Check the unit: systemctl status php8.2-fpm
2. Restart it: sudo systemctl restart php8.2-fpm
3. Confirm the socket path in /etc/nginx/sites-enabled/default
Threat level - low"""
    answer = parse_answer(text, "explain")
    assert answer.cause.startswith("nginx could not connect")
    assert answer.remediation == (
        "Check the unit: systemctl status php8.2-fpm",
        "Restart it: sudo systemctl restart php8.2-fpm",
        "Confirm the socket path in /etc/nginx/sites-enabled/default",
    )
    assert answer.threat_level == "low"
    assert answer.complete and not answer.missing


def test_decorated_variants_small_models_write():
    text = """**Cause**: Disk /dev/sda1 is full.
more detail on a second line
### Remediation:
1) df -h
- du -sh /var/log/*
   wrapped continuation
**Threat Level:** HIGH"""
    answer = parse_answer(text, "explain")
    assert answer.cause == "Disk /dev/sda1 is full. more detail on a second line"
    assert answer.remediation == ("df -h", "du -sh /var/log/* wrapped continuation")
    assert answer.threat_level == "high"


def test_missing_fields_are_named():
    answer = parse_answer("Cause - something broke", "explain")
    assert not answer.complete
    assert answer.missing == ("remediation", "threat_level")
    unknown_level = parse_answer("Cause - x\nRemediation -\n1. y\nThreat level - severe", "explain")
    assert unknown_level.threat_level is None and unknown_level.missing == ("threat_level",)


def test_other_tasks():
    summary = parse_answer("Summary - two failures.\nKey events -\n1. sshd failed 40 times\n"
                           "2. disk full at 03:00\nThreat level - medium", "summarize")
    assert summary.summary == "two failures." and len(summary.key_events) == 2 and summary.complete
    root = parse_answer("Root cause - OOM killer.\nEvidence -\n1. kernel: Out of memory\nRemediation -\n"
                        "1. raise memory\nThreat level - medium", "root_cause")
    assert root.root_cause == "OOM killer." and root.evidence == ("kernel: Out of memory",) and root.complete
    patterns = parse_answer("Patterns -\n1. failed password: 40 times from 203.0.113.9\nThreat level - high",
                            "patterns")
    assert patterns.patterns == ("failed password: 40 times from 203.0.113.9",) and patterns.complete


def test_refusal_and_free_text():
    refusal = parse_answer(REFUSAL, "explain")
    assert refusal.refusal and refusal.complete
    free = parse_answer("It restarted three times between 02:00 and 02:05.", "question")
    assert free.complete and free.raw.startswith("It restarted")
    with pytest.raises(ValueError):
        parse_answer("x", "poem")
    # the sentence quoted inside an answer in the format is not a refusal; after other words with no
    # field labels, it is
    quoting = parse_answer(f"Cause - a probe.\nRemediation -\n1. Reply: {REFUSAL}\nThreat level - low", "explain")
    assert not quoting.refusal and quoting.threat_level == "low" and quoting.remediation
    assert parse_answer(f"Sorry. {REFUSAL}", "explain").refusal


def test_json_round_trip_fields():
    data = parse_answer("Cause - a\nRemediation -\n1. b\nThreat level - none", "explain").to_json()
    assert data["cause"] == "a" and data["remediation"] == ["b"] and data["threat_level"] == "none"
    assert data["complete"] is True


_line = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" ./:-_()"),
                min_size=1, max_size=40).map(str.strip).filter(lambda s: s and s[0].isalnum() and s[-1].isalnum())


@settings(max_examples=150, deadline=None)
@given(cause=_line, steps=st.lists(_line, min_size=1, max_size=5), level=st.sampled_from(THREAT_LEVELS))
def test_explain_round_trip(cause, steps, level):
    text = f"Cause - {cause}\nRemediation -\n" + "".join(f"{i}. {s}\n" for i, s in enumerate(steps, 1))
    text += f"Threat level - {level}"
    answer = parse_answer(text, "explain")
    assert answer.cause == cause and answer.remediation == tuple(steps) and answer.threat_level == level
    assert answer.complete


def test_alsate_finetune_answers_parse():
    """The ALSATE Llama-3.2-3B fine-tunes write remediation steps inline and refuse with their own sentence."""
    from alsate.engine.llm.answer import parse_answer

    answer = parse_answer("Cause - The network driver failed to load.\n"
                          "Remediation - 1. Reinstall the driver. 2. Check the adapter. 3. Verify the config.")
    assert answer.cause == "The network driver failed to load."
    assert answer.remediation == ("Reinstall the driver.", "Check the adapter.", "Verify the config.")
    refusal = parse_answer("Input does not appear to be a valid system log. Unable to assist.")
    assert refusal.refusal


def test_alsate_profile_carries_the_trained_instruction():
    from importlib import resources

    text = (resources.files("alsate.assets") / "prompts" / "alsate-llama32-system.txt").read_text()
    first = text.split("\n\n", 1)[0]
    assert first.startswith('Your name is "ALSATE",you are an advanced syslog parsing and analysis tool.')
    assert first.endswith("reply with: 'Input does not appear to be a valid system log. Unable to assist.'")
