"""Is one model's ROUGE-L really higher than another's on the same examples? A paired comparison.

It pairs the two models' answers by example, takes the mean of the
per-example differences, and puts a percentile bootstrap interval (resampling
examples) on it: when the interval holds 0, this split does not tell them apart.

The interval covers which examples were drawn, not rounding. Greedy answers
of a 135M model move with any change to the arithmetic: three files that are
the shipped adapter in exact arithmetic (it, two halves of it, it re-factored
by SVD) answer most of the test split differently and score 0.343 to 0.355
(docs/training.md, "An adapter soup, and how far apart equal adapters
score"). A difference smaller than that spread means nothing, even when the
interval leaves out 0; ``alsate-train eval --roundings N`` measures the spread
for an adapter.

Each side is either an eval's ``eval_samples.jsonl`` (ROUGE-L recomputed from
the reference and the ``tuned`` or ``base`` answer, as ``alsate-train eval``
scores it) or a ``bench/sampling.py`` JSON (its per-answer ROUGE-L).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.train.errors import TrainError


@dataclass
class Answer:
    task: str
    rouge_l: float
    output: str | None


def load_answers(path: str | Path, side: str = "tuned") -> dict[str, Answer]:
    """Example id -> that model's answer and its ROUGE-L, from either kind of file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TrainError(f"no such file: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix == ".jsonl":
            return _from_eval_samples([json.loads(line) for line in text.splitlines() if line.strip()], side, path)
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainError(f"{path} is not JSON: {exc.msg} (line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return _from_sampling_bench(data, path)
    raise TrainError(f"{path} is neither an eval's *_samples.jsonl nor a bench/sampling.py JSON")


def _from_eval_samples(rows: list[Any], side: str, path: Path) -> dict[str, Answer]:
    from alsate.train.evaluate import Generation, score

    if not rows or not all(isinstance(r, dict) and {"id", "task", "reference", side} <= set(r) for r in rows):
        raise TrainError(f"{path}: every line needs id, task, reference and {side!r} (an eval's *_samples.jsonl)")
    gens = [Generation(str(r["id"]), str(r["task"]), str(r["reference"]), str(r[side]), 0.0, 0) for r in rows]
    each = score(gens, per_answer=True)["rougeL_each"]
    return {g.id: Answer(g.task, value, g.output) for g, value in zip(gens, each, strict=True)}


def _from_sampling_bench(data: dict[str, Any], path: Path) -> dict[str, Answer]:
    results = data["results"]
    if len(results) != 1:
        raise TrainError(f"{path} holds {len(results)} sampling settings; compare files of one setting each")
    samples = results[0].get("samples")
    if not isinstance(samples, list) or not samples:
        raise TrainError(f"{path} has no per-answer samples (written by bench/sampling.py before session 12)")
    try:
        return {str(s["id"]): Answer(str(s["task"]), float(s["rougeL"]), s.get("output")) for s in samples}
    except (KeyError, TypeError, ValueError):
        raise TrainError(f"{path}: a sample lacks id, task or rougeL") from None


def paired(a: dict[str, Answer], b: dict[str, Answer], *, resamples: int = 10000, seed: int = 0) -> dict[str, Any]:
    """B minus A over the examples both hold: mean difference, 95% bootstrap interval, per task."""
    ids = sorted(set(a) & set(b))
    if not ids:
        raise TrainError("the two files share no example ids: they are not answers to the same split")
    diffs = [b[i].rouge_l - a[i].rouge_l for i in ids]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    low, high = means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]
    both_text = [i for i in ids if a[i].output is not None and b[i].output is not None]
    tasks: dict[str, list[float]] = {}
    for i, d in zip(ids, diffs, strict=True):
        tasks.setdefault(a[i].task, []).append(d)
    mean = sum(diffs) / n
    return {
        "examples": n,
        "only_in_a": len(set(a) - set(b)),
        "only_in_b": len(set(b) - set(a)),
        "rougeL_a": sum(a[i].rouge_l for i in ids) / n,
        "rougeL_b": sum(b[i].rouge_l for i in ids) / n,
        "difference": mean,
        "ci95": [low, high],
        "verdict": "B higher" if low > 0 else "A higher" if high < 0 else "not told apart",
        "b_higher": sum(d > 1e-9 for d in diffs),
        "a_higher": sum(d < -1e-9 for d in diffs),
        "same_answer": sum(a[i].output == b[i].output for i in both_text) if both_text else None,
        "by_task": {t: {"examples": len(v), "difference": sum(v) / len(v)} for t, v in sorted(tasks.items())},
    }


def describe(result: dict[str, Any], name_a: str, name_b: str) -> str:
    """The comparison as a few lines of text."""
    low, high = result["ci95"]
    lines = [
        f"A {name_a}: ROUGE-L {result['rougeL_a']:.4f}",
        f"B {name_b}: ROUGE-L {result['rougeL_b']:.4f}",
        f"B - A = {result['difference']:+.4f} over {result['examples']} paired examples, 95% bootstrap interval "
        f"[{low:+.4f}, {high:+.4f}]: {result['verdict']}",
        f"B higher on {result['b_higher']}, A higher on {result['a_higher']}"
        + (f", the same answer on {result['same_answer']}" if result["same_answer"] is not None else ""),
    ]
    lines.append("(the interval covers the choice of examples, not rounding: equal adapters rounded differently "
                 "can differ by more; see docs/training.md)")
    if result["only_in_a"] or result["only_in_b"]:
        lines.append(f"left out: {result['only_in_a']} examples only in A, {result['only_in_b']} only in B")
    lines += [f"  {task}: {v['difference']:+.4f} ({v['examples']})" for task, v in result["by_task"].items()]
    return "\n".join(lines)
