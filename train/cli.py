"""``alsate-train``: build the model alsate ships, reproducibly, with measured quality.

    alsate-train data     check, split (by template), render and tokenise the dataset
    alsate-train fit      LoRA fine-tune (QLoRA on CUDA) with eval and early stopping
    alsate-train export   PEFT adapter -> GGUF LoRA adapter, loaded in llama.cpp, fidelity check
    alsate-train eval     base vs fine-tuned on the test split (JSON + Markdown)
    alsate-train all      the four in order
    alsate-train soup     a weighted sum of GGUF LoRA adapters as one adapter (no torch needed)
    alsate-train compare  two models' answers to one split, paired: is the ROUGE-L difference real?
    alsate-train defaults print the default config (ALSATE's hyperparameters) as TOML

Every verb takes ``--config FILE`` (TOML; keys as in ``alsate-train defaults``)
and ``--output-dir``. Bad input is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from alsate.train.errors import TrainError

VERBS = ("data", "fit", "export", "eval", "all")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alsate-train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="TOML", help="config file; its keys override the defaults")
        p.add_argument("--output-dir", metavar="DIR", help="where data/, adapter/, the GGUF and reports go "
                       "(config key output_dir, default runs/alsate)")
        p.add_argument("--base-model", metavar="REF", help="a .gguf file, a HF model directory or hub id "
                       "(default: the embedded SmolLM2-135M-Instruct)")
        p.add_argument("--seed", type=int, help="seed for the split, the boundaries and training")

    p = sub.add_parser("data", help="check, split and tokenise the dataset",
                       description="Load and check the dataset, split it train/validation/test by template, "
                                   "render each example as the engine's conversation with the base model's chat "
                                   "template, and tokenise it with loss on the assistant turn only.")
    common(p)
    p.add_argument("--dataset", metavar="PATH", help="a dataset directory of *.jsonl or one .jsonl file "
                   "(default: the curated dataset in alsate.assets)")
    p.add_argument("--freeze-split", action="store_true",
                   help="write the split made now to the dataset directory's splits.json: its templates keep "
                        "their split when examples are added, and new ones never join the test split")
    harvest = p.add_argument_group("harvest (instead of preparing the dataset)")
    harvest.add_argument("--from-file", action="append", default=[], metavar="PATH",
                         help="harvest priority 0-4 lines of a log file, one per template (repeatable)")
    harvest.add_argument("--from-journal", action="store_true", help="harvest from the local systemd journal")
    harvest.add_argument("--teacher", metavar="GGUF", help="label the harvested lines with this local model "
                         "(through the engine); kept only when the answer follows the format, marked synthetic")
    harvest.add_argument("--harvest-out", metavar="JSONL", help="where to write them (default OUTPUT_DIR/harvest.jsonl)")
    harvest.add_argument("--harvest-limit", type=int, default=0, metavar="N", help="at most N templates")

    p = sub.add_parser("fit", help="LoRA fine-tune on the train split",
                       description="LoRA fine-tune (QLoRA NF4 when CUDA is available) with trl's SFTTrainer, "
                                   "eval loss on the validation split, early stopping, fixed seed.")
    common(p)
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps (overrides epochs)")
    p.add_argument("--epochs", type=float, help="training epochs")
    p.add_argument("--wandb", action="store_true", default=None, help="log to Weights & Biases")
    p.add_argument("--resume", action="store_true", help="go on from the newest checkpoint in OUTPUT_DIR/checkpoints "
                                                         "(with a larger --max-steps or --epochs, extend a run)")

    p = sub.add_parser("export", help="write the GGUF LoRA adapter and check it in llama.cpp",
                       description="Convert the PEFT adapter into a GGUF LoRA adapter, load it with the GGUF base "
                                   "in llama-cpp-python, and measure greedy next-token agreement with the torch "
                                   "model on test prompts.")
    common(p)
    p.add_argument("--to", metavar="PATH", help="also copy the adapter GGUF here (e.g. assets/adapter/)")
    p.add_argument("--no-fidelity", action="store_true", help="skip the fidelity check")
    p.add_argument("--merged", choices=("f16", "q4_k_m"), help="also write the merged model as F16 GGUF "
                   "(and Q4_K_M through llama.cpp's quantizer)")

    p = sub.add_parser("eval", help="base vs fine-tuned on the test split",
                       description="Generate answers for the test split with llama.cpp (GGUF base, then GGUF base "
                                   "+ adapter) and write eval.json, eval.md and eval_samples.jsonl.")
    common(p)
    p.add_argument("--adapter", metavar="GGUF", help="GGUF adapter (default: the one `export` wrote)")
    p.add_argument("--limit", type=int, help="at most N test examples (every task kept)")
    p.add_argument("--prefill", action="store_true", help="start every answer with the profile's prefill "
                   "(by default answers start as the engine starts them: the base model's prefilled, the "
                   "adapter's not)")
    p.add_argument("--base-only", action="store_true", help="only generate (and cache) the base model's answers")
    p.add_argument("--plain", action="store_true", help="the models alone, as a user would prompt them: no answer "
                   "grammar, no prefill, no not-a-log check (writes eval-plain.json and eval-plain.md)")
    p.add_argument("--split", choices=("test", "validation"), default="test",
                   help="the split to answer (default test; validation writes eval-validation.*: choose "
                   "between adapters there, report the chosen one on test)")
    p.add_argument("--roundings", type=int, default=0, metavar="N",
                   help="also score N files (1-6) that are the adapter in exact arithmetic, rounded differently, "
                   "and report the mean and spread of ROUGE-L: differences smaller than that are rounding")

    p = sub.add_parser("all", help="data, fit, export, eval", description="Run data, fit, export and eval.")
    common(p)
    p.add_argument("--dataset", metavar="PATH", help="dataset directory or .jsonl file")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps")
    p.add_argument("--to", metavar="PATH", help="also copy the adapter GGUF here")
    p.add_argument("--limit", type=int, help="at most N test examples in the eval")

    sub.add_parser("defaults", help="print the default config as TOML")

    p = sub.add_parser("soup", help="a weighted sum of GGUF LoRA adapters as one GGUF adapter",
                       description="Write one GGUF LoRA adapter whose change to every weight is the weighted sum "
                                   "of the given adapters' changes (exact: the ranks add up; --rank shrinks it by "
                                   "truncated SVD), then load it with the base model in llama.cpp.")
    p.add_argument("out", metavar="OUT.gguf", help="the soup to write")
    p.add_argument("ingredients", nargs="+", metavar="ADAPTER.gguf[:WEIGHT]",
                   help="adapters of one base model; those without a weight share what the others leave of 1")
    p.add_argument("--rank", type=int, default=0, help="approximate the soup at this rank (default: exact)")
    p.add_argument("--dtype", choices=("f16", "f32"), default="f16", help="tensor type written (default f16)")
    p.add_argument("--base-model", metavar="GGUF", help="base to load the soup with as a check "
                   "(default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--no-check", action="store_true", help="skip loading the soup in llama.cpp")

    p = sub.add_parser("compare", help="two models' answers to one split, paired, with a bootstrap interval",
                       description="Pair two runs' answers by example (an eval's *_samples.jsonl or a "
                                   "bench/sampling.py JSON each) and print B - A in ROUGE-L with a 95%% bootstrap "
                                   "interval over the examples, per task, and how many answers are the same.")
    p.add_argument("a", metavar="A", help="the first run's answers (e.g. the shipped adapter's)")
    p.add_argument("b", metavar="B", help="the second run's answers, to the same examples")
    p.add_argument("--side", choices=("tuned", "base"), default="tuned",
                   help="which model of an eval's samples to read (default: tuned)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return parser


def _config(args: argparse.Namespace):
    from alsate.train.config import load_config

    config = load_config(args.config)
    overrides: dict[str, Any] = {
        "output_dir": getattr(args, "output_dir", None),
        "base_model": getattr(args, "base_model", None),
        "seed": getattr(args, "seed", None),
        "dataset": getattr(args, "dataset", None),
        "max_steps": getattr(args, "max_steps", None),
        "epochs": getattr(args, "epochs", None),
        "wandb": getattr(args, "wandb", None),
        "eval_limit": getattr(args, "limit", None),
    }
    return config.with_overrides(**overrides)


def _say(message: str) -> None:
    if os.environ.get("RANK", "0") != "0":  # one voice under torchrun / accelerate
        return
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message)


def _need_training_deps() -> None:
    # bitsandbytes' CPU backend warns on import (through peft) that it cannot fetch an optional kernel
    # from the hub; it falls back to its own, and alsate never downloads at run time: not the user's concern.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    missing = []
    for module in ("torch", "transformers", "peft", "trl", "datasets"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise TrainError(f"missing training dependencies ({', '.join(missing)}); "
                         "fix: pip install 'alsate[train]' (CPU torch: pip install torch==2.13.0 first)")


def cmd_data(config, *, freeze_split: bool = False) -> dict[str, Any]:
    from alsate.train.fit import run_data

    summary = run_data(config, freeze_split=freeze_split)
    _say(f"data: {summary['examples']} examples -> {config.out / 'data'}")
    if "frozen_split" in summary:
        frozen = summary["frozen_split"]
        _say(f"  frozen split {frozen['file']}: {frozen['pinned_templates']} templates kept in their split, "
             f"{frozen['new_templates']} new" + (f" (never in {', '.join(frozen['closed'])})"
                                                  if frozen["closed"] else ""))
    for name, stats in summary["splits"].items():
        dropped = summary["dropped_too_long"][name]
        _say(f"  {name}: {stats['examples']} examples, {stats['templates']} templates, "
             f"{summary['kept'][name]} kept" + (f", {dropped} longer than max_seq={config.max_seq} left out"
                                               if dropped else ""))
    if "frozen_split_written" in summary:
        _say(f"  split frozen in {summary['frozen_split_written']}")
    return summary


def cmd_fit(config, *, resume: bool = False) -> dict[str, Any]:
    from alsate.train.fit import run_fit

    result = run_fit(config, resume=resume)
    _say(f"fit: {result.steps} steps in {result.seconds:.0f} s; train loss {result.train_loss_first} -> "
         f"{result.train_loss_last}; best eval loss {result.eval_loss_best}; adapter in {result.adapter_dir}")
    return result.to_json()


def cmd_export(config, *, to: str | None = None, fidelity: bool = True, merged: str | None = None) -> dict[str, Any]:
    import shutil

    from alsate.train.base import hf_directory, resolve_base
    from alsate.train.data import read_jsonl
    from alsate.train.export import adapter_to_gguf, merged_gguf, open_llama
    from alsate.train.fit import ADAPTER_DIR

    base = resolve_base(config.base_model)
    hf_dir = Path(hf_directory(base)) if base.kind != "hub" else None
    base_config = _base_config(base, hf_dir)
    adapter_dir = config.out / ADAPTER_DIR
    out_path = config.out / config.adapter_name
    info = adapter_to_gguf(adapter_dir, out_path, base_config, dtype=config.adapter_dtype)
    _say(f"export: {out_path} ({info['bytes'] / 1e6:.1f} MB, {info['tensors']} tensors, r={info['rank']}, "
         f"alpha={info['alpha']:g})")
    report: dict[str, Any] = {"adapter": info}
    if base.gguf is None:
        _say("export: the base is not a GGUF file, so llama.cpp cannot load it here; skipped the load and "
             "fidelity checks")
    else:
        llm = open_llama(base.gguf, out_path, n_ctx=256, threads=config.eval_threads)
        llm.close()
        _say(f"export: llama.cpp loads {base.gguf.name} + {out_path.name}")
        report["loads_in_llama_cpp"] = True
        if fidelity and config.fidelity_prompts > 0:
            fid = _fidelity(config, base, adapter_dir, out_path, read_jsonl)
            report["fidelity"] = fid.to_json()
            _say(f"fidelity: greedy next-token agreement torch (fp32 + LoRA) vs llama.cpp (GGUF + GGUF LoRA) "
                 f"{fid.agreement:.1%} over {fid.positions} positions; without the adapter "
                 f"{fid.base_agreement:.1%} (the base GGUF's own quantisation gap)")
        if merged:
            out_f16 = config.out / (Path(config.adapter_name).stem + "-merged-f16.gguf")
            out_q4 = config.out / (Path(config.adapter_name).stem + "-merged-q4_k_m.gguf") if merged == "q4_k_m" else None
            report["merged"] = merged_gguf(base.gguf, adapter_dir, base_config, out_f16, out_q4)
            _say(f"export: merged model {report['merged']}")
    if to:
        dest = Path(to).expanduser()
        if dest.is_dir() or to.endswith("/"):
            dest.mkdir(parents=True, exist_ok=True)
            dest = dest / out_path.name
        shutil.copyfile(out_path, dest)
        report["copied_to"] = str(dest)
        _say(f"export: copied to {dest}")
    (config.out / "export.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _base_config(base, hf_dir: Path | None) -> dict[str, Any]:
    if hf_dir is not None and (hf_dir / "config.json").is_file():
        return json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(base.ref).to_dict()
    except Exception as exc:
        raise TrainError(f"cannot read the config of {base.ref}: {str(exc).splitlines()[0]}") from None


def _fidelity(config, base, adapter_dir: Path, out_path: Path, read_jsonl):
    from alsate.train.base import load_model
    from alsate.train.export import fidelity_check
    from peft import PeftModel

    rows = read_jsonl(config.out / "data" / "test.jsonl")
    rows = [r for r in rows if r["task"] != "refuse"][: config.fidelity_prompts] or rows[: config.fidelity_prompts]
    prompts = [r["input_ids"][: r["labels"].index(next(x for x in r["labels"] if x != -100))] for r in rows]
    torch_base = load_model(base)
    tuned = PeftModel.from_pretrained(load_model(base), str(adapter_dir))
    tuned.eval()
    torch_base.eval()
    return fidelity_check(tuned, torch_base, base.gguf, out_path, prompts, tokens=config.fidelity_tokens,
                          threads=config.eval_threads)


def cmd_eval(config, *, adapter: str | None = None, prefill: bool = False, base_only: bool = False,
             plain: bool = False, roundings: int = 0, split: str = "test") -> dict[str, Any]:
    from alsate.train.base import resolve_base
    from alsate.train.data import read_jsonl
    from alsate.train.evaluate import markdown_table, report_stem, run_eval

    base = resolve_base(config.base_model)
    if base.gguf is None:
        raise TrainError("eval runs through llama.cpp and needs a GGUF base model (--base-model FILE.gguf)")
    adapter_path = Path(adapter).expanduser() if adapter else config.out / config.adapter_name
    rows = read_jsonl(config.out / "data" / f"{split}.jsonl")
    report = run_eval(rows, base.gguf, adapter_path, config.out, profile=config.profile,
                      max_new_tokens=config.eval_max_new_tokens, threads=config.eval_threads, prefill=prefill,
                      limit=config.eval_limit, base_only=base_only, plain=plain, roundings=roundings,
                      split=split)
    if base_only:
        _say(json.dumps(report["base"], indent=2))
        return report
    _say(markdown_table(report))
    stem = report_stem(plain, split)
    _say(f"eval: wrote {config.out / (stem + '.json')} and {config.out / (stem + '.md')}")
    return report


def _need_module(module: str, verb: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise TrainError(f"alsate-train {verb} needs {package}; fix: pip install 'alsate[train]'") from None


def cmd_soup(args: argparse.Namespace) -> dict[str, Any]:
    _need_module("gguf", "soup", "the gguf package")
    from alsate.train.soup import make_soup, parse_ingredients

    report = make_soup(parse_ingredients(args.ingredients), args.out, rank=args.rank, dtype=args.dtype)
    parts = " + ".join(f"{i['weight']:g} x {i['path']}" for i in report["ingredients"])
    kept = report.get("energy_kept")
    _say(f"soup: {report['path']} ({report['bytes'] / 1e6:.1f} MB, r={report['rank']}) = {parts}"
         + (f"; rank {args.rank} keeps {kept['mean']:.1%} of the change's energy (least {kept['min']:.1%})"
            if kept else ""))
    if not args.no_check:
        from alsate.train.base import resolve_base
        from alsate.train.export import open_llama

        base = resolve_base(args.base_model or "")
        if base.gguf is None:
            raise TrainError("--base-model must be a GGUF file for the load check (or pass --no-check)")
        try:
            open_llama(base.gguf, Path(report["path"]), n_ctx=256).close()
        except TrainError:
            Path(report["path"]).unlink()
            raise
        report["loads_in_llama_cpp"] = str(base.gguf)
        _say(f"soup: llama.cpp loads {base.gguf.name} + {Path(report['path']).name}")
    return report


def cmd_compare(args: argparse.Namespace) -> dict[str, Any]:
    _need_module("rouge_score", "compare", "rouge-score")
    from alsate.train.compare import describe, load_answers, paired

    result = paired(load_answers(args.a, args.side), load_answers(args.b, args.side))
    sys.stdout.write((json.dumps(result, indent=2) if args.json else describe(result, args.a, args.b)) + "\n")
    return result


def run(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help(sys.stderr)
        return 2
    if args.verb == "defaults":
        from alsate.train.defaults import DEFAULTS_TOML

        sys.stdout.write(DEFAULTS_TOML)
        return 0
    if args.verb == "soup":
        cmd_soup(args)
        return 0
    if args.verb == "compare":
        cmd_compare(args)
        return 0
    config = _config(args)
    _need_training_deps()
    if args.verb == "data" and (args.from_file or args.from_journal):
        from alsate.train.harvest import harvest

        sources = [*args.from_file, *(["journal"] if args.from_journal else [])]
        out = Path(args.harvest_out).expanduser() if args.harvest_out else config.out / "harvest.jsonl"
        counts = harvest(sources, out, teacher=args.teacher, limit=args.harvest_limit)
        _say(f"harvest: {counts['templates']} templates, {counts['written']} written to {out}"
             + (f", {counts['rejected_by_format']} teacher answers rejected by the format check"
                if args.teacher else ""))
        return 0
    if args.verb == "data":
        cmd_data(config, freeze_split=args.freeze_split)
    elif args.verb == "fit":
        cmd_fit(config, resume=args.resume)
    elif args.verb == "export":
        cmd_export(config, to=args.to, fidelity=not args.no_fidelity, merged=args.merged)
    elif args.verb == "eval":
        if args.plain and args.prefill:
            raise TrainError("--plain and --prefill do not go together: --plain starts no answer")
        cmd_eval(config, adapter=args.adapter, prefill=args.prefill, base_only=args.base_only, plain=args.plain,
                 roundings=args.roundings, split=args.split)
    elif args.verb == "all":
        cmd_data(config)
        cmd_fit(config)
        cmd_export(config, to=args.to)
        cmd_eval(config)
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "0")
    try:
        return run(argv)
    except TrainError as exc:
        print(f"alsate-train: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("alsate-train: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("alsate-train: out of memory; lower batch_size or max_seq", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
