"""Export: the PEFT LoRA adapter as a GGUF LoRA adapter llama.cpp loads (``lora_path=``),
a fidelity check against the torch model, and optionally the merged model as GGUF.

GGUF LoRA layout (what llama.cpp's ``llama_adapter_lora_init`` reads):
``general.type = "adapter"``, ``adapter.type = "lora"``, ``adapter.lora.alpha``
(f32), ``general.architecture`` equal to the base model's; per adapted weight
``blk.N.<tensor>.weight.lora_a`` (numpy shape ``(r, in)``, PEFT's A as is) and
``.lora_b`` (``(out, r)``, PEFT's B). For the llama architecture llama.cpp
stores ``attn_q``/``attn_k`` with their rows permuted for its rotary
embedding, so B's rows are permuted the same way (A is unchanged).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.train.errors import TrainError

#: HF module path (inside a decoder layer) -> llama.cpp tensor name.
_TENSOR_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
#: HF model_type -> (GGUF architecture, whether q/k rows are permuted).
_ARCHS = {"llama": ("llama", True), "mistral": ("llama", True), "qwen2": ("qwen2", False),
          "qwen3": ("qwen3", False)}
_PEFT_NAME = re.compile(r"(?:.*\.)?layers\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def _permute_rows(rows: Any, n_head: int) -> Any:
    """llama.cpp's rotary row order: per head, interleave the two halves of the head's rows."""
    out = rows.shape[0]
    return rows.reshape(n_head, 2, out // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _read_adapter(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    config_path = adapter_dir / "adapter_config.json"
    weights_path = adapter_dir / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise TrainError(f"no PEFT adapter in {adapter_dir} (adapter_config.json + adapter_model.safetensors); "
                         "run `alsate-train fit` first")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("use_dora") or config.get("use_rslora"):
        raise TrainError("DoRA / rsLoRA adapters cannot be exported to GGUF LoRA")
    from safetensors.numpy import load_file

    return config, load_file(str(weights_path))


def write_lora_gguf(out_path: Path, arch: str, alpha: float, tensors: list[tuple[str, Any, Any]], *,
                    dtype: str, name: str) -> None:
    """Write a GGUF LoRA adapter: ``tensors`` are (GGUF weight name, A ``(r, in)``, B ``(out, r)``) in file
    order, stored as ``dtype`` (f16 or f32)."""
    import gguf
    import numpy as np

    np_dtype = np.float16 if dtype == "f16" else np.float32
    writer = gguf.GGUFWriter(str(out_path), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_name(name)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for tensor_name, a, b in tensors:
        writer.add_tensor(f"{tensor_name}.lora_a", np.ascontiguousarray(a.astype(np_dtype)))
        writer.add_tensor(f"{tensor_name}.lora_b", np.ascontiguousarray(b.astype(np_dtype)))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()


def tensor_array(tensor: Any) -> Any:
    """A ``GGUFReader`` tensor as an fp32 numpy array in numpy's (row-major) shape."""
    import numpy as np

    return np.array(tensor.data, dtype=np.float32).reshape([int(x) for x in reversed(tensor.shape)])


def adapter_to_gguf(adapter_dir: str | Path, out_path: str | Path, base_config: dict[str, Any], *,
                    dtype: str = "f16", name: str = "alsate") -> dict[str, Any]:
    """Write ``out_path`` from the PEFT adapter in ``adapter_dir``; returns what was written."""
    import numpy as np

    adapter_dir, out_path = Path(adapter_dir), Path(out_path)
    lcfg, weights = _read_adapter(adapter_dir)
    model_type = base_config.get("model_type", "")
    if model_type not in _ARCHS:
        raise TrainError(f"GGUF LoRA export supports {', '.join(sorted(_ARCHS))} models, not {model_type!r}")
    arch, permute = _ARCHS[model_type]
    n_head = int(base_config["num_attention_heads"])
    n_head_kv = int(base_config.get("num_key_value_heads") or n_head)
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
        m = _PEFT_NAME.match(key)
        if not m:
            raise TrainError(f"adapter tensor {key!r} is not a LoRA A/B of a decoder layer "
                             "(embeddings or lm_head in the adapter cannot be exported)")
        layer, module, ab = int(m.group(1)), m.group(2), m.group(3)
        if module not in _TENSOR_NAMES:
            raise TrainError(f"adapter targets {module!r}, which has no llama.cpp tensor name here")
        pairs.setdefault(f"blk.{layer}.{_TENSOR_NAMES[module]}.weight", {})[ab] = value
    if not pairs:
        raise TrainError(f"the adapter in {adapter_dir} has no LoRA tensors")
    tensors = []
    for tensor_name in sorted(pairs, key=_tensor_order):
        pair = pairs[tensor_name]
        if set(pair) != {"A", "B"}:
            raise TrainError(f"adapter tensor {tensor_name} lacks its lora_{'B' if 'A' in pair else 'A'}")
        a, b = pair["A"].astype(np.float32), pair["B"].astype(np.float32)
        if permute and tensor_name.endswith("attn_q.weight"):
            b = _permute_rows(b, n_head)
        elif permute and tensor_name.endswith("attn_k.weight"):
            b = _permute_rows(b, n_head_kv)
        tensors.append((tensor_name, a, b))
    rank = tensors[-1][1].shape[0]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_lora_gguf(out_path, arch, float(lcfg["lora_alpha"]), tensors, dtype=dtype, name=name)
    return {"path": str(out_path), "bytes": out_path.stat().st_size, "tensors": 2 * len(pairs),
            "rank": rank, "alpha": float(lcfg["lora_alpha"]), "architecture": arch, "dtype": dtype}


def _unpermute_rows(rows: Any, n_head: int) -> Any:
    """The inverse of :func:`_permute_rows`."""
    out = rows.shape[0]
    return rows.reshape(n_head, out // n_head // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


@dataclass
class GgufAdapter:
    """A GGUF LoRA adapter read back as PEFT tensors (``model.layers.N.<module>.lora_A/B.weight``)."""

    weights: dict[str, Any]  # fp32 numpy arrays, PEFT names without the ``base_model.model.`` prefix
    rank: int
    alpha: float
    target_modules: list[str]


def open_lora_gguf(path: Path) -> tuple[Any, Callable[[str], Any]]:
    """A ``GGUFReader`` on a GGUF LoRA adapter and a lookup of its metadata (None when absent); one-line
    :class:`TrainError` when the file is missing, unreadable or not a LoRA adapter."""
    import gguf

    if not path.is_file():
        raise TrainError(f"adapter not found: {path}")
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot read GGUF adapter {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    if field("general.type") != "adapter" or field("adapter.type") != "lora":
        raise TrainError(f"{path} is not a GGUF LoRA adapter (general.type / adapter.type)")
    return reader, field


def gguf_to_adapter(path: str | Path, base_config: dict[str, Any]) -> GgufAdapter:
    """Read a GGUF LoRA adapter (as :func:`adapter_to_gguf` writes it, or llama.cpp's converter) back
    into PEFT's layout, undoing the q/k row permutation, so training can go on from it."""

    path = Path(path).expanduser()
    reader, field = open_lora_gguf(path)
    model_type = base_config.get("model_type", "")
    arch, permute = _ARCHS.get(model_type, (None, False))
    if arch is None or field("general.architecture") != arch:
        raise TrainError(f"the adapter {path.name} is for {field('general.architecture')!r}; the base model is "
                         f"{model_type!r}")
    n_head = int(base_config["num_attention_heads"])
    n_head_kv = int(base_config.get("num_key_value_heads") or n_head)
    modules = {v: k for k, v in _TENSOR_NAMES.items()}
    weights: dict[str, Any] = {}
    ranks: set[int] = set()
    targets: set[str] = set()
    for tensor in reader.tensors:
        m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])", tensor.name)
        if not m or m.group(2) not in modules:
            raise TrainError(f"GGUF adapter tensor {tensor.name!r} is not a LoRA A/B of a decoder layer")
        layer, module, ab = int(m.group(1)), modules[m.group(2)], m.group(3).upper()
        value = tensor_array(tensor)
        if ab == "B" and permute and m.group(2) in ("attn_q", "attn_k"):
            value = _unpermute_rows(value, n_head if m.group(2) == "attn_q" else n_head_kv)
        ranks.add(value.shape[0] if ab == "A" else value.shape[1])
        targets.add(module.rsplit(".", 1)[1])
        weights[f"model.layers.{layer}.{module}.lora_{ab}.weight"] = value
    if not weights or len(ranks) != 1:
        raise TrainError(f"{path} has no LoRA tensors of one rank")
    rank, alpha = ranks.pop(), field("adapter.lora.alpha")
    return GgufAdapter(weights, rank, float(alpha) if alpha is not None else float(rank), sorted(targets))


def _tensor_order(name: str) -> tuple[int, str]:
    m = re.match(r"blk\.(\d+)\.(.*)", name)
    return (int(m.group(1)), m.group(2)) if m else (1 << 30, name)


# --- loading and fidelity ------------------------------------------------------------


def open_llama(base_gguf: Path, adapter_gguf: Path | None = None, *, n_ctx: int = 2048, threads: int = 0,
               logits_all: bool = False) -> Any:
    """``llama_cpp.Llama`` on the base GGUF, with the GGUF adapter when given (as the engine loads it, with
    the engine's sampler chain: set its ``dry`` for DRY)."""
    import os

    from alsate.engine.llm.sampling import llama_class

    Llama = llama_class()

    try:
        return Llama(model_path=str(base_gguf), lora_path=str(adapter_gguf) if adapter_gguf else None,
                     n_ctx=n_ctx, n_batch=512, n_threads=threads or os.cpu_count() or 1,
                     logits_all=logits_all, verbose=False, seed=0)
    except Exception as exc:
        what = f"{base_gguf} + {adapter_gguf}" if adapter_gguf else str(base_gguf)
        raise TrainError(f"llama.cpp cannot load {what}: {str(exc).splitlines()[0] if str(exc) else exc}") from None


@dataclass
class Fidelity:
    prompts: int
    positions: int
    agree: int
    base_positions: int
    base_agree: int

    @property
    def agreement(self) -> float:
        return self.agree / self.positions if self.positions else 0.0

    @property
    def base_agreement(self) -> float:
        return self.base_agree / self.base_positions if self.base_positions else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"prompts": self.prompts, "positions": self.positions,
                "agreement": round(self.agreement, 4),
                "base_agreement_without_adapter": round(self.base_agreement, 4)}


def _greedy_torch(model: Any, prompt_ids: list[int], n: int) -> list[int]:
    import torch

    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                             do_sample=False, pad_token_id=0)
    return out[0, len(prompt_ids):].tolist()


def _llama_argmax(llm: Any, prompt_ids: list[int], continuation: list[int]) -> list[int]:
    """llama.cpp's greedy choice at each position of ``continuation`` (teacher-forced)."""
    import numpy as np

    llm.reset()
    llm.eval(prompt_ids + continuation[:-1])
    scores = np.asarray(llm.scores[: llm.n_tokens])
    start = len(prompt_ids) - 1
    return [int(x) for x in scores[start:start + len(continuation)].argmax(axis=1)]


def fidelity_check(torch_tuned: Any, torch_base: Any | None, base_gguf: Path, adapter_gguf: Path,
                   prompts: list[list[int]], *, tokens: int = 16, threads: int = 0) -> Fidelity:
    """Greedy next-token agreement, teacher-forced on the torch model's own greedy continuation.

    For each prompt the torch model (base + PEFT adapter, fp32) generates ``tokens``
    greedy tokens; llama.cpp (GGUF base + GGUF adapter) reads prompt + those
    tokens and its argmax is compared at each position. The same is done
    without the adapter (torch base vs GGUF base) when ``torch_base`` is given:
    that number is the floor set by the base GGUF's quantisation alone.
    """
    n_ctx = max(len(p) for p in prompts) + tokens + 8
    agree, positions = _agreement(torch_tuned, base_gguf, adapter_gguf, prompts, tokens, n_ctx, threads)
    base_agree = base_positions = 0
    if torch_base is not None:
        base_agree, base_positions = _agreement(torch_base, base_gguf, None, prompts, tokens, n_ctx, threads)
    return Fidelity(len(prompts), positions, agree, base_positions, base_agree)


def _agreement(torch_model: Any, base_gguf: Path, adapter_gguf: Path | None, prompts: list[list[int]],
               tokens: int, n_ctx: int, threads: int) -> tuple[int, int]:
    """(agreeing positions, positions): llama.cpp's argmax against the torch model's greedy continuation."""
    agree = positions = 0
    llm = open_llama(base_gguf, adapter_gguf, n_ctx=n_ctx, threads=threads, logits_all=True)
    try:
        for prompt in prompts:
            cont = _greedy_torch(torch_model, prompt, tokens)
            if not cont:
                continue
            got = _llama_argmax(llm, prompt, cont)
            agree += sum(int(a == b) for a, b in zip(got, cont, strict=False))
            positions += len(cont)
    finally:
        llm.close()
    return agree, positions


# --- merged model (stretch) ------------------------------------------------------------


def merged_gguf(base_gguf: Path, adapter_dir: Path, base_config: dict[str, Any], out_f16: Path,
                out_q4: Path | None = None) -> dict[str, Any]:
    """The base GGUF with the LoRA deltas added, as F16 GGUF (and Q4_K_M through llama.cpp's quantizer).

    The base's weights are dequantised from the GGUF itself (as llama.cpp reads
    them), each adapted weight gets ``alpha/r * B @ A`` (rows permuted like the
    base for q/k), and every key-value of the base (tokenizer, chat template,
    hyperparameters) is copied over.
    """
    import gguf
    import numpy as np
    from gguf.quants import dequantize

    lcfg, weights = _read_adapter(adapter_dir)
    arch_perm = _ARCHS.get(base_config.get("model_type", ""))
    if arch_perm is None:
        raise TrainError(f"merged export supports {', '.join(sorted(_ARCHS))} models")
    _, permute = arch_perm
    n_head = int(base_config["num_attention_heads"])
    n_head_kv = int(base_config.get("num_key_value_heads") or n_head)
    scale = float(lcfg["lora_alpha"]) / float(lcfg["r"])
    deltas: dict[str, Any] = {}
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
        m = _PEFT_NAME.match(key)
        if m and m.group(2) in _TENSOR_NAMES:
            pairs.setdefault(f"blk.{m.group(1)}.{_TENSOR_NAMES[m.group(2)]}.weight", {})[m.group(3)] = value
    for name, pair in pairs.items():
        delta = scale * (pair["B"].astype(np.float32) @ pair["A"].astype(np.float32))
        if permute and name.endswith("attn_q.weight"):
            delta = _permute_rows(delta, n_head)
        elif permute and name.endswith("attn_k.weight"):
            delta = _permute_rows(delta, n_head_kv)
        deltas[name] = delta
    reader = gguf.GGUFReader(str(base_gguf))
    arch = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")
    writer = gguf.GGUFWriter(str(out_f16), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        if field.name == "general.file_type":
            writer.add_uint32(field.name, int(gguf.LlamaFileType.MOSTLY_F16))
            continue
        value = field.contents()
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_array(field.name, value) if field.types[-1] != gguf.GGUFValueType.STRING or value else None
        else:
            writer.add_key_value(field.name, value, vtype)
    for tensor in reader.tensors:
        data = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        shape = tuple(int(x) for x in reversed(tensor.shape.tolist()))
        data = data.reshape(shape)
        if tensor.name in deltas:
            data = data + deltas.pop(tensor.name)
        keep_f32 = data.ndim == 1
        writer.add_tensor(tensor.name, data if keep_f32 else data.astype(np.float16))
    if deltas:
        raise TrainError(f"base GGUF lacks tensors the adapter changes: {', '.join(sorted(deltas)[:3])}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    result: dict[str, Any] = {"f16": str(out_f16), "f16_bytes": out_f16.stat().st_size}
    if out_q4 is not None:
        quantize_gguf(out_f16, out_q4)
        result.update({"q4_k_m": str(out_q4), "q4_k_m_bytes": out_q4.stat().st_size})
    return result


def quantize_gguf(src: Path, dst: Path, ftype: str = "q4_k_m") -> None:
    """llama.cpp's own quantizer (``llama_model_quantize``), as exposed by llama-cpp-python."""
    import ctypes

    import llama_cpp

    types = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16}
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = types[ftype]
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0 or not dst.is_file():
        raise TrainError(f"llama.cpp could not quantize {src} to {ftype} (code {rc})")
