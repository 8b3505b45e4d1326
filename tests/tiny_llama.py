"""A tiny random Llama in a model directory (with a word-level tokenizer and a chat template) and
token rows for it: a base the training tests can fit in seconds, with no download."""

from __future__ import annotations

import random

VOCAB = 256
#: what the rows' answers repeat; a model that learnt it has a low loss on any row
ANSWER = [7, 8, 9, 10, 11, 12, 13, 14] * 2 + [1]


def tiny_base(folder) -> None:
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = {"<pad>": 0, "<eos>": 1, **{f"w{i}": i for i in range(2, VOCAB)}}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(words, unk_token="<pad>")), pad_token="<pad>",
        eos_token="<eos>")
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}<eos>{% endfor %}"
    # 4 query heads, 2 key/value heads: the GGUF row permutation of q and k differs
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def rows(count: int, seed: int) -> list[dict]:
    """Prompt then answer; the answer repeats a fixed pattern the model can learn, loss on it only."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        prompt = [rng.randrange(2, VOCAB) for _ in range(12)]
        out.append({"input_ids": prompt + ANSWER, "labels": [-100] * len(prompt) + ANSWER})
    return out
