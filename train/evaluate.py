"""Evaluate on the held-out test split: the GGUF base model against the GGUF base + GGUF adapter.

Generation goes through llama-cpp-python with the prompt rendered the way the
engine renders it (the profile's chat template, the tokenizer's special
tokens), greedy, with the profile's repeat penalty and DRY: it measures what
alsate ships. Metrics, all on the test split:

- BLEU (sacrebleu, corpus level, 0-1), ROUGE-1/2/L F1 (rouge-score, stemmed),
  fuzzy match (rapidfuzz ``fuzz.ratio``, 0-1), means over all test examples;
- format compliance: the answer matches the exact shape of
  ``docs/answer-format.md`` for its task (the refusal sentence for non-logs);
- refusal of non-logs: share of non-log inputs answered with the refusal sentence;
- false refusals: share of real log inputs answered with a refusal.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alsate.train.errors import TrainError
from alsate.train.formats import ENGINE_TASK, REFUSAL, complies, is_refusal

if TYPE_CHECKING:
    from alsate.engine.llm.profiles import Profile


@dataclass
class Generation:
    id: str
    task: str
    reference: str
    output: str
    seconds: float
    tokens: int
    #: Refused by the engine's not-a-log check (alsate.engine.llm.not_a_log), without the model.
    checked: bool = False


def _looks_refused(text: str) -> bool:
    return is_refusal(text) or text.strip().startswith("This is not a log entry")


def _cut_at_stops(text: str, stops: tuple[str, ...]) -> str:
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return text[:min(found)] if found else text


def prompt_of(row: dict[str, Any]) -> str:
    """The engine prompt a test row was shown through (rows made before it was recorded: by its task)."""
    return row.get("prompt") or ENGINE_TASK.get(row["task"], "explain")


def generate(rows: list[dict[str, Any]], base_gguf: Path, adapter_gguf: Path | None, *, profile: str | Profile,
             max_new_tokens: int, threads: int = 0, prefill: bool = False, label: str = "") -> list[Generation]:
    """Answers of llama.cpp (base, or base + adapter) to the rows' conversations, sampled as ``profile``
    (a profile's name, or a :class:`Profile` with other settings: bench/sampling.py).

    The answer is started as the engine starts it for that model (the profile's prefill: the
    smollm2 profile prefills the base model, not the adapter), or, with ``prefill``, for both."""
    from alsate.engine.llm.backend import Message
    from alsate.engine.llm.chat_template import render_chat
    from alsate.engine.llm.grammar import AnswerGrammar
    from alsate.engine.llm.profiles import load_profile
    from alsate.engine.llm.sampling import sample_answer
    from alsate.train.export import open_llama
    from llama_cpp import llama_vocab_is_eog as llm_is_eog
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prof = load_profile(profile) if isinstance(profile, str) else profile
    longest = max(len(r["input_ids"]) for r in rows)
    llm = open_llama(base_gguf, adapter_gguf, n_ctx=min(8192, longest + max_new_tokens + 64), threads=threads)
    llm.dry = prof.dry
    template = prof.chat_template or llm.metadata.get("tokenizer.chat_template", "")
    out: list[Generation] = []
    from rich.console import Console

    with Progress(TextColumn(f"eval {label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as progress:
        bar = progress.add_task("eval", total=len(rows))
        for row in rows:
            messages = [Message(m["role"], m["content"]) for m in row["messages"]]
            text = render_chat(template, messages)
            if row.get("not_a_log"):  # as the engine does: no log data, no model call
                out.append(Generation(row["id"], row["task"], row["answer"], REFUSAL, 0.0, 0, checked=True))
                progress.advance(bar)
                continue
            prompt = prompt_of(row)
            # as the engine starts the answer for this model (the base model, or the base and the
            # adapter), whatever the input is; --prefill: for both
            start = prof.prefill_for(prompt, adapter=adapter_gguf is not None and not prefill)
            grammar = AnswerGrammar.of(prompt, start) if prof.answer_grammar else None
            tokens = llm.tokenize((text + start).encode("utf-8"), add_bos=False, special=True)
            began = time.monotonic()
            llm.reset()
            ids = []
            for token in sample_answer(llm, tokens, max_tokens=max_new_tokens, grammar=grammar, temp=0.0,
                                       repeat_penalty=prof.repeat_penalty):
                if llm_is_eog(llm._model.vocab, token):
                    break
                ids.append(token)
            answer = start + _cut_at_stops(llm.detokenize(ids).decode("utf-8", "replace"), prof.stop)
            out.append(Generation(row["id"], row["task"], row["answer"], answer.strip(),
                                  time.monotonic() - began, len(ids)))
            progress.advance(bar)
    llm.close()
    return out


def score(generations: list[Generation], *, per_answer: bool = False) -> dict[str, Any]:
    """The metrics of one model's answers; with ``per_answer``, also each answer's ROUGE-L, in order
    (``rougeL_each``)."""
    import sacrebleu
    from rapidfuzz import fuzz
    from rouge_score import rouge_scorer

    if not generations:
        raise TrainError("nothing to score: the test split is empty")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    r1 = r2 = fz = 0.0
    each: list[float] = []
    per_task: dict[str, list[float]] = {}
    for g in generations:
        s = scorer.score(g.reference, g.output)
        r1 += s["rouge1"].fmeasure
        r2 += s["rouge2"].fmeasure
        each.append(s["rougeL"].fmeasure)
        fz += fuzz.ratio(g.reference, g.output) / 100.0
        per_task.setdefault(g.task, []).append(s["rougeL"].fmeasure)
    n = len(generations)
    bleu = sacrebleu.corpus_bleu([g.output for g in generations], [[g.reference for g in generations]]).score / 100
    non_logs = [g for g in generations if g.task == "refuse"]
    logs = [g for g in generations if g.task != "refuse"]
    return {
        "examples": n,
        "bleu": round(bleu, 4),
        "rouge1": round(r1 / n, 4),
        "rouge2": round(r2 / n, 4),
        "rougeL": round(sum(each) / n, 4),
        "fuzzy": round(fz / n, 4),
        "format_compliance": round(sum(complies(g.task, g.output) for g in generations) / n, 4),
        "refusal_non_logs": round(sum(is_refusal(g.output) for g in non_logs) / len(non_logs), 4) if non_logs else None,
        "false_refusal_logs": round(sum(_looks_refused(g.output) for g in logs) / len(logs), 4) if logs else None,
        "refused_by_check": sum(g.checked for g in generations),
        "non_logs": len(non_logs),
        "logs": len(logs),
        "rougeL_by_task": {t: round(sum(v) / len(v), 4) for t, v in sorted(per_task.items())},
        "mean_completion_tokens": round(sum(g.tokens for g in generations) / n, 1),
        "seconds_per_answer": round(sum(g.seconds for g in generations) / n, 2),
        **({"rougeL_each": [round(v, 4) for v in each]} if per_answer else {}),
    }


_ROWS = (
    ("BLEU", "bleu"),
    ("ROUGE-1", "rouge1"),
    ("ROUGE-2", "rouge2"),
    ("ROUGE-L", "rougeL"),
    ("fuzzy match", "fuzzy"),
    ("format compliance", "format_compliance"),
    ("refusal of non-logs", "refusal_non_logs"),
    ("false refusals on logs", "false_refusal_logs"),
    ("refused by the not-a-log check, no model", "refused_by_check"),
    ("tokens per answer", "mean_completion_tokens"),
    ("seconds per answer", "seconds_per_answer"),
)


def markdown_table(report: dict[str, Any]) -> str:
    base, tuned = report["base"], report["tuned"]
    lines = [
        f"{report.get('split', 'test').capitalize()} split: {base['examples']} examples ({base['logs']} log inputs, "
        f"{base['non_logs']} non-log inputs), "
        f"templates never seen in training. Model: {report['base_model']}"
        + (f" + {report['adapter']}" if report.get("adapter") else "") + ".",
        "",
        "| metric | base | fine-tuned |",
        "| --- | --- | --- |",
    ]

    def fmt(value: Any) -> str:
        if value is None:
            return "n/a"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    for label, key in _ROWS:
        lines.append(f"| {label} | {fmt(base.get(key))} | {fmt(tuned.get(key))} |")
    for task in sorted(set(base["rougeL_by_task"]) | set(tuned["rougeL_by_task"])):
        lines.append(f"| ROUGE-L, {task} | {fmt(base['rougeL_by_task'].get(task))} | "
                     f"{fmt(tuned['rougeL_by_task'].get(task))} |")
    spread = report.get("rounding")
    if spread:
        lines += ["", f"ROUGE-L of the fine-tuned model as {len(spread['files'])} files, equal in exact arithmetic "
                  f"and rounded differently: mean {spread['rougeL_mean']:.3f}, {spread['rougeL_min']:.3f} to "
                  f"{spread['rougeL_max']:.3f} (sd {spread['rougeL_sd']:.3f}; "
                  + ", ".join(f"{f['file']} {f['rougeL']:.3f}" for f in spread["files"]) + ")."]
    return "\n".join(lines) + "\n"


def report_stem(plain: bool, split: str = "test") -> str:
    """The name of the eval's files (``<stem>.json``, ``<stem>.md``, ``<stem>_samples.jsonl``)."""
    return "eval" + ("-plain" if plain else "") + ("" if split == "test" else f"-{split}")


def plain_profile(profile: str) -> Profile:
    """``profile`` without what the engine adds around the model: no answer grammar, no prefill."""
    from alsate.engine.llm.profiles import load_profile

    return replace(load_profile(profile), answer_grammar=False, prefill={})


def run_eval(rows: list[dict[str, Any]], base_gguf: Path, adapter_gguf: Path | None, out_dir: Path, *,
             profile: str, max_new_tokens: int, threads: int = 0, prefill: bool = False,
             limit: int = 0, base_only: bool = False, plain: bool = False, roundings: int = 0,
             split: str = "test") -> dict[str, Any]:
    """Base vs base + adapter on ``rows``; writes eval.json, eval.md and eval_samples.jsonl into ``out_dir``.

    ``plain`` measures the models alone, as a user would prompt them: no answer grammar, no
    prefill, no not-a-log check (the profile's sampling kept); it writes ``eval-plain.*``.
    ``roundings`` also scores that many files that are the adapter in exact arithmetic, rounded
    differently (:func:`alsate.train.soup.equal_copies`, kept in ``out_dir/rounding``), and
    reports the spread of their ROUGE-L as ``rounding``. ``split`` names the split ``rows`` are from
    (``validation``: the files are ``eval-validation.*``).
    Answers are kept in ``out_dir/eval_base_cache.jsonl`` and ``eval_tuned_cache.jsonl`` (keyed
    by prompt, model file, adapter content and generation settings) and reused by later evals.
    """
    if not rows:
        raise TrainError(f"the {split} split is empty; run `alsate-train data` with a dataset that has a {split} split")
    if limit > 0:
        rows = _stratified(rows, limit)
    used: str | Profile = profile
    if plain:
        rows = [dict(row, not_a_log=False) for row in rows]
        used = plain_profile(profile)
    if not base_only and adapter_gguf is not None and not Path(adapter_gguf).is_file():
        raise TrainError(f"adapter not found: {adapter_gguf}; run `alsate-train export` first")
    if roundings:  # 0: none; any other count is checked before an answer is generated
        from alsate.train.soup import check_roundings

        check_roundings(roundings)
        if base_only or adapter_gguf is None:
            raise TrainError("--roundings re-rounds the adapter: it needs an adapter, not --base-only")
    start = "none" if plain else "always" if prefill else "engine"  # how answers start, for the caches
    settings = {"profile": used, "max_new_tokens": max_new_tokens, "threads": threads, "prefill": prefill,
                "start": start}
    base_gen = _cached_generations(rows, base_gguf, None, out_dir, **settings)
    if base_only:
        return {"base": score(base_gen)}
    tuned_gen = _cached_generations(rows, base_gguf, adapter_gguf, out_dir, **settings) if adapter_gguf \
        else base_gen
    report = {
        "split": split,
        "base_model": Path(base_gguf).name,
        "adapter": Path(adapter_gguf).name if adapter_gguf else None,
        "profile": profile,
        "prefill": "none (plain)" if plain else "always" if prefill else "as the engine",
        "not_a_log_check": not plain,
        "max_new_tokens": max_new_tokens,
        "greedy": True,
        **_sampling_of(used),
        "base": score(base_gen),
        "tuned": score(tuned_gen),
    }
    if roundings:
        report["rounding"] = _rounding(rows, base_gguf, adapter_gguf, out_dir, roundings, report["tuned"], settings)
    stem = report_stem(plain, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown_table(report), encoding="utf-8")
    with (out_dir / f"{stem}_samples.jsonl").open("w", encoding="utf-8") as handle:
        for b, t in zip(base_gen, tuned_gen, strict=True):
            handle.write(json.dumps({"id": b.id, "task": b.task, "reference": b.reference, "base": b.output,
                                     "tuned": t.output}, ensure_ascii=False) + "\n")
    return report


def _rounding(rows: list[dict[str, Any]], base_gguf: Path, adapter_gguf: Path, out_dir: Path, count: int,
              tuned: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """ROUGE-L of the adapter and of ``count`` equal files of it: the spread rounding alone makes."""
    import statistics

    from alsate.train.soup import equal_copies

    files = [{"file": Path(adapter_gguf).name, "rougeL": tuned["rougeL"],
              "format_compliance": tuned["format_compliance"]}]
    for name, path in equal_copies(adapter_gguf, out_dir / "rounding", count):
        metrics = score(_cached_generations(rows, base_gguf, path, out_dir, **settings))
        files.append({"file": name, "rougeL": metrics["rougeL"], "format_compliance": metrics["format_compliance"]})
    values = [f["rougeL"] for f in files]
    return {"files": files, "rougeL_mean": round(statistics.fmean(values), 4), "rougeL_min": min(values),
            "rougeL_max": max(values), "rougeL_sd": round(statistics.stdev(values), 4)}


def _sampling_of(profile: str | Profile) -> dict[str, Any]:
    """The profile's sampling settings, as the eval records them (and keys its cache of base answers)."""
    from alsate.engine.llm.profiles import load_profile

    prof = load_profile(profile) if isinstance(profile, str) else profile
    dry = {"multiplier": prof.dry.multiplier, "base": prof.dry.base, "allowed_length": prof.dry.allowed_length,
           "breakers": list(prof.dry.breakers)}
    return {"repeat_penalty": prof.repeat_penalty, "dry": dry if prof.dry.on else None,
            "grammar": prof.answer_grammar}


def _digest(path: Path) -> str:
    import hashlib

    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _cached_generations(rows: list[dict[str, Any]], base_gguf: Path, adapter_gguf: Path | None, out_dir: Path, *,
                        profile: str | Profile, max_new_tokens: int, threads: int, prefill: bool,
                        start: str) -> list[Generation]:
    """``generate``, through a cache of answers in ``out_dir`` (the base model's in
    ``eval_base_cache.jsonl``, the adapter's in ``eval_tuned_cache.jsonl``) keyed by the
    conversation, the model file, the adapter's content and the generation settings: greedy
    answers are the same every time, so a second eval (``--limit``, a report rebuilt) reuses them."""
    import hashlib

    sampling = _sampling_of(profile)
    name = profile if isinstance(profile, str) else profile.name
    adapter = [_digest(adapter_gguf)] if adapter_gguf else []  # the base cache's keys stay as they were

    def key(row: dict[str, Any]) -> str:
        text = json.dumps([row["messages"], Path(base_gguf).name, Path(base_gguf).stat().st_size, name,
                           max_new_tokens, start, sampling, bool(row.get("not_a_log")), *adapter],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    cache_path = out_dir / ("eval_tuned_cache.jsonl" if adapter_gguf else "eval_base_cache.jsonl")
    cache: dict[str, dict[str, Any]] = {}
    if cache_path.is_file():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                cache[item["key"]] = item
    keys = [key(row) for row in rows]
    missing = [(k, row) for k, row in zip(keys, rows, strict=True) if k not in cache]
    if missing:
        fresh = generate([row for _, row in missing], base_gguf, adapter_gguf, profile=profile,
                         max_new_tokens=max_new_tokens, threads=threads, prefill=prefill,
                         label="fine-tuned" if adapter_gguf else "base")
        out_dir.mkdir(parents=True, exist_ok=True)
        with cache_path.open("a", encoding="utf-8") as handle:
            for (k, _), g in zip(missing, fresh, strict=True):
                item = {"key": k, **g.__dict__}
                cache[k] = item
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    out = []
    for k in keys:
        item = dict(cache[k])
        item.pop("key")
        out.append(Generation(**item))
    return out


def _stratified(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows keeping every task represented (round robin over tasks, in split order)."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    picked: list[dict[str, Any]] = []
    while len(picked) < min(limit, len(rows)):
        for task in sorted(by_task):
            if by_task[task] and len(picked) < limit:
                picked.append(by_task[task].pop(0))
    return picked


__all__ = ["REFUSAL", "generate", "markdown_table", "run_eval", "score"]
