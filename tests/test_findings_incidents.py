"""The labelled incident set (tests/incidents/): precision and recall of the detectors >= 0.9."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = ROOT / "tests" / "incidents"


def _eval():
    spec = importlib.util.spec_from_file_location("detector_eval", ROOT / "bench" / "detector_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["detector_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_incident_set_is_complete() -> None:
    labels = sorted(INCIDENTS.glob("[0-9][0-9]-*.json"))
    assert len(labels) >= 30
    kinds = set()
    for path in labels:
        label = json.loads(path.read_text(encoding="utf-8"))
        kinds.add(label["kind"])
        logs = [p for p in INCIDENTS.glob(path.stem + ".*") if p.suffix in (".log", ".jsonl")]
        assert len(logs) == 1 and logs[0].stat().st_size > 0, path.name
        assert label["description"]
    assert kinds == {"syslog", "journal", "nginx-access", "nginx-error"}
    positives = [p for p in labels if json.loads(p.read_text())["expect"]]
    assert len(positives) >= 30


def test_precision_and_recall() -> None:
    ev = _eval()
    results = ev.evaluate(INCIDENTS)
    precision, recall, tp, fp, fn = ev.totals(results)
    report = "\n".join(f"{r.name}: missed {r.missed} extra {r.extra}" for r in results if r.missed or r.extra)
    assert precision >= 0.9, report
    assert recall >= 0.9, report
    assert tp >= 40


@pytest.mark.parametrize("name", ["39-normal-auth", "40-normal-web", "42-normal-boot-kernel"])
def test_normal_traffic_has_no_findings(name: str) -> None:
    result = _eval().run_incident(INCIDENTS / f"{name}.json")
    assert result.expected == 0 and result.extra == []


def test_a_broken_detector_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluation is not vacuous: with the ssh detector silenced, recall drops below target."""
    from alsate.engine.findings import ssh

    monkeypatch.setattr(ssh.SshDetector, "feed", lambda self, record, key, sink: None)
    ev = _eval()
    _, recall, _, _, fn = ev.totals(ev.evaluate(INCIDENTS))
    assert fn >= 8 and recall < 0.9


def test_loghub_openssh_brute_force_matches_a_ground_truth_rule(loghub: Path) -> None:
    """Real data: the addresses flagged agree with the same rule computed from Loghub's EventTemplate labels."""
    truth, found = _eval().loghub_bruteforce(loghub)
    assert len(truth) >= 5
    assert found == truth
