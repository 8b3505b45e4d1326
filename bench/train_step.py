"""LoRA training speed on this CPU: tokens a second of one optimizer step, per precision and dropout.

    .venv/bin/python bench/train_step.py                  # the figures in docs/training.md (Fit)
    .venv/bin/python bench/train_step.py --rows 4 --steps 2 --setting bf16:0

The base is the embedded model as ``alsate-train fit`` loads it (the GGUF
dequantised to fp32, cached by ``alsate.train.base``), LoRA r=16 on the seven
projections of all layers, as ``fit`` builds it. The rows are real training
rows of ``alsate-train data`` (``--data``), the ``--rows`` nearest to
``--length`` tokens, run as batches of 4 through forward, backward (the
model's own causal-LM loss on the assistant tokens) and an AdamW step. Each
``--setting PRECISION:DROPOUT`` (fp32 or bf16 autocast; LoRA dropout) is timed
over ``--steps`` steps after one warm-up step and printed as tokens a second
(padding included). JSON goes to ``bench/out/train_step-DATE.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "runs" / "smollm2-alsate-cpu" / "data" / "train.jsonl"
DEFAULT_SETTINGS = ("fp32:0.05", "bf16:0.05", "fp32:0", "bf16:0")


def parse_setting(text: str) -> tuple[str, float]:
    precision, _, dropout = text.partition(":")
    try:
        value = float(dropout)
    except ValueError:
        value = -1.0
    if precision not in ("fp32", "bf16") or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected PRECISION:DROPOUT (fp32 or bf16, e.g. bf16:0), got {text!r}")
    return precision, value


def pick_rows(path: Path, count: int, length: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(rows, key=lambda r: abs(len(r["input_ids"]) - length))[:count]


def batches(rows: list[dict], size: int = 4):
    """Batches of ``size`` rows, all padded to the longest of ``rows`` (every step costs the same)."""
    from alsate.train.fit import pad_batch

    width = max(len(r["input_ids"]) for r in rows)
    for start in range(0, len(rows), size):
        yield pad_batch(rows[start:start + size], width)


def measure(setting: tuple[str, float], rows: list[dict], steps: int) -> dict:
    import torch
    from alsate.train.base import load_model, resolve_base
    from alsate.train.config import load_config
    from peft import LoraConfig, get_peft_model

    precision, dropout = setting
    config = load_config()
    torch.manual_seed(0)
    model = load_model(resolve_base(""))
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=dropout,
                                             target_modules=list(config.target_modules), task_type="CAUSAL_LM"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    width = max(len(r["input_ids"]) for r in rows)
    times = []
    for step in range(steps + 1):
        started = time.perf_counter()
        for ids, labels, mask in batches(rows):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - started)
    seconds = sum(times) / len(times)
    return {"precision": precision, "dropout": dropout, "seconds_per_step": round(seconds, 2),
            "tokens_per_second": round(len(rows) * width / seconds), "padded_width": width}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="train.jsonl of `alsate-train data`")
    parser.add_argument("--rows", type=int, default=8, help="rows per step (batches of 4)")
    parser.add_argument("--length", type=int, default=600, help="pick rows nearest this many tokens")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per setting, after one warm-up")
    parser.add_argument("--setting", action="append", type=parse_setting,
                        help="PRECISION:DROPOUT, repeatable (default: fp32 and bf16, dropout 0.05 and 0)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"bench: no {args.data}; run `alsate-train data --config train/ship-cpu.toml` first", file=sys.stderr)
        return 1
    if args.rows < 1 or args.steps < 1:
        print("bench: --rows and --steps must be at least 1", file=sys.stderr)
        return 1
    import torch

    rows = pick_rows(args.data, args.rows, args.length)
    settings = args.setting or [parse_setting(s) for s in DEFAULT_SETTINGS]
    print(f"{len(rows)} rows, {torch.get_num_threads()} threads")
    print(f"{'precision':>9} {'dropout':>7} {'s/step':>7} {'tokens/s':>8}")
    results = []
    for setting in settings:
        result = measure(setting, rows, args.steps)
        results.append(result)
        print(f"{result['precision']:>9} {result['dropout']:>7} {result['seconds_per_step']:>7} "
              f"{result['tokens_per_second']:>8}", flush=True)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"train_step-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"rows": len(rows), "threads": torch.get_num_threads(), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
