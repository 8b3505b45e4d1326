"""Adapter soups: a weighted sum of GGUF LoRA adapters of one base model, as one GGUF LoRA adapter.

Adapter ``i`` changes a weight by ``s_i * B_i @ A_i`` (``s_i = alpha_i / r_i``). The soup
with weights ``w_i`` changes it by ``sum_i w_i * s_i * B_i @ A_i``, which is exactly one
LoRA of rank ``sum_i r_i``: A stacked, B side by side with each block scaled by
``w_i * s_i``, and ``alpha`` equal to that rank (scale 1). Nothing is averaged
parameter by parameter (averaging A and B separately is not averaging the changes).
The q/k row permutation of llama-architecture GGUF adapters acts on B's rows, so
it commutes with both steps and the tensors are combined as they are stored.

``rank`` shrinks the result to the best rank-``rank`` approximation of each change
(truncated SVD through the QR factors of the stacked A and B, never forming the full
matrix); the share of the change's energy kept is reported per tensor.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsate.train.errors import TrainError
from alsate.train.export import _tensor_order, open_lora_gguf, tensor_array, write_lora_gguf

_SPEC = re.compile(r"^(?P<path>.+?)(?::(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?$")
_TENSOR = re.compile(r"^(?P<weight>blk\.\d+\.\w+\.weight)\.lora_(?P<ab>[ab])$")


@dataclass
class Ingredient:
    path: Path
    weight: float


@dataclass
class _Adapter:
    path: Path
    architecture: str
    rank: int
    alpha: float
    pairs: dict[str, tuple[Any, Any]]  # GGUF weight name -> (A (r, in), B (out, r)), fp32


def parse_ingredients(specs: list[str]) -> list[Ingredient]:
    """``PATH[:WEIGHT]`` each; adapters without a weight share what the weighted ones leave of 1."""
    if not specs:
        raise TrainError("a soup needs at least one adapter (PATH.gguf[:WEIGHT])")
    parsed: list[tuple[Path, float | None]] = []
    for spec in specs:
        m = _SPEC.match(spec)
        path = Path(m.group("path")).expanduser() if m else Path(spec)
        weight = float(m.group("weight")) if m and m.group("weight") else None
        parsed.append((path, weight))
    unweighted = [p for p, w in parsed if w is None]
    left = 1.0 - sum(w for _, w in parsed if w is not None)
    if unweighted and left <= 0:
        raise TrainError(f"the given weights already sum to {1.0 - left:g}: give every adapter a weight")
    share = left / len(unweighted) if unweighted else 0.0
    out = [Ingredient(p, share if w is None else w) for p, w in parsed]
    if all(i.weight == 0 for i in out):
        raise TrainError("every weight is 0: the soup would change nothing")
    return out


def _read(path: Path) -> _Adapter:

    reader, field = open_lora_gguf(path)
    halves: dict[str, dict[str, Any]] = {}
    for tensor in reader.tensors:
        m = _TENSOR.match(tensor.name)
        if not m:
            raise TrainError(f"{path.name}: tensor {tensor.name!r} is not a LoRA A/B of a decoder layer")
        value = tensor_array(tensor)
        halves.setdefault(m.group("weight"), {})[m.group("ab")] = value
    pairs: dict[str, tuple[Any, Any]] = {}
    ranks: set[int] = set()
    for name, half in halves.items():
        if set(half) != {"a", "b"}:
            raise TrainError(f"{path.name}: {name} lacks its lora_{'b' if 'a' in half else 'a'}")
        a, b = half["a"], half["b"]
        if a.shape[0] != b.shape[1]:
            raise TrainError(f"{path.name}: {name} has lora_a of rank {a.shape[0]} and lora_b of rank {b.shape[1]}")
        ranks.add(a.shape[0])
        pairs[name] = (a, b)
    if not pairs or len(ranks) != 1:
        raise TrainError(f"{path} has no LoRA tensors of one rank")
    rank = ranks.pop()
    alpha = field("adapter.lora.alpha")
    return _Adapter(path, str(field("general.architecture")), rank, float(alpha) if alpha else float(rank), pairs)


def _truncate(a: Any, b: Any, rank: int) -> tuple[Any, Any, float]:
    """Best rank-``rank`` factors of ``b @ a`` and the share of its squared Frobenius norm they keep."""
    import numpy as np

    qb, rb = np.linalg.qr(b.astype(np.float64))        # b = qb rb
    qa, ra = np.linalg.qr(a.T.astype(np.float64))      # a = ra.T qa.T
    u, s, vt = np.linalg.svd(rb @ ra.T)                # b a = qb (u s vt) qa.T
    total = float((s ** 2).sum())
    k = min(rank, len(s))
    root = np.sqrt(s[:k])
    new_b = (qb @ u[:, :k]) * root
    new_a = (root[:, None] * vt[:k]) @ qa.T
    kept = float((s[:k] ** 2).sum()) / total if total > 0 else 1.0
    return new_a.astype(np.float32), new_b.astype(np.float32), kept


def make_soup(ingredients: list[Ingredient], out_path: str | Path, *, rank: int = 0, dtype: str = "f16",
              name: str = "alsate-soup") -> dict[str, Any]:
    """Write the soup of ``ingredients`` to ``out_path``; returns what was written."""
    import numpy as np

    out_path = Path(out_path).expanduser()
    if rank < 0:
        raise TrainError(f"--rank must be positive (or 0 to keep the summed rank), not {rank}")
    if dtype not in ("f16", "f32"):
        raise TrainError(f"adapter dtype must be f16 or f32, not {dtype!r}")
    adapters = [_read(i.path) for i in ingredients]
    if any(out_path.resolve() == a.path.resolve() for a in adapters):
        raise TrainError(f"{out_path} is one of the ingredients: write the soup to another file")
    arches = {a.architecture for a in adapters}
    if len(arches) != 1:
        raise TrainError("the adapters are for different architectures: "
                         + ", ".join(f"{a.path.name} {a.architecture}" for a in adapters))
    names = sorted({n for a in adapters for n in a.pairs}, key=_tensor_order)
    blocks: dict[str, list[tuple[Any, Any]]] = {n: [] for n in names}
    for ingredient, adapter in zip(ingredients, adapters, strict=True):
        scale = ingredient.weight * adapter.alpha / adapter.rank
        for n, (a, b) in adapter.pairs.items():
            first = blocks[n][0] if blocks[n] else None
            if first is not None and (first[0].shape[1], first[1].shape[0]) != (a.shape[1], b.shape[0]):
                raise TrainError(f"{adapter.path.name}: {n} is {b.shape[0]}x{a.shape[1]}, other adapters' "
                                 f"{first[1].shape[0]}x{first[0].shape[1]}: not adapters of one base model")
            blocks[n].append((a, b * scale))
    tensors: list[tuple[str, Any, Any]] = []
    kept: list[float] = []
    for n in names:
        a = np.vstack([blk[0] for blk in blocks[n]])
        b = np.hstack([blk[1] for blk in blocks[n]])
        if rank and rank < a.shape[0]:
            a, b, share = _truncate(a, b, rank)
            kept.append(share)
        tensors.append((n, a, b))
    out_rank = max(a.shape[0] for _, a, _ in tensors)
    # adapters that target different weights leave some lower in rank: pad them with zero rows / columns
    tensors = [(n, np.pad(a, ((0, out_rank - a.shape[0]), (0, 0))), np.pad(b, ((0, 0), (0, out_rank - b.shape[1]))))
               for n, a, b in tensors]
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_lora_gguf(tmp, arches.pop(), float(out_rank), tensors, dtype=dtype, name=name)
        tmp.replace(out_path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise TrainError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    report: dict[str, Any] = {
        "path": str(out_path), "bytes": out_path.stat().st_size, "rank": out_rank, "alpha": float(out_rank),
        "dtype": dtype, "tensors": 2 * len(tensors),
        "ingredients": [{"path": str(i.path), "weight": i.weight, "rank": a.rank, "alpha": a.alpha}
                        for i, a in zip(ingredients, adapters, strict=True)],
    }
    if kept:
        report["energy_kept"] = {"min": min(kept), "mean": sum(kept) / len(kept)}
    return report


#: Files that are one adapter in exact arithmetic and rounded differently by llama.cpp: (name, the
#: weights of the adapter's copies, which sum to 1; whether the sum is re-factored to the adapter's
#: own rank; the dtype written). In this order ``equal_copies`` makes them. Re-factoring gives the
#: SVD factors of the change however it was split, so there is one re-factored file per dtype.
EQUAL_RECIPES: tuple[tuple[str, tuple[float, ...], bool, str], ...] = (
    ("f32", (1.0,), False, "f32"),
    ("halves", (0.5, 0.5), False, "f16"),
    ("refactored", (0.5, 0.5), True, "f16"),
    ("thirds", (1 / 3, 1 / 3, 1 / 3), False, "f16"),
    ("quarters", (0.25, 0.75), False, "f16"),
    ("refactored-f32", (0.5, 0.5), True, "f32"),
)


def check_roundings(count: int) -> None:
    """How many equal files ``eval --roundings`` can make: 1 to ``len(EQUAL_RECIPES)``."""
    if not 1 <= count <= len(EQUAL_RECIPES):
        raise TrainError(f"--roundings takes 1 to {len(EQUAL_RECIPES)} equal files, not {count}")


def equal_copies(adapter: str | Path, out_dir: str | Path, count: int) -> list[tuple[str, Path]]:
    """``count`` files in ``out_dir`` that change every weight exactly as ``adapter`` does (``EQUAL_RECIPES``):
    scoring them beside it shows how far its score moves with rounding alone. They are the bytes
    ``alsate-train soup`` writes for the same recipe (an eval's cached answers to those are reused);
    files already there from the same adapter are reused."""
    check_roundings(count)
    adapter = Path(adapter).expanduser()
    rank = _read(adapter).rank
    out_dir = Path(out_dir).expanduser()
    with adapter.open("rb") as handle:
        stamp = f"{adapter.stem}-{hashlib.file_digest(handle, 'sha256').hexdigest()[:12]}"
    made = []
    for name, weights, refactor, dtype in EQUAL_RECIPES[:count]:
        path = out_dir / f"{stamp}.{name}.gguf"
        if not path.is_file():
            make_soup([Ingredient(adapter, w) for w in weights], path, rank=rank if refactor else 0, dtype=dtype)
        made.append((name, path))
    return made
