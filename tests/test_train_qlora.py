"""`alsate-train fit` from a Hugging Face directory, with plain LoRA and with QLoRA.

The base is a tiny random Llama written to a directory (a tokenizer with a chat
template beside it), so the test needs no download and runs in seconds. With
``qlora = "off"`` it checks the directory path of ``load_model`` and plain
LoRA; with ``qlora = "on"`` the same run goes through QLoRA (NF4, double
quantisation, ``paged_adamw_32bit``, gradient checkpointing): on a CUDA GPU
where there is one, else on CPU through bitsandbytes' CPU backend (the
``[train]`` extra installs it). The QLoRA-trained adapter must also lower the
loss of the full-precision base, which is what ``export`` merges it into.
"""

from __future__ import annotations

import json

import pytest
from tiny_llama import rows as _rows
from tiny_llama import tiny_base as _tiny_base

pytest.importorskip("trl")
pytest.importorskip("peft")


@pytest.mark.parametrize(("qlora", "bf16"), [("off", "auto"), ("on", "auto"), ("off", "on")])
def test_fit_from_a_model_directory_lowers_the_loss(tmp_path, qlora, bf16):
    import torch

    if qlora == "on":
        pytest.importorskip("bitsandbytes")
    from alsate.train.base import load_model, resolve_base
    from alsate.train.config import load_config
    from alsate.train.fit import mean_loss, run_fit
    from peft import PeftModel

    base = tmp_path / "base"
    _tiny_base(base)
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    for name, rows in (("train", _rows(32, 1)), ("validation", _rows(8, 2))):
        (out / "data" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config_file = tmp_path / "tiny.toml"
    config_file.write_text(f"""
base_model = "{base}"
output_dir = "{out}"
qlora = "{qlora}"
bf16 = "{bf16}"
max_steps = 20
batch_size = 4
grad_accum = 1
learning_rate = 2e-2
warmup_ratio = 0.0
eval_steps = 10
logging_steps = 1
""")
    result = run_fit(load_config(config_file))
    fit = json.loads((out / "fit.json").read_text())
    assert fit["qlora"] is (qlora == "on")
    assert fit["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    # 2 layers x 7 projections in NF4 under QLoRA, none without
    assert fit["four_bit_layers"] == (14 if qlora == "on" else 0)
    assert fit["optim"] == ("paged_adamw_32bit" if qlora == "on" else "adamw_torch")
    # bf16 autocast: under QLoRA and on CUDA by default; asked for (bf16 = "on"), plain LoRA on CPU too
    assert fit["bf16"] is (qlora == "on" or bf16 == "on" or torch.cuda.is_available())
    assert result.steps == 20
    assert result.train_loss_last < result.train_loss_first - 0.5, (result.train_loss_first, result.train_loss_last)
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    # the adapter on the full-precision base (what export merges and converts) lowers its loss too
    rows = _rows(8, 3)
    full = resolve_base(str(base))
    plain = mean_loss(load_model(full), rows)
    tuned = mean_loss(PeftModel.from_pretrained(load_model(full), str(out / "adapter")), rows)
    assert tuned < plain - 0.5, (plain, tuned)


def test_qlora_on_without_bitsandbytes_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    from alsate.train.config import load_config
    from alsate.train.errors import TrainError
    from alsate.train.fit import use_qlora

    config_file = tmp_path / "q.toml"
    config_file.write_text('qlora = "on"\n')
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails as if not installed
    with pytest.raises(TrainError, match="needs bitsandbytes; fix: pip install"):
        use_qlora(load_config(config_file))
    config_file.write_text('qlora = "auto"\n')
    assert use_qlora(load_config(config_file)) is False


def test_qlora_on_cpu_with_a_bitsandbytes_that_cannot_is_a_clear_error(tmp_path, monkeypatch):
    import torch

    pytest.importorskip("bitsandbytes")
    if torch.cuda.is_available():
        pytest.skip("with CUDA, qlora = \"on\" does not need the CPU backend")
    from alsate.train import fit
    from alsate.train.config import load_config
    from alsate.train.errors import TrainError

    config_file = tmp_path / "q.toml"
    config_file.write_text('qlora = "on"\n')
    assert fit.use_qlora(load_config(config_file)) is True  # this bitsandbytes does QLoRA on CPU
    monkeypatch.setattr(fit, "_cpu_qlora", lambda bnb: False)  # as an older one (0.49 and before) answers
    with pytest.raises(TrainError, match="needs bitsandbytes' CPU backend"):
        fit.use_qlora(load_config(config_file))
