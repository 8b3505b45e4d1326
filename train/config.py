"""The training configuration: :data:`DEFAULTS_TOML` (ALSATE's hyperparameters), overridden by a TOML file."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib
from alsate.train.defaults import DEFAULTS_TOML
from alsate.train.errors import TrainError


@dataclass(frozen=True)
class Config:
    dataset: str
    profile: str
    seed: int
    split: list[float]
    frozen_split: bool
    base_model: str
    output_dir: str
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: list[str]
    lora_top_layers: int
    qlora: str
    init_adapter: str
    train_files: list[str]
    replay: float
    max_seq: int
    learning_rate: float
    epochs: float
    max_steps: int
    batch_size: int
    grad_accum: int
    group_by_length: bool
    warmup_ratio: float
    lr_scheduler: str
    weight_decay: float
    optim: str
    bf16: str
    eval_steps: int
    eval_max_examples: int
    early_stopping_patience: int
    logging_steps: int
    max_minutes: float
    threads: int
    wandb: bool
    wandb_project: str
    eval_max_new_tokens: int
    eval_limit: int
    eval_threads: int
    adapter_name: str
    adapter_dtype: str
    fidelity_prompts: int
    fidelity_tokens: int
    quantize: str
    source: list[str] = field(default_factory=list)  # files read, for the record

    @property
    def out(self) -> Path:
        return Path(self.output_dir).expanduser()

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    def with_overrides(self, **values: Any) -> Config:
        clean = {k: v for k, v in values.items() if v is not None}
        _check(clean, "command line")
        return replace(self, **clean)


def _defaults_text() -> str:
    return DEFAULTS_TOML


_NAMES = [f.name for f in fields(Config) if f.name != "source"]


def _check(values: dict[str, Any], where: str) -> None:
    defaults = tomllib.loads(_defaults_text())
    for key, value in values.items():
        if key not in defaults:
            raise TrainError(f"unknown config key {key!r} in {where}; known keys: {', '.join(_NAMES)}")
        want = type(defaults[key])
        ok = isinstance(value, want) or (want is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok or (want is int and isinstance(value, bool)):
            raise TrainError(f"config key {key!r} in {where} must be {want.__name__}, got {value!r}")
    if "split" in values and (len(values["split"]) != 3 or not all(
            isinstance(x, (int, float)) and x >= 0 for x in values["split"]) or not sum(values["split"])):
        raise TrainError(f"config key 'split' in {where} must be three non-negative numbers")
    if values.get("qlora", "auto") not in ("auto", "on", "off"):
        raise TrainError(f"config key 'qlora' in {where} must be auto, on or off")
    if values.get("bf16", "auto") not in ("auto", "on", "off"):
        raise TrainError(f"config key 'bf16' in {where} must be auto, on or off")
    if values.get("adapter_dtype", "f16") not in ("f16", "f32"):
        raise TrainError(f"config key 'adapter_dtype' in {where} must be f16 or f32")
    if values.get("quantize", "") not in ("", "q4_k_m", "f16"):
        raise TrainError(f"config key 'quantize' in {where} must be \"\", \"f16\" or \"q4_k_m\"")
    if values.get("replay", 0) < 0:
        raise TrainError(f"config key 'replay' in {where} must be 0 or more")
    if "train_files" in values and not all(isinstance(x, str) and x for x in values["train_files"]):
        raise TrainError(f"config key 'train_files' in {where} must be a list of dataset file names")
    for key in ("max_seq", "batch_size", "grad_accum", "lora_r", "eval_steps", "logging_steps"):
        if key in values and values[key] <= 0:
            raise TrainError(f"config key {key!r} in {where} must be positive")


def load_config(path: str | Path | None = None) -> Config:
    """Defaults, then the keys of ``path`` (a TOML file). Unknown keys and wrong types are errors."""
    values = tomllib.loads(_defaults_text())
    source = ["defaults.toml"]
    if path is not None:
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrainError(f"cannot read config {path}: {exc.strerror or exc}") from None
        try:
            user = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TrainError(f"config {path} is not valid TOML: {exc}") from None
        _check(user, str(path))
        values.update(user)
        source.append(str(path))
    for key in ("learning_rate", "epochs", "lora_dropout", "warmup_ratio", "weight_decay", "max_minutes", "replay"):
        values[key] = float(values[key])
    values["split"] = [float(x) for x in values["split"]]
    return Config(**values, source=source)
