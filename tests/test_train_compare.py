"""``alsate-train compare``: two runs' answers paired by example, B - A with a bootstrap interval."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import assert_train_error, run_train

pytest.importorskip("rouge_score")

REFS = {
    "e1": ("explain", "Cause - sshd refused a password for root from a scanner.\nThreat level - medium"),
    "e2": ("explain", "Cause - the disk is full and writes fail.\nThreat level - high"),
    "e3": ("explain", "Cause - a normal boot message from the kernel.\nThreat level - none"),
    "p1": ("find_patterns", "Patterns -\n1. Crash loop: the service restarts every ten seconds"),
}


def _eval_samples(path: Path, tuned: dict[str, str], base: dict[str, str] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for key, answer in tuned.items():
            task, ref = REFS[key]
            handle.write(json.dumps({"id": key, "task": task, "reference": ref, "base": (base or {}).get(key, "x"),
                                     "tuned": answer}) + "\n")
    return path


def _bench(path: Path, scores: dict[str, float], task: str = "explain") -> Path:
    samples = [{"id": k, "task": task, "rougeL": v, "tokens": 10, "output": f"answer {k}"} for k, v in scores.items()]
    path.write_text(json.dumps({"examples": len(samples), "results": [{"rougeL": 0, "samples": samples}]}))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_train("compare", *args)


def test_answers_that_match_the_reference_are_told_apart(tmp_path):
    from alsate.train.compare import load_answers, paired

    wrong = {"e1": "Cause - nothing.\nThreat level - none", "e2": "Cause - nothing.\nThreat level - none",
             "e3": "Cause - a cron job ran.\nThreat level - low", "p1": "Patterns -\n1. None"}
    right = {k: ref for k, (_, ref) in REFS.items()}
    a = load_answers(_eval_samples(tmp_path / "a_samples.jsonl", wrong))
    b = load_answers(_eval_samples(tmp_path / "b_samples.jsonl", right))
    assert all(ans.rouge_l == pytest.approx(1.0) for ans in b.values())
    assert all(ans.rouge_l < 0.8 for ans in a.values())
    result = paired(a, b)
    assert result["examples"] == 4 and result["verdict"] == "B higher"
    assert result["ci95"][0] > 0 and result["difference"] == pytest.approx(1.0 - result["rougeL_a"])
    assert result["b_higher"] == 4 and result["a_higher"] == 0 and result["same_answer"] == 0
    assert set(result["by_task"]) == {"explain", "find_patterns"}
    # and the other way round
    assert paired(b, a)["verdict"] == "A higher"


def test_identical_runs_are_not_told_apart(tmp_path):
    from alsate.train.compare import load_answers, paired

    answers = {"e1": "Cause - sshd refused a password.\nThreat level - low", "e2": "Cause - full disk.\nThreat level - high"}
    a = load_answers(_eval_samples(tmp_path / "a_samples.jsonl", answers))
    result = paired(a, load_answers(_eval_samples(tmp_path / "b_samples.jsonl", answers)))
    assert result["difference"] == 0 and result["ci95"] == [0, 0]
    assert result["verdict"] == "not told apart" and result["same_answer"] == 2


def test_bootstrap_interval_of_bench_files(tmp_path):
    from alsate.train.compare import load_answers, paired

    base = {f"x{i}": 0.2 + 0.01 * i for i in range(40)}
    shifted = {k: v + 0.05 for k, v in base.items()}
    result = paired(load_answers(_bench(tmp_path / "a.json", base)), load_answers(_bench(tmp_path / "b.json", shifted)))
    assert result["difference"] == pytest.approx(0.05) and result["ci95"] == [pytest.approx(0.05)] * 2
    assert result["verdict"] == "B higher"
    # half the examples up 0.1, half down 0.1: the mean is 0 and the interval holds it
    mixed = {k: v + (0.1 if i % 2 else -0.1) for i, (k, v) in enumerate(base.items())}
    result = paired(load_answers(_bench(tmp_path / "a.json", base)), load_answers(_bench(tmp_path / "m.json", mixed)))
    low, high = result["ci95"]
    assert result["difference"] == pytest.approx(0.0, abs=1e-12) and low < 0 < high
    assert result["verdict"] == "not told apart" and result["b_higher"] == 20 == result["a_higher"]


def test_only_shared_examples_are_paired_and_base_side(tmp_path):
    from alsate.train.compare import load_answers, paired

    right = {k: ref for k, (_, ref) in REFS.items()}
    samples = _eval_samples(tmp_path / "s_samples.jsonl", right, base={k: "Cause - ?" for k in REFS})
    tuned, base = load_answers(samples), load_answers(samples, side="base")
    assert paired(base, tuned)["verdict"] == "B higher"
    bench = load_answers(_bench(tmp_path / "b.json", {"e1": 0.5, "e2": 0.5, "zz": 0.5}))
    result = paired(tuned, bench)
    assert result["examples"] == 2 and result["only_in_a"] == 2 and result["only_in_b"] == 1
    assert result["difference"] == pytest.approx(-0.5)


def test_compare_cli_prints_and_writes_json(tmp_path):
    a = _bench(tmp_path / "a.json", {f"x{i}": 0.3 for i in range(10)})
    b = _bench(tmp_path / "b.json", {f"x{i}": 0.4 for i in range(10)})
    proc = _cli(str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    assert "B - A = +0.1000 over 10 paired examples" in proc.stdout and "B higher" in proc.stdout
    proc = _cli(str(a), str(b), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["verdict"] == "B higher"


def test_compare_errors_are_one_line(tmp_path):
    good = _bench(tmp_path / "good.json", {"x": 0.3})
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"rougeL": 0.3}))
    (tmp_path / "two.json").write_text(json.dumps({"results": [{"samples": []}, {"samples": []}]}))
    (tmp_path / "old.json").write_text(json.dumps({"results": [{"rougeL": 0.3}]}))
    (tmp_path / "short_samples.jsonl").write_text(json.dumps({"id": "x", "task": "explain"}) + "\n")
    elsewhere = _bench(tmp_path / "elsewhere.json", {"y": 0.3})
    cases = {
        "no such file": [str(tmp_path / "missing.json"), str(good)],
        "is not JSON": [str(tmp_path / "bad.json"), str(good)],
        "neither an eval": [str(tmp_path / "other.json"), str(good)],
        "holds 2 sampling settings": [str(tmp_path / "two.json"), str(good)],
        "no per-answer samples": [str(tmp_path / "old.json"), str(good)],
        "every line needs id, task, reference": [str(tmp_path / "short_samples.jsonl"), str(good)],
        "share no example ids": [str(good), str(elsewhere)],
    }
    for message, args in cases.items():
        assert_train_error(_cli(*args), message)
