"""Training goes on from an adapter (``init_adapter``): a PEFT directory, or a GGUF LoRA read back into
PEFT's layout (the shipped adapter is only kept as GGUF); and ``train_files`` + ``replay`` choose the
rows it trains on. The base is the tiny random Llama of :mod:`tiny_llama` (4 query heads, 2 key/value
heads, so the GGUF's q/k row permutation has to be undone exactly)."""

from __future__ import annotations

import json

import pytest
from tiny_llama import rows, tiny_base

pytest.importorskip("trl")
pytest.importorskip("peft")
pytest.importorskip("gguf")


def _config(tmp_path, base, out, **extra):
    from alsate.train.config import load_config

    lines = [f'base_model = "{base}"', f'output_dir = "{out}"', 'qlora = "off"', "batch_size = 4",
             "grad_accum = 1", "warmup_ratio = 0.0", "eval_steps = 10", "logging_steps = 1",
             *(f"{k} = {json.dumps(v)}" for k, v in extra.items())]
    path = tmp_path / f"{out.name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path)


def _data(out, train, validation):
    (out / "data").mkdir(parents=True)
    for name, items in (("train", train), ("validation", validation)):
        (out / "data" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny base, an adapter fitted on it (PEFT directory) and that adapter exported to GGUF."""
    from alsate.train.export import adapter_to_gguf
    from alsate.train.fit import run_fit

    tmp = tmp_path_factory.mktemp("continue")
    base = tmp / "base"
    tiny_base(base)
    out = tmp / "first"
    _data(out, rows(32, 1), rows(8, 2))
    run_fit(_config(tmp, base, out, max_steps=20, learning_rate=2e-2))
    config = json.loads((base / "config.json").read_text())
    adapter_to_gguf(out / "adapter", tmp / "first.gguf", config, dtype="f32")
    return tmp, base, out / "adapter", tmp / "first.gguf"


def test_gguf_adapter_reads_back_as_the_peft_tensors(trained):
    import numpy as np
    from alsate.train.export import gguf_to_adapter
    from safetensors.numpy import load_file

    tmp, base, adapter_dir, gguf_path = trained
    read = gguf_to_adapter(gguf_path, json.loads((base / "config.json").read_text()))
    peft = {k.removeprefix("base_model.model."): v for k, v in
            load_file(str(adapter_dir / "adapter_model.safetensors")).items()}
    assert read.rank == 16 and read.alpha == 32.0
    assert read.target_modules == sorted(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                          "down_proj"])
    assert sorted(read.weights) == sorted(peft) and len(peft) == 2 * 7 * 2
    for name, value in peft.items():
        # q/k B rows come back in the model's order, not llama.cpp's
        assert np.array_equal(read.weights[name], value.astype(np.float32)), name
    q_b = "model.layers.0.self_attn.q_proj.lora_B.weight"
    from alsate.train.export import _permute_rows

    assert not np.array_equal(_permute_rows(peft[q_b], 4), peft[q_b])  # the permutation is not a no-op here


@pytest.mark.parametrize("source", ["gguf", "peft"])
def test_fit_goes_on_from_an_adapter(trained, source, tmp_path):
    from alsate.train.base import load_model, resolve_base
    from alsate.train.fit import mean_loss, run_fit, start_from_adapter
    from peft import PeftModel

    tmp, base, adapter_dir, gguf_path = trained
    init = gguf_path if source == "gguf" else adapter_dir
    held_out = rows(8, 3)
    model = resolve_base(str(base))
    plain = mean_loss(load_model(model), held_out)
    learnt = mean_loss(PeftModel.from_pretrained(load_model(model), str(adapter_dir)), held_out)
    assert learnt < plain - 0.5, (plain, learnt)

    started = start_from_adapter(load_model(model), _config(tmp_path, base, tmp_path / "probe",
                                                            init_adapter=str(init)))
    assert abs(mean_loss(started, held_out) - learnt) < 1e-3
    assert sum(p.numel() for n, p in started.named_parameters() if p.requires_grad and "lora_" in n) > 0

    # Two steps from the adapter start where the first run ended; from scratch they start at the base.
    fresh_out, go_on_out = tmp_path / "fresh", tmp_path / "go-on"
    for out in (fresh_out, go_on_out):
        _data(out, rows(16, 4), rows(4, 5))
    fresh = run_fit(_config(tmp_path, base, fresh_out, max_steps=2, learning_rate=1e-3))
    go_on = run_fit(_config(tmp_path, base, go_on_out, max_steps=2, learning_rate=1e-3,
                            init_adapter=str(init)))
    assert go_on.train_loss_first < fresh.train_loss_first - 0.5, (fresh.train_loss_first, go_on.train_loss_first)
    fit = json.loads((go_on_out / "fit.json").read_text())
    assert fit["init_adapter"] == str(init)
    assert json.loads((go_on_out / "adapter" / "adapter_config.json").read_text())["r"] == 16


def _model_gguf(path):
    """A GGUF that holds a (one-tensor) model, not an adapter: general.type is "model"."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type("model")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_init_adapter_errors_are_one_line(trained, tmp_path):
    from alsate.train.base import load_model, resolve_base
    from alsate.train.errors import TrainError
    from alsate.train.export import gguf_to_adapter
    from alsate.train.fit import start_from_adapter

    tmp, base, adapter_dir, gguf_path = trained
    model = resolve_base(str(base))
    for init, message in ((tmp_path / "nowhere.gguf", "init_adapter not found"),
                          (tmp_path, "without adapter_config.json")):
        with pytest.raises(TrainError, match=message):
            start_from_adapter(load_model(model), _config(tmp_path, base, tmp_path / "e",
                                                          init_adapter=str(init)))
    config = json.loads((base / "config.json").read_text())
    with pytest.raises(TrainError, match="is not a GGUF LoRA adapter"):
        gguf_to_adapter(_model_gguf(tmp_path / "model.gguf"), config)  # a model, not an adapter
    with pytest.raises(TrainError, match="the base model is 'qwen2'"):
        gguf_to_adapter(gguf_path, {**config, "model_type": "qwen2"})


def test_train_files_with_replay():
    from alsate.train.config import load_config
    from alsate.train.errors import TrainError
    from alsate.train.fit import select_train_rows

    data = [{"id": f"new-{i}", "file": "new.jsonl"} for i in range(10)] + \
           [{"id": f"old-{i}", "file": "old.jsonl"} for i in range(100)]
    base = load_config()
    assert select_train_rows(data, base) == (data, None)
    config = base.with_overrides(train_files=["new.jsonl"], replay=0.5)
    chosen, focus = select_train_rows(data, config)
    assert focus == 10 and len(chosen) == 15
    assert {r["id"] for r in chosen[:10]} == {f"new-{i}" for i in range(10)}
    assert all(r["file"] == "old.jsonl" for r in chosen[10:])
    assert select_train_rows(data, config) == (chosen, focus)  # seeded
    other_seed, _ = select_train_rows(data, config.with_overrides(seed=7))
    assert other_seed[10:] != chosen[10:]
    assert len(select_train_rows(data, config.with_overrides(replay=0.0))[0]) == 10
    with pytest.raises(TrainError, match=r"have no example in the train split \(files there: new.jsonl, old"):
        select_train_rows(data, config.with_overrides(train_files=["typo.jsonl"]))
    with pytest.raises(TrainError, match="'replay' in command line must be 0 or more"):
        base.with_overrides(replay=-1.0)
