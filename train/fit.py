"""Fine-tune the base model with LoRA through trl's SFTTrainer.

- CPU (by default): plain LoRA on the fp32 weights, ``adamw_torch``.
  ``bf16 = "on"`` autocasts to bf16 there too (fast where the CPU has AMX; the
  loss then comes from the model's own forward: :func:`_trainer_class`).
- CUDA: QLoRA: the base loaded in 4-bit NF4 with double quantisation
  (bitsandbytes), bf16 compute, ``paged_adamw_32bit``, gradient checkpointing
  (ALSATE's recipe). ``qlora = "on"`` runs the same on CPU through
  bitsandbytes' CPU backend (tests/test_train_qlora.py runs it there).
- Several processes (DDP): ``torchrun --nproc_per_node N -m alsate.train.cli fit ...``
  (or ``accelerate launch --multi_gpu``); the Trainer picks up the distributed
  environment (gloo on CPU, NCCL on GPUs), only rank 0 writes the adapter.

The training data comes from :mod:`alsate.train.data` already tokenised, with
``labels`` = -100 outside the assistant turn, so trl uses it as is (no
re-templating, no truncation surprises: over-long examples were left out and
counted by ``prepare``). Eval loss on the validation split runs every
``eval_steps``; early stopping keeps the best checkpoint by eval loss.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.train.base import BaseModel, load_model, load_tokenizer, resolve_base
from alsate.train.config import Config
from alsate.train.data import (
    SPLIT_FILE,
    FrozenSplit,
    Prepared,
    default_dataset_dir,
    load_examples,
    prepare,
    read_frozen_split,
    read_jsonl,
    split_stats,
    write_frozen_split,
    write_jsonl,
)
from alsate.train.errors import TrainError

ADAPTER_DIR = "adapter"
DATA_DIR = "data"


def _console():
    from rich.console import Console

    return Console(stderr=True)


# --- data step -------------------------------------------------------------------


def run_data(config: Config, *, tokenizer: Any = None, base: BaseModel | None = None,
             freeze_split: bool = False) -> dict[str, Any]:
    """Load, check, split, render and tokenise the dataset into ``output_dir/data/*.jsonl``.

    A dataset directory's ``splits.json`` (when ``frozen_split``) keeps known templates in their
    split; ``freeze_split`` writes that file from the split made now.
    """
    examples = load_examples(config.dataset or None)
    dataset = Path(config.dataset).expanduser() if config.dataset else default_dataset_dir()
    split_file = dataset / SPLIT_FILE if dataset.is_dir() else None
    if freeze_split and split_file is None:
        raise TrainError(f"--freeze-split needs a dataset directory (it writes {SPLIT_FILE} there), not {dataset}")
    frozen = None
    if config.frozen_split and split_file is not None and split_file.is_file():
        frozen = read_frozen_split(split_file)
    base = base or resolve_base(config.base_model)
    tokenizer = tokenizer or load_tokenizer(base)
    prepared: Prepared = prepare(examples, tokenizer, seed=config.seed, max_seq=config.max_seq,
                                 fractions=config.split, profile=config.profile, frozen=frozen)
    out = config.out / DATA_DIR
    for name, rows in prepared.rows.items():
        write_jsonl(out / f"{name}.jsonl", rows)
    summary = {
        "examples": len(examples),
        "splits": split_stats(prepared.splits),
        "kept": {name: len(rows) for name, rows in prepared.rows.items()},
        "dropped_too_long": {name: len(ids) for name, ids in prepared.dropped.items()},
        "max_seq": config.max_seq,
        "seed": config.seed,
        "profile": config.profile,
    }
    if frozen is not None:
        known = {(e.task, e.template) for e in examples}
        summary["frozen_split"] = {"file": str(split_file), "closed": sorted(frozen.closed),
                                   "pinned_templates": len(known & frozen.pinned.keys()),
                                   "new_templates": len(known - frozen.pinned.keys())}
    if not prepared.rows["train"]:
        raise TrainError(f"no training example fits max_seq={config.max_seq} tokens; raise max_seq")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if freeze_split and split_file is not None:
        now = FrozenSplit.of(prepared.splits, frozen.closed if frozen else ("test",))
        # Templates the file knew but the dataset no longer has keep their entry.
        write_frozen_split(split_file, FrozenSplit({**(frozen.pinned if frozen else {}), **now.pinned}, now.closed))
        summary["frozen_split_written"] = str(split_file)
    return summary


# --- progress ----------------------------------------------------------------------


def _progress_callback():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        """A rich progress bar for the steps, with the latest loss and eval loss."""

        def __init__(self) -> None:
            self.progress: Progress | None = None
            self.task = None
            self.loss = float("nan")
            self.eval_loss = float("nan")

        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            self.progress = Progress(TextColumn("fit"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]:.4f} eval {task.fields[eval]:.4f}"),
                                     TimeElapsedColumn(), TimeRemainingColumn(), console=_console())
            self.progress.start()
            self.task = self.progress.add_task("fit", total=state.max_steps, loss=self.loss, eval=self.eval_loss)

        def on_step_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step, loss=self.loss, eval=self.eval_loss)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                self.loss = float(logs["loss"])
            if "eval_loss" in logs:
                self.eval_loss = float(logs["eval_loss"])
            if self.progress is not None:
                self.progress.update(self.task, loss=self.loss, eval=self.eval_loss)
                self.progress.console.log(
                    {k: (round(v, 4) if isinstance(v, float) else v) for k, v in logs.items()})

        def on_train_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    return RichProgress()


def _time_limit_callback(minutes: float):
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        """Stop after ``minutes`` of training (checked after each optimizer step), saving a checkpoint."""

        def __init__(self) -> None:
            self.deadline = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.deadline = time.monotonic() + minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            if self.deadline is not None and time.monotonic() >= self.deadline:
                control.should_training_stop = True
                control.should_evaluate = args.eval_strategy != "no"
                control.should_save = True
            return control

    return TimeLimit()


# --- fit -----------------------------------------------------------------------------


@dataclass
class FitResult:
    adapter_dir: Path
    steps: int
    train_loss_first: float | None
    train_loss_last: float | None
    eval_loss_best: float | None
    seconds: float
    history: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "adapter_dir": str(self.adapter_dir),
            "steps": self.steps,
            "train_loss_first": self.train_loss_first,
            "train_loss_last": self.train_loss_last,
            "eval_loss_best": self.eval_loss_best,
            "seconds": round(self.seconds, 1),
            "history": self.history,
        }


def _cpu_qlora(bnb: Any) -> bool:
    """Whether this bitsandbytes does on CPU what QLoRA needs: NF4 quantisation and a step of its 32-bit
    AdamW (0.48 and 0.49 quantise, then fail in the optimizer's first step; 0.50 does both)."""
    import torch

    try:
        bnb.functional.quantize_4bit(torch.ones(64, dtype=torch.bfloat16), quant_type="nf4")
        weight = torch.nn.Parameter(torch.ones(64))
        weight.grad = torch.ones(64)
        bnb.optim.AdamW32bit([weight]).step()
    except Exception:
        return False
    return True


def use_qlora(config: Config) -> bool:
    """``auto``: QLoRA when CUDA and bitsandbytes are there; ``on``: QLoRA on CUDA, or on CPU through
    bitsandbytes' CPU backend (4-bit weights, less memory, slower steps: docs/training.md); ``off``: LoRA."""
    import torch

    cuda = torch.cuda.is_available()
    if config.qlora == "off" or (config.qlora == "auto" and not cuda):
        return False
    try:
        import bitsandbytes as bnb
    except ImportError:
        if config.qlora == "on":
            raise TrainError("qlora = \"on\" needs bitsandbytes; fix: pip install 'bitsandbytes>=0.50'") from None
        return False
    if not cuda and not _cpu_qlora(bnb):
        raise TrainError(f"qlora = \"on\" without a CUDA GPU needs bitsandbytes' CPU backend (0.50 or later; "
                         f"this is {getattr(bnb, '__version__', '?')}); use \"auto\" or \"off\" on CPU")
    return True


def four_bit_layers(model: Any) -> int:
    """How many of the model's linear layers hold 4-bit (bitsandbytes) weights."""
    return sum(type(m).__name__ == "Linear4bit" and m.__module__.startswith("bitsandbytes")
               for m in model.modules())


def _dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": [r["input_ids"] for r in rows], "labels": [r["labels"] for r in rows]})


def _trainer_class(plain_loss: bool):
    """trl's SFTTrainer, or one that takes the loss from the model's own forward.

    trl replaces the LM head with a fused one that projects onto the vocabulary in fp32
    chunks (to give its entropy and token-accuracy metrics without keeping the logits).
    On a CPU under bf16 autocast that fp32 projection (49,152 x 576 for SmolLM2) costs as
    much as the 30 layers in bf16: ``plain_loss`` computes transformers' causal-LM loss on
    the logits instead (the same masked mean over assistant tokens), without those metrics.
    """
    from transformers import Trainer
    from trl import SFTTrainer

    if not plain_loss:
        return SFTTrainer

    class PlainLossTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return PlainLossTrainer


def last_checkpoint(config: Config) -> Path:
    """The newest ``checkpoint-N`` under ``output_dir/checkpoints`` (weights, optimizer, schedule, RNG)."""
    checkpoints = config.out / "checkpoints"
    found = []
    if checkpoints.is_dir():
        for path in checkpoints.glob("checkpoint-*"):
            step = path.name.removeprefix("checkpoint-")
            if step.isdigit() and (path / "trainer_state.json").is_file():
                found.append((int(step), path))
    if not found:
        raise TrainError(f"nothing to resume: no checkpoint in {checkpoints}; run `alsate-train fit` without --resume")
    return max(found)[1]


def select_train_rows(rows: list[dict[str, Any]], config: Config) -> tuple[list[dict[str, Any]], int | None]:
    """With ``train_files``: their train rows, plus ``replay`` times as many of the others (seeded);
    returns the rows and how many are from ``train_files`` (None without it)."""
    if not config.train_files:
        return rows, None
    wanted = set(config.train_files)
    focus = [r for r in rows if r.get("file") in wanted]
    if not focus:
        raise TrainError(f"train_files {sorted(wanted)} have no example in the train split "
                         f"(files there: {', '.join(sorted({str(r.get('file')) for r in rows}))})")
    others = [r for r in rows if r.get("file") not in wanted]
    rng = random.Random(config.seed)
    replay = rng.sample(others, min(len(others), round(config.replay * len(focus))))
    return focus + replay, len(focus)


def start_from_adapter(model: Any, config: Config) -> Any:
    """``model`` with the trainable LoRA adapter ``config.init_adapter`` (a PEFT directory or a GGUF LoRA)."""
    from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict

    path = Path(config.init_adapter).expanduser()
    if path.is_dir():
        if not (path / "adapter_config.json").is_file():
            raise TrainError(f"init_adapter {path} is a directory without adapter_config.json (a PEFT adapter)")
        return PeftModel.from_pretrained(model, str(path), is_trainable=True)
    if not path.is_file():
        raise TrainError(f"init_adapter not found: {path} (a PEFT adapter directory or a GGUF LoRA file)")
    import torch
    from alsate.train.export import gguf_to_adapter

    read = gguf_to_adapter(path, model.config.to_dict())
    lora = LoraConfig(r=read.rank, lora_alpha=read.alpha, lora_dropout=config.lora_dropout,
                      target_modules=read.target_modules, bias="none", task_type="CAUSAL_LM")
    peft = get_peft_model(model, lora)
    state = {f"base_model.model.{k}": torch.from_numpy(v) for k, v in read.weights.items()}
    result = set_peft_model_state_dict(peft, state)
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing or result.unexpected_keys:
        raise TrainError(f"init_adapter {path.name} does not fit the base model: "
                         f"{len(missing)} LoRA tensors missing, {len(result.unexpected_keys)} unexpected")
    return peft


def run_fit(config: Config, *, bf16: bool | None = None, resume: bool = False) -> FitResult:
    """Train the LoRA adapter on ``output_dir/data`` (run :func:`run_data` first) into ``output_dir/adapter``.

    ``resume`` goes on from the newest checkpoint: its weights, optimizer state, step and
    RNG; the schedule is rebuilt from the config, so a larger ``max_steps`` or ``epochs``
    extends a finished run (the cosine rate picks up where the new schedule has it).
    """
    import torch
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import EarlyStoppingCallback, set_seed
    from trl import SFTConfig

    data_dir = config.out / DATA_DIR
    train_rows = read_jsonl(data_dir / "train.jsonl")
    eval_rows = read_jsonl(data_dir / "validation.jsonl")
    if not train_rows:
        raise TrainError(f"{data_dir / 'train.jsonl'} is empty; run `alsate-train data` with a larger dataset")
    train_rows, focus = select_train_rows(train_rows, config)
    resume_from = str(last_checkpoint(config)) if resume else None
    if config.eval_max_examples > 0:
        eval_rows = eval_rows[: config.eval_max_examples]
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)

    base = resolve_base(config.base_model)
    qlora = use_qlora(config)
    tokenizer = load_tokenizer(base)
    model = load_model(base, qlora=qlora)
    if qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    model.config.use_cache = False
    layers = None
    if config.lora_top_layers > 0:
        total = int(model.config.num_hidden_layers)
        layers = list(range(max(0, total - config.lora_top_layers), total))
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), layers_to_transform=layers,
                      bias="none", task_type="CAUSAL_LM")
    if config.init_adapter:
        model, lora = start_from_adapter(model, config), None
    optim = config.optim if config.optim != "auto" else ("paged_adamw_32bit" if qlora else "adamw_torch")
    cuda = torch.cuda.is_available()
    if bf16 is None and config.bf16 != "auto":
        bf16 = config.bf16 == "on"
    if bf16 is None:
        # Off on CPU unless asked: a CPU without AMX or AVX-512 BF16 gains nothing from it.
        bf16 = qlora or (cuda and torch.cuda.is_bf16_supported())
    if config.wandb:
        os.environ.setdefault("WANDB_PROJECT", config.wandb_project)
    checkpoints = config.out / "checkpoints"
    has_eval = bool(eval_rows)
    args = SFTConfig(
        output_dir=str(checkpoints),
        seed=config.seed,
        data_seed=config.seed,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler,
        weight_decay=config.weight_decay,
        optim=optim,
        bf16=bool(bf16),
        use_cpu=not cuda,
        max_length=config.max_seq,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        report_to=["wandb"] if config.wandb else [],
        disable_tqdm=True,
        dataloader_num_workers=0,
        gradient_checkpointing=qlora,
        remove_unused_columns=False,
    )
    callbacks = [_progress_callback()]
    if config.max_minutes > 0:
        callbacks.append(_time_limit_callback(config.max_minutes))
    if has_eval and config.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    trainer = _trainer_class(plain_loss=bool(bf16) and not cuda)(
        model=model,
        args=args,
        train_dataset=_dataset(train_rows),
        eval_dataset=_dataset(eval_rows) if has_eval else None,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=callbacks,
    )
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.monotonic() - started
    adapter_dir = config.out / ADAPTER_DIR
    main_process = trainer.is_world_process_zero()
    if main_process:
        trainer.model.save_pretrained(str(adapter_dir))
        tokenizer.save_pretrained(str(adapter_dir))
    history = [dict(h) for h in trainer.state.log_history]
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    result = FitResult(
        adapter_dir=adapter_dir,
        steps=trainer.state.global_step,
        train_loss_first=losses[0] if losses else None,
        train_loss_last=losses[-1] if losses else None,
        eval_loss_best=min(evals) if evals else None,
        seconds=seconds,
        history=history,
    )
    meta = {"base": base.label, "base_kind": base.kind, "init_adapter": config.init_adapter or None,
            "train_examples": len(train_rows), "focus_examples": focus, "qlora": qlora, "four_bit_layers": four_bit_layers(model),
            "device": "cuda" if cuda else "cpu", "bf16": bool(bf16), "optim": optim,
            "world_size": trainer.args.world_size, "config": config.to_json(), **result.to_json()}
    if main_process:
        (config.out / "fit.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    return result


def pad_batch(rows: list[dict[str, Any]], width: int | None = None) -> tuple[Any, Any, Any]:
    """Tokenised rows as right-padded ``(input_ids, labels, attention_mask)`` tensors (labels -100 on padding)."""
    import torch

    width = width or max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        labels[i, :n] = torch.tensor(r["labels"])
        mask[i, :n] = 1
    return ids, labels, mask


def mean_loss(model: Any, rows: list[dict[str, Any]], *, batch_size: int = 2) -> float:
    """Mean token loss of ``model`` on tokenised rows (labels -100 ignored); used by tests and reports."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            ids, labels, mask = pad_batch(rows[start:start + batch_size])
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            shift = logits[:, :-1].reshape(-1, logits.size(-1))
            target = labels[:, 1:].reshape(-1)
            loss = torch.nn.functional.cross_entropy(shift, target, ignore_index=-100, reduction="sum")
            total += float(loss)
            count += int((target != -100).sum())
    return total / count if count else math.nan
