"""The base model to fine-tune: a GGUF file (default: the embedded SmolLM2), a HF directory or a hub id.

A GGUF base is dequantised by transformers (``gguf_file=``) into fp32 weights,
which takes a minute for the embedded model; the result is kept as a plain HF
directory in the cache (``$ALSATE_TRAIN_CACHE``, else ``$ALSATE_CACHE_DIR/train-base/``,
keyed by the file's name, size and mtime) so later runs load it in seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.train.errors import TrainError


@dataclass(frozen=True)
class BaseModel:
    """Where the base model comes from; ``gguf`` is set when llama.cpp can load it too."""

    ref: str  # what the user named (path or hub id)
    kind: str  # "gguf", "dir" or "hub"
    gguf: Path | None

    @property
    def label(self) -> str:
        return self.gguf.name if self.gguf else self.ref


def resolve_base(ref: str = "") -> BaseModel:
    """Check the base model reference; one-line :class:`TrainError` when it cannot be used."""
    if not ref:
        from alsate.engine.llm.models import ModelError, embedded_model_path

        try:
            return BaseModel("embedded", "gguf", embedded_model_path())
        except ModelError as exc:
            raise TrainError(f"base model: {exc}") from None
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" or path.is_file():
        if not path.is_file():
            raise TrainError(f"base model not found: {path}")
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise TrainError(f"base model {path} is not a GGUF file")
        return BaseModel(str(path), "gguf", path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainError(f"base model directory {path} has no config.json (not a Hugging Face model)")
        return BaseModel(str(path), "dir", None)
    if ref.startswith((".", "/", "~")) or ref.count("/") != 1:
        raise TrainError(f"base model not found: {ref} (a .gguf file, a model directory or a hub id owner/name)")
    return BaseModel(ref, "hub", None)


def cache_dir() -> Path:
    root = os.environ.get("ALSATE_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("alsate"))


def _converted_dir(gguf: Path) -> Path:
    stat = gguf.stat()
    root = Path(os.environ["ALSATE_TRAIN_CACHE"]).expanduser() if os.environ.get("ALSATE_TRAIN_CACHE") else (
        cache_dir() / "train-base")
    return root / f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def hf_directory(base: BaseModel, *, quiet: bool = True) -> str:
    """A path or hub id ``from_pretrained`` loads, converting a GGUF base once into the cache."""
    if base.kind != "gguf":
        return base.ref
    assert base.gguf is not None
    target = _converted_dir(base.gguf)
    if (target / "config.json").is_file() and (target / "tokenizer.json").is_file():
        return str(target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base.gguf.parent), gguf_file=base.gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(base.gguf.parent), gguf_file=base.gguf.name,
                                                     dtype="float32")
    except Exception as exc:  # transformers says why (unsupported architecture or quantisation)
        raise TrainError(f"transformers cannot load {base.gguf}: {str(exc).splitlines()[0]}") from None
    # The loaded model remembers it came from GGUF and refuses to save; copy its
    # (dequantised) weights into a plain model of the same config.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict())
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        partial.rename(target)
    except OSError:  # another process finished first
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return str(target)


def load_tokenizer(base: BaseModel) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(hf_directory(base))
    except TrainError:
        raise
    except Exception as exc:
        raise TrainError(f"cannot load the tokenizer of {base.label}: {str(exc).splitlines()[0]}") from None
    if not tokenizer.chat_template:
        raise TrainError(f"the base model {base.label} has no chat template; use an instruct model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(base: BaseModel, *, qlora: bool = False) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if qlora:
        from transformers import BitsAndBytesConfig

        kwargs = {
            "quantization_config": BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16,
            ),
            "dtype": torch.bfloat16,
            # bitsandbytes >= 0.50 also quantises, computes and steps QLoRA on CPU (fit's qlora = "on")
            "device_map": {"": 0 if torch.cuda.is_available() else "cpu"},
        }
    try:
        return AutoModelForCausalLM.from_pretrained(hf_directory(base), **kwargs)
    except TrainError:
        raise
    except Exception as exc:
        raise TrainError(f"cannot load the base model {base.label}: {str(exc).splitlines()[0]}") from None
