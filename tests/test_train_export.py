"""The GGUF LoRA export: llama.cpp loads it and applies the same change torch does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("peft")
pytest.importorskip("gguf")

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CACHE = ROOT / ".pytest_cache" / "alsate-train-base"
PROMPT = "<|im_start|>user\nWhat does 'kernel: Out of memory: Killed process 812 (java)' mean?<|im_end|>\n" \
         "<|im_start|>assistant\n"


@pytest.fixture
def base(monkeypatch):
    monkeypatch.setenv("ALSATE_TRAIN_CACHE", str(TRAIN_CACHE))
    from alsate.train.base import hf_directory, resolve_base

    model = resolve_base("")
    return model, Path(hf_directory(model))


def _random_adapter(base, out: Path):
    import torch
    from alsate.train.base import load_model
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = load_model(base)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                     "up_proj", "down_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    peft = get_peft_model(model, cfg)
    with torch.no_grad():  # a clear but not destructive change
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.mul_(0.1 / max(float(p.abs().mean()), 1e-8))
    peft.save_pretrained(str(out))
    return peft


def test_gguf_adapter_applies_the_same_change_as_torch(base, tmp_path):
    import numpy as np
    import torch
    from alsate.train.base import load_model, load_tokenizer
    from alsate.train.export import adapter_to_gguf, open_llama

    model, hf_dir = base
    peft = _random_adapter(model, tmp_path / "adapter")
    config = json.loads((hf_dir / "config.json").read_text())
    info = adapter_to_gguf(tmp_path / "adapter", tmp_path / "a.gguf", config, dtype="f32")
    assert info["tensors"] == 30 * 7 * 2 and info["rank"] == 4 and info["alpha"] == 8.0

    import gguf

    reader = gguf.GGUFReader(str(tmp_path / "a.gguf"))
    fields = {f.name: f.contents() for f in reader.fields.values() if not f.name.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "llama" and fields["adapter.lora.alpha"] == 8.0
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q.weight.lora_a" in names and "blk.29.ffn_down.weight.lora_b" in names

    ids = load_tokenizer(model)(PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        tuned = peft(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
    plain = load_model(model)
    with torch.no_grad():
        ref = plain(input_ids=torch.tensor([ids])).logits[0, -1].numpy()

    def last_logits(adapter):
        llm = open_llama(model.gguf, adapter, n_ctx=256, threads=2, logits_all=True)
        try:
            llm.eval(ids)
            return np.array(llm.scores[llm.n_tokens - 1])
        finally:
            llm.close()

    cpp_base = last_logits(None)
    cpp_tuned = last_logits(tmp_path / "a.gguf")
    torch_delta = tuned - ref
    cpp_delta = cpp_tuned - cpp_base
    assert np.abs(torch_delta).mean() > 0.3  # the adapter changes the model
    corr = float(np.corrcoef(torch_delta, cpp_delta)[0, 1])
    # llama.cpp applies the same change (q/k rows permuted, A/B orientation, alpha/r scale; without
    # the q/k permutation this is ~0.87); what is left is the Q4_1 base's rounding (~0.1 per logit)
    # what is left is the Q4_1 base's rounding
    assert corr > 0.95, corr
    assert np.abs(cpp_delta).mean() == pytest.approx(np.abs(torch_delta).mean(), rel=0.25)


def test_adapter_export_errors(base, tmp_path):
    import numpy as np
    from alsate.train.errors import TrainError
    from alsate.train.export import adapter_to_gguf
    from safetensors.numpy import save_file

    _, hf_dir = base
    config = json.loads((hf_dir / "config.json").read_text())
    with pytest.raises(TrainError, match="no PEFT adapter"):
        adapter_to_gguf(tmp_path / "missing", tmp_path / "x.gguf", config)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"lora_alpha": 8, "r": 2}))
    a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    save_file({a: np.zeros((2, 576), np.float32)}, str(tmp_path / "adapter_model.safetensors"))
    with pytest.raises(TrainError, match="supports .* not 'gpt2'"):
        adapter_to_gguf(tmp_path, tmp_path / "x.gguf", {**config, "model_type": "gpt2"})
    with pytest.raises(TrainError, match="lacks its lora_B"):
        adapter_to_gguf(tmp_path, tmp_path / "x.gguf", config)
    save_file({"base_model.model.model.embed_tokens.weight": np.zeros((4, 576), np.float32)},
              str(tmp_path / "adapter_model.safetensors"))
    with pytest.raises(TrainError, match="embeddings or lm_head"):
        adapter_to_gguf(tmp_path, tmp_path / "x.gguf", config)
