"""`alsate-train fit` from a Hugging Face directory, with QLoRA where a CUDA GPU and bitsandbytes are there.

The base is a tiny random Llama written to a directory (a tokenizer with a chat
template beside it), so the test needs no download and runs in seconds: on CPU
it checks the directory path of ``load_model`` and plain LoRA; on a GPU with
bitsandbytes the same run goes through QLoRA (NF4, double quantisation,
``paged_adamw_32bit``), which CI machines cannot exercise: it is run on a GPU
machine when one is lent (see docs/training.md).
"""

from __future__ import annotations

import json
import random

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

VOCAB = 256


def _tiny_base(folder) -> None:
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = {"<pad>": 0, "<eos>": 1, **{f"w{i}": i for i in range(2, VOCAB)}}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(words, unk_token="<pad>")), pad_token="<pad>",
        eos_token="<eos>")
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}<eos>{% endfor %}"
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _rows(count: int, seed: int) -> list[dict]:
    """Prompt then answer; the answer repeats a fixed pattern the model can learn, loss on it only."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        prompt = [rng.randrange(2, VOCAB) for _ in range(12)]
        answer = [7, 8, 9, 10, 11, 12, 13, 14] * 2 + [1]
        rows.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
    return rows


@pytest.mark.parametrize("qlora", ["off", "on"])
def test_fit_from_a_model_directory_lowers_the_loss(tmp_path, qlora):
    import torch

    if qlora == "on":
        if not torch.cuda.is_available():
            pytest.skip("QLoRA needs a CUDA GPU")
        pytest.importorskip("bitsandbytes")
    from alsate.train.config import load_config
    from alsate.train.fit import run_fit

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
    assert fit["optim"] == ("paged_adamw_32bit" if qlora == "on" else "adamw_torch")
    assert result.steps == 20
    assert result.train_loss_last < result.train_loss_first - 0.5, (result.train_loss_first, result.train_loss_last)
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
