"""Answer quality under several sampling settings: the eval's generation, the profile's sampling swapped.

    .venv/bin/python bench/sampling.py                                   # the table in docs/training.md
    .venv/bin/python bench/sampling.py --limit 12 --max-tokens 256 --setting 1.05:0.8 --setting 1.0:0

Each ``--setting PENALTY:DRY`` (repeat penalty, DRY multiplier; 0 = DRY off)
runs the held-out test examples of ``alsate-train data``'s split (``--data``,
task-stratified to ``--limit``) through ``alsate.train.evaluate.generate``:
llama.cpp, the profile's chat template and system prompt, greedy, base model
plus ``--adapter`` (the shipped one by default). Everything but the two
settings is the profile's. It prints, per setting, ROUGE-L, ROUGE-1, BLEU,
format compliance, refusal of non-logs, how many log answers reached the
token cap, and how many log answers ended before their ``Threat level`` line
without reaching the cap. JSON goes to ``bench/out/sampling-DATE.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "runs" / "smollm2-alsate-full" / "data" / "test.jsonl"
DEFAULT_SETTINGS = ("1.15:0", "1.0:0", "1.05:0", "1.0:0.8", "1.05:0.8")
_THREAT_END = re.compile(r"Threat level - \w+\s*\Z")


def parse_setting(text: str) -> tuple[float, float]:
    try:
        penalty, dry = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PENALTY:DRY (e.g. 1.05:0.8), got {text!r}") from None
    return penalty, dry


def run_setting(rows: list[dict], base_gguf: Path, adapter: Path, profile: str, penalty: float, dry: float,
                max_tokens: int) -> dict:
    from alsate.engine.llm.profiles import load_profile
    from alsate.engine.llm.sampling import Dry
    from alsate.train.evaluate import generate, score
    from alsate.train.formats import complies

    shipped = load_profile(profile)
    swapped = dataclasses.replace(shipped, repeat_penalty=penalty,
                                  dry=dataclasses.replace(shipped.dry, multiplier=dry) if dry else Dry())
    answers = generate(rows, base_gguf, adapter, profile=swapped, max_new_tokens=max_tokens,
                       label=f"penalty {penalty} DRY {dry}")
    logs = [g for g in answers if g.task != "refuse"]
    metrics = score(answers, per_answer=True)
    return {
        "repeat_penalty": penalty, "dry": dry,
        **{key: metrics[key] for key in ("rougeL", "rouge1", "bleu", "format_compliance", "refusal_non_logs",
                                         "mean_completion_tokens")},
        "log_answers": len(logs),
        "at_cap": sum(g.tokens >= max_tokens for g in logs),
        "ended_early": sum(g.tokens < max_tokens and not complies(g.task, g.output)
                           and not _THREAT_END.search(g.output) for g in logs),
        # per answer, to compare builds on part of the split (a dataset file, a task)
        "samples": [{"id": g.id, "task": g.task, "rougeL": rouge_l, "tokens": g.tokens, "output": g.output}
                    for g, rouge_l in zip(answers, metrics["rougeL_each"], strict=True)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", action="append", type=parse_setting, metavar="PENALTY:DRY",
                        help=f"repeat penalty and DRY multiplier (default: {' '.join(DEFAULT_SETTINGS)})")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="test split (JSONL of alsate-train data)")
    parser.add_argument("--limit", type=int, default=60, help="test examples, task-stratified (default 60)")
    parser.add_argument("--max-tokens", type=int, default=256, help="answer cap (default 256)")
    parser.add_argument("--adapter", type=Path, help="GGUF adapter (default: the shipped one)")
    parser.add_argument("--profile", default="smollm2")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from alsate.engine.llm.models import resolve_model
    from alsate.train.data import read_jsonl
    from alsate.train.evaluate import _stratified

    if not args.data.is_file():
        print(f"sampling: no test split at {args.data}; run `alsate-train data --config train/ship-full.toml`",
              file=sys.stderr)
        return 2
    spec = resolve_model()
    adapter = args.adapter or spec.lora_path
    rows = _stratified(read_jsonl(args.data), args.limit)
    settings = args.setting or [parse_setting(s) for s in DEFAULT_SETTINGS]
    results = [run_setting(rows, spec.path, adapter, args.profile, penalty, dry, args.max_tokens)
               for penalty, dry in settings]
    print(f"{len(rows)} test examples, greedy, {args.max_tokens} tokens at most, adapter {adapter.name}")
    print("| repeat penalty | DRY | ROUGE-L | ROUGE-1 | BLEU | format | refusal | log answers at the cap | "
          "ended before the threat level |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['repeat_penalty']} | {r['dry'] or 'off'} | {r['rougeL']:.3f} | {r['rouge1']:.3f} | "
              f"{r['bleu']:.3f} | {r['format_compliance']:.1%} | {(r['refusal_non_logs'] or 0):.1%} | "
              f"{r['at_cap']} of {r['log_answers']} | {r['ended_early']} |")
    out = args.out or ROOT / "bench" / "out" / f"sampling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"examples": len(rows), "max_tokens": args.max_tokens, "adapter": adapter.name,
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
