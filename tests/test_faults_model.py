"""Model faults: a missing, foreign, truncated or corrupt GGUF model or adapter, and the model running out
of memory. Each is one line naming the path and the fix, a non-zero exit, never a traceback or a crash;
`alsate scan` never needs the model and keeps working.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
from pathlib import Path

import pytest
from alsate.engine.llm.gguf import gguf_problem
from alsate.engine.llm.models import embedded_lora_path, embedded_model_path
from conftest import alsate_command, run_alsate

LINE = "May  1 00:00:01 web1 app[1]: ERROR cannot write /var/lib/app/state: No space left on device\n"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_text(LINE)
    return path


def explain(log: Path, *args: str, env: dict[str, str] | None = None, limit_as: int | None = None):
    """`alsate explain` in a subprocess (optionally under an address-space limit)."""
    def limit() -> None:
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run([*alsate_command(), "explain", str(log), "-p", "all", "--no-cache", "--max-tokens", "8",
                           *args], capture_output=True, timeout=240, env={**os.environ, **(env or {})},
                          preexec_fn=limit)


def one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 3, (result.returncode, err)  # ModelError, not a crash (-11) or a bug (70)
    assert err.count("\n") == 1 and err.startswith("alsate: ") and "Traceback" not in err, err
    assert "fix:" in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Damaged copies of the real model and adapter."""
    where = tmp_path_factory.mktemp("damaged")
    model = embedded_model_path().read_bytes()
    adapter = embedded_lora_path().read_bytes()
    rng = random.Random(11)
    files = {
        "text": b"not a model at all\n",
        "random": b"GGUF" + bytes(rng.randrange(256) for _ in range(5000)),
        "model-cut": model[: len(model) // 3],
        "adapter-cut": adapter[: len(adapter) - 4096],
        "adapter-random-header": b"GGUF\x03\x00\x00\x00" + bytes(rng.randrange(256) for _ in range(4000)),
    }
    flipped = bytearray(adapter)
    for _ in range(8):
        flipped[rng.randrange(24, 2048)] ^= 0xFF
    files["adapter-flipped"] = bytes(flipped)
    paths = {}
    for name, data in files.items():
        paths[name] = where / f"{name}.gguf"
        paths[name].write_bytes(data)
    return paths


def test_missing_model_is_one_line_and_scan_still_works(log: Path, tmp_path: Path):
    missing = tmp_path / "gone.gguf"
    one_line_error(explain(log, "--model", str(missing)), str(missing), "model file not found")
    one_line_error(explain(log, env={"ALSATE_MODEL": str(missing)}), "from ALSATE_MODEL")
    scan = run_alsate("scan", str(log), env={"ALSATE_MODEL": str(missing)})
    assert scan.returncode == 0 and b"No space left on device" in scan.stdout and not scan.stderr


@pytest.mark.parametrize("name", ["text", "random", "model-cut"])
def test_corrupt_model_is_one_line(log: Path, damaged: dict[str, Path], name: str):
    one_line_error(explain(log, "--model", str(damaged[name])), str(damaged[name]))


@pytest.mark.parametrize("name", ["random", "adapter-cut", "adapter-random-header", "adapter-flipped"])
def test_corrupt_adapter_is_one_line_not_a_crash(log: Path, damaged: dict[str, Path], name: str):
    """A damaged LoRA adapter used to load in llama.cpp and crash the process (SIGSEGV) on the first token."""
    path = damaged[name]
    problem = gguf_problem(path, adapter=True) if path.read_bytes()[:4] == b"GGUF" else "bad header"
    if name == "adapter-flipped" and problem is None:
        pytest.fail("the flipped bytes missed every checked field: pick another seed")
    one_line_error(explain(log, "--lora", str(path)), str(path), "adapter")


def test_a_model_given_as_the_adapter_is_refused(log: Path):
    model = embedded_model_path()
    one_line_error(explain(log, "--lora", str(model)), "not a LoRA adapter (general.type: model)")


def test_the_shipped_model_and_adapter_pass_the_check():
    assert gguf_problem(embedded_model_path()) is None
    assert gguf_problem(embedded_lora_path(), adapter=True) is None


def test_model_out_of_memory_is_one_line(log: Path):
    """A context that cannot be allocated (1M tokens under a 2 GB address-space limit): one line, exit 3."""
    one_line_error(explain(log, "--ctx", "1000000", limit_as=2 << 30), str(embedded_model_path()))


def test_model_out_of_memory_says_memory_and_how_to_fix_it(log: Path):
    err = one_line_error(explain(log, "--ctx", "1000000", limit_as=2 << 30))
    assert "memory" in err and "--ctx" in err


def test_a_retrained_adapter_is_a_new_model_for_the_caches(tmp_path: Path):
    """The analysis cache is keyed by model_id: an adapter rebuilt under the same name and size (a new
    training run of the same shape) must not reuse the old adapter's cached answers."""
    import shutil

    from alsate.engine.llm.models import ModelSpec

    adapter = tmp_path / "smollm2-135m-alsate.gguf"
    shutil.copyfile(embedded_lora_path(), adapter)
    first = ModelSpec(embedded_model_path(), "embedded", adapter).model_id
    assert first == ModelSpec(embedded_model_path(), "embedded", adapter).model_id  # stable
    data = bytearray(adapter.read_bytes())
    data[-1] ^= 0xFF  # same name, same size, other weights
    adapter.write_bytes(bytes(data))
    second = ModelSpec(embedded_model_path(), "embedded", adapter).model_id
    assert second != first and second.split("+")[1].split(":")[0] == adapter.name
