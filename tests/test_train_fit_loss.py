"""The loss ``fit`` trains on CPU under bf16 (transformers' causal-LM loss on the logits) is the loss trl's
fused LM head computes (its fp32 chunked projection, kept on GPUs): the same batch gives the same number,
and both count only the assistant tokens."""

from __future__ import annotations

import pytest
from tiny_llama import rows, tiny_base

pytest.importorskip("trl")
pytest.importorskip("peft")


def test_plain_loss_is_trls_fused_loss(tmp_path):
    import torch
    from alsate.train.fit import _dataset, _trainer_class
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    tiny_base(tmp_path / "base")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "base")
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    train = rows(8, 1)
    losses = {}
    for plain in (False, True):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tmp_path / "base", dtype=torch.float32)
        args = SFTConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, use_cpu=True,
                         report_to=[], remove_unused_columns=False, max_length=1024, seed=0)
        trainer = _trainer_class(plain_loss=plain)(
            model=model, args=args, train_dataset=_dataset(train), processing_class=tokenizer,
            peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
        trainer.model.eval()
        batch = next(iter(trainer.get_train_dataloader()))
        with torch.no_grad():
            losses[plain] = float(trainer.compute_loss(trainer.model, dict(batch)))
            # the same batch with its labels hidden (-100) except one assistant token each: a loss over
            # fewer tokens, so the two must agree on which tokens count, not only on a mean
            labels = batch["labels"].clone()
            keep = (labels != -100).float().argmax(dim=1)
            masked = torch.full_like(labels, -100)
            masked[torch.arange(len(labels)), keep] = labels[torch.arange(len(labels)), keep]
            losses[(plain, "one")] = float(trainer.compute_loss(trainer.model, {**batch, "labels": masked}))
    assert losses[True] == pytest.approx(losses[False], abs=1e-4)
    assert losses[(True, "one")] == pytest.approx(losses[(False, "one")], abs=1e-4)
    assert abs(losses[(True, "one")] - losses[True]) > 1e-3  # the masked batch is another loss
