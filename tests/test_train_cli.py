"""``alsate-train``: help, config, one-line errors, and a tiny CPU run of the whole pipeline.

The tiny run (data -> fit -> export -> eval on five short examples, three
optimizer steps) trains the embedded SmolLM2-135M-Instruct for real: the
loss on the training examples must go down, the GGUF adapter must load in
llama-cpp-python, and the eval must write its table.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from alsate.train.cli import main
from alsate.train.formats import REFUSAL

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CACHE = ROOT / ".pytest_cache" / "alsate-train-base"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("verb", ["data", "fit", "export", "eval", "all"])
def test_every_verb_has_help(verb):
    proc = subprocess.run([sys.executable, "-m", "alsate.train.cli", verb, "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    assert f"alsate-train {verb}" in proc.stdout and "--config" in proc.stdout


def test_defaults_are_alsates_hyperparameters(capsys):
    code, out, _ = _run(capsys, "defaults")
    assert code == 0
    values = tomllib.loads(out)
    assert (values["lora_r"], values["lora_alpha"], values["lora_dropout"]) == (16, 32, 0.05)
    assert (values["learning_rate"], values["max_seq"]) == (2e-4, 512)
    assert set(values["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                              "down_proj"}


def test_unknown_config_key_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("lora_rank = 8\n")
    code, _, err = _run(capsys, "data", "--config", str(cfg))
    assert code == 2
    assert err.count("\n") == 1 and "unknown config key 'lora_rank'" in err and "Traceback" not in err


def test_wrong_type_and_bad_toml(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('lora_r = "big"\n')
    code, _, err = _run(capsys, "fit", "--config", str(cfg))
    assert code == 2 and "'lora_r'" in err and "must be int" in err
    cfg.write_text("lora_r = \n")
    code, _, err = _run(capsys, "fit", "--config", str(cfg))
    assert code == 2 and "not valid TOML" in err
    cfg.write_text('bf16 = "yes"\n')
    code, _, err = _run(capsys, "fit", "--config", str(cfg))
    assert code == 2 and err.count("\n") == 1 and "'bf16'" in err and "auto, on or off" in err


def test_empty_dataset_is_one_line(tmp_path, capsys):
    data = tmp_path / "ds"
    data.mkdir()
    (data / "empty.jsonl").write_text("")
    code, _, err = _run(capsys, "data", "--dataset", str(data), "--output-dir", str(tmp_path / "o"))
    assert code == 2 and err.startswith("alsate-train: ") and "has no examples" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("path", sorted((ROOT / "train").glob("*.toml")), ids=lambda p: p.name)
def test_committed_configs_load(path):
    """Every build recipe in train/ uses keys and types alsate-train knows (a renamed key fails here)."""
    from alsate.train.config import load_config

    config = load_config(path)
    assert config.source[-1] == str(path) and config.output_dir.startswith("runs/")
    if config.init_adapter:
        assert (ROOT / config.init_adapter).is_file()
    for name in config.train_files:
        assert (ROOT / "assets" / "dataset" / name).is_file(), name


def test_one_line_in_a_fresh_process(tmp_path):
    """In its own process (where importing peft first imports bitsandbytes, which warns about an optional
    hub kernel), an error is still exactly one line on stderr."""
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "empty.jsonl").write_text("")
    done = subprocess.run([sys.executable, "-m", "alsate.train.cli", "data", "--dataset", str(tmp_path / "ds"),
                           "--output-dir", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "has no examples" in done.stderr, done.stderr


def test_missing_base_model_is_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, "data", "--base-model", str(tmp_path / "nope.gguf"),
                        "--output-dir", str(tmp_path / "o"))
    assert code == 2 and "base model not found" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "fit", "--output-dir", str(tmp_path / "o"))
    assert code == 2 and "run `alsate-train data` first" in err


def _ids(out: Path) -> dict[str, str]:
    return {json.loads(line)["id"]: name for name in ("train", "validation", "test")
            for line in (out / "data" / f"{name}.jsonl").read_text().splitlines()}


def test_freeze_split_keeps_the_split_when_examples_are_added(tmp_path, capsys, monkeypatch):
    from alsate.train.data import load_examples

    monkeypatch.setenv("ALSATE_TRAIN_CACHE", str(TRAIN_CACHE))
    by_template: dict[str, list] = {}
    for e in load_examples():
        if e.task == "explain" and len(e.input) < 200:
            by_template.setdefault(e.template, []).append(e)
    groups = sorted(by_template.values(), key=lambda g: g[0].id)[:40]
    data = tmp_path / "ds"
    data.mkdir()
    (data / "first.jsonl").write_text("".join(json.dumps(e.to_json()) + "\n" for g in groups[:24] for e in g))
    out = tmp_path / "out"
    code, _, err = _run(capsys, "data", "--dataset", str(data), "--output-dir", str(out), "--freeze-split")
    assert code == 0, err
    assert f"split frozen in {data / 'splits.json'}" in err
    before = _ids(out)
    assert {"train", "test"} <= set(before.values())

    (data / "more.jsonl").write_text("".join(json.dumps(e.to_json()) + "\n" for g in groups[24:] for e in g))
    code, _, err = _run(capsys, "data", "--dataset", str(data), "--output-dir", str(out))
    assert code == 0, err
    assert re.search(r"frozen split .*: 24 templates kept in their split, 16 new \(never in test\)", err)
    after = _ids(out)
    assert {i: after[i] for i in before} == before
    assert {after[i] for i in after if i not in before} <= {"train", "validation"}
    assert len(after) > len(before)

    # frozen_split = false: the split is made afresh, and some old example moves.
    config = tmp_path / "unfrozen.toml"
    config.write_text("frozen_split = false\n")
    code, _, err = _run(capsys, "data", "--config", str(config), "--dataset", str(data), "--output-dir", str(out))
    assert code == 0 and "frozen split" not in err
    assert any(_ids(out).get(i) != before[i] for i in before)

    code, _, err = _run(capsys, "data", "--dataset", str(data / "first.jsonl"), "--output-dir", str(out),
                        "--freeze-split")
    assert code == 2 and "--freeze-split needs a dataset directory" in err and err.count("\n") == 1


# --- the tiny run -------------------------------------------------------------------------


def _tiny_dataset(folder: Path) -> None:
    from alsate.train.data import load_examples

    examples = load_examples()
    chosen, seen = [], set()
    for task, n in (("explain", 3), ("refuse", 2)):
        pool = sorted((e for e in examples if e.task == task and "\n" not in e.input.strip()),
                      key=lambda e: len(e.input) + len(e.output))
        for e in pool:
            if e.template not in seen and sum(c.task == task for c in chosen) < n:
                chosen.append(e)
                seen.add(e.template)
    folder.mkdir()
    (folder / "tiny.jsonl").write_text("".join(json.dumps(e.to_json()) + "\n" for e in chosen))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    pytest.importorskip("trl")
    pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("tiny")
    _tiny_dataset(root / "ds")
    config = root / "tiny.toml"
    config.write_text(f"""
dataset = "{root / 'ds'}"
output_dir = "{root / 'out'}"
split = [0.5, 0.0, 0.5]
max_seq = 768
lora_top_layers = 12        # as train/ship-full.toml
max_steps = 3
batch_size = 1
grad_accum = 1
learning_rate = 3e-3
warmup_ratio = 0.0
logging_steps = 1
eval_max_new_tokens = 12
fidelity_prompts = 1
fidelity_tokens = 4
threads = 2
eval_threads = 2
""")
    mp = pytest.MonkeyPatch()
    mp.setenv("ALSATE_TRAIN_CACHE", str(TRAIN_CACHE))
    codes = {}
    try:
        for verb in ("data", "fit", "export", "eval"):
            codes[verb] = main([verb, "--config", str(config)])
            if codes[verb]:
                break
    finally:
        mp.undo()
    return root / "out", codes


# The first test to use the fixture pays for the whole run: ~2-3 minutes on two busy cores,
# more when other jobs share them.
tiny = [pytest.mark.slow, pytest.mark.timeout(900)]


@tiny[0]
@tiny[1]
def test_tiny_run_lowers_the_loss(tiny_run, monkeypatch):
    out, codes = tiny_run
    assert codes["fit"] == 0
    from alsate.train.base import load_model, resolve_base
    from alsate.train.data import read_jsonl
    from alsate.train.fit import mean_loss
    from peft import PeftModel

    monkeypatch.setenv("ALSATE_TRAIN_CACHE", str(TRAIN_CACHE))
    rows = read_jsonl(out / "data" / "train.jsonl")
    assert len(rows) == 3
    base = resolve_base("")
    before = mean_loss(load_model(base), rows)
    after = mean_loss(PeftModel.from_pretrained(load_model(base), str(out / "adapter")), rows)
    assert after < before - 0.05, (before, after)
    fit = json.loads((out / "fit.json").read_text())
    assert fit["steps"] == 3 and fit["qlora"] is False
    assert fit["config"]["lora_r"] == 16 and fit["config"]["lora_alpha"] == 32
    # the adapter holds LoRA weights only: no resized embeddings, no new tokens
    adapter = out / "adapter" / "adapter_model.safetensors"
    assert adapter.stat().st_size < 20_000_000


@tiny[0]
@tiny[1]
def test_tiny_run_exports_a_gguf_adapter_llama_cpp_loads(tiny_run):
    out, codes = tiny_run
    assert codes["export"] == 0
    report = json.loads((out / "export.json").read_text())
    assert report["loads_in_llama_cpp"] is True
    gguf_path = out / "smollm2-135m-alsate.gguf"
    assert gguf_path.read_bytes()[:4] == b"GGUF"
    assert report["adapter"]["tensors"] == 12 * 7 * 2  # the top 12 of 30 layers, A and B for 7 projections
    fidelity = report["fidelity"]
    assert fidelity["positions"] == 4 and 0.0 <= fidelity["agreement"] <= 1.0

    from alsate.engine.llm.factory import LLMOptions  # noqa: F401  (the engine's own loader takes it too)
    from alsate.engine.llm.models import resolve_model

    spec = resolve_model(lora=str(gguf_path))
    assert spec.lora_path == gguf_path


@tiny[0]
@tiny[1]
def test_tiny_run_writes_the_eval_table(tiny_run):
    out, codes = tiny_run
    assert codes["eval"] == 0
    report = json.loads((out / "eval.json").read_text())
    for side in ("base", "tuned"):
        metrics = report[side]
        assert metrics["examples"] == 2 and metrics["logs"] == 1 and metrics["non_logs"] == 1
        for key in ("bleu", "rouge1", "rouge2", "rougeL", "fuzzy", "format_compliance"):
            assert 0.0 <= metrics[key] <= 1.0
    from alsate.engine.llm.profiles import load_profile

    profile = load_profile(report["profile"])  # the eval samples as the engine does, and says how
    assert report["repeat_penalty"] == profile.repeat_penalty
    assert report["dry"] == ({"multiplier": profile.dry.multiplier, "base": profile.dry.base,
                              "allowed_length": profile.dry.allowed_length, "breakers": list(profile.dry.breakers)}
                             if profile.dry.on else None)
    assert report["grammar"] is profile.answer_grammar and report["prefill"] == "as the engine"
    # the engine's not-a-log check answers for the model where the data has no log in it, on both sides
    rows = [json.loads(line) for line in (out / "data" / "test.jsonl").read_text().splitlines()]
    assert not any(r["not_a_log"] for r in rows if r["task"] != "refuse")
    checked = sum(r["not_a_log"] for r in rows)
    assert report["base"]["refused_by_check"] == report["tuned"]["refused_by_check"] == checked
    table = (out / "eval.md").read_text()
    assert "| metric | base | fine-tuned |" in table and "| ROUGE-L |" in table
    samples = [json.loads(line) for line in (out / "eval_samples.jsonl").read_text().splitlines()]
    assert {s["task"] for s in samples} == {"explain", "refuse"}
    assert any(s["reference"] == REFUSAL for s in samples)


@tiny[0]
@tiny[1]
def test_sampling_bench_writes_each_answers_score(tiny_run, tmp_path):
    """bench/sampling.py on the tiny run's test split and adapter: one record per answer, whose
    ROUGE-L the total is the mean of, so builds can be compared on part of a split."""
    import importlib.util

    out, codes = tiny_run
    assert codes["export"] == 0
    spec = importlib.util.spec_from_file_location("bench_sampling", ROOT / "bench" / "sampling.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = tmp_path / "sampling.json"
    assert bench.main(["--data", str(out / "data" / "test.jsonl"), "--limit", "10", "--max-tokens", "12",
                       "--setting", "1.05:0.8", "--adapter", str(out / "smollm2-135m-alsate.gguf"),
                       "--out", str(report)]) == 0
    result = json.loads(report.read_text())["results"][0]
    rows = [json.loads(line) for line in (out / "data" / "test.jsonl").read_text().splitlines()]
    samples = result["samples"]
    assert sorted(s["id"] for s in samples) == sorted(r["id"] for r in rows)
    assert all(s["tokens"] <= 12 for s in samples if s["task"] != "refuse")
    assert result["rougeL"] == pytest.approx(sum(s["rougeL"] for s in samples) / len(samples), abs=1e-3)


@tiny[0]
@tiny[1]
def test_tiny_run_plain_eval_measures_the_models_alone(tiny_run, capsys):
    """--plain: no grammar, no prefill, no not-a-log check; its own files, the engine's eval left as it was."""
    out, codes = tiny_run
    assert codes["eval"] == 0
    before = (out / "eval.json").read_text()
    code, _, err = _run(capsys, "eval", "--config", str(out.parent / "tiny.toml"), "--plain")
    assert code == 0, err
    report = json.loads((out / "eval-plain.json").read_text())
    assert report["prefill"] == "none (plain)" and report["grammar"] is False and report["not_a_log_check"] is False
    assert report["base"]["refused_by_check"] == report["tuned"]["refused_by_check"] == 0
    assert (out / "eval.json").read_text() == before
    samples = [json.loads(line) for line in (out / "eval-plain_samples.jsonl").read_text().splitlines()]
    # the non-log went to the model: what it wrote is not the check's canned refusal (12 tokens at most)
    refuse = [s for s in samples if s["task"] == "refuse"]
    assert refuse and all(s["tuned"] != REFUSAL for s in refuse)
    code, _, err = _run(capsys, "eval", "--config", str(out.parent / "tiny.toml"), "--plain", "--prefill")
    assert code == 2 and "do not go together" in err


@tiny[0]
@tiny[1]
def test_tiny_run_eval_reuses_answers_per_adapter(tiny_run, capsys):
    """Greedy answers are cached by prompt, settings and the adapter's content: a second eval generates
    nothing new, another adapter file gets its own answers."""
    out, codes = tiny_run
    assert codes["eval"] == 0
    config = str(out.parent / "tiny.toml")
    tuned_cache = out / "eval_tuned_cache.jsonl"
    lines = tuned_cache.read_text().splitlines()  # 2 test rows; 2 more if the --plain eval ran before
    assert len(lines) in (2, 4) and len((out / "eval_base_cache.jsonl").read_text().splitlines()) >= 2
    samples = (out / "eval_samples.jsonl").read_text()
    code, _, err = _run(capsys, "eval", "--config", config)
    assert code == 0, err
    assert tuned_cache.read_text().splitlines() == lines and (out / "eval_samples.jsonl").read_text() == samples
    other = ROOT / "assets" / "adapter" / "smollm2-135m-alsate.gguf"  # all 30 layers: other answers
    code, _, err = _run(capsys, "eval", "--config", config, "--adapter", str(other))
    assert code == 0, err
    assert len(tuned_cache.read_text().splitlines()) == len(lines) + 2
    code, _, err = _run(capsys, "eval", "--config", config)  # the tiny adapter's report back, from the cache
    assert code == 0 and (out / "eval_samples.jsonl").read_text() == samples
    assert len(tuned_cache.read_text().splitlines()) == len(lines) + 2


@tiny[0]
@tiny[1]
def test_tiny_run_eval_scores_equal_files_of_the_adapter(tiny_run, capsys):
    """--roundings 2: the adapter written as f32 and as two halves (the same change to every weight)
    answers the test rows beside it, and the report gives each file's ROUGE-L and their spread.
    Runs after the cache test above, which counts the cache's lines."""
    out, codes = tiny_run
    assert codes["eval"] == 0
    config = str(out.parent / "tiny.toml")
    tuned_cache = out / "eval_tuned_cache.jsonl"
    before = len(tuned_cache.read_text().splitlines())
    code, _, err = _run(capsys, "eval", "--config", config, "--roundings", "2")
    assert code == 0, err
    report = json.loads((out / "eval.json").read_text())
    spread = report["rounding"]
    assert [f["file"] for f in spread["files"]] == ["smollm2-135m-alsate.gguf", "f32", "halves"]
    values = [f["rougeL"] for f in spread["files"]]
    assert values[0] == report["tuned"]["rougeL"]
    assert spread["rougeL_min"] == min(values) and spread["rougeL_max"] == max(values)
    assert abs(spread["rougeL_mean"] - sum(values) / 3) < 1e-4
    assert len(tuned_cache.read_text().splitlines()) == before + 2 * 2  # two rows, two new files
    assert "rounded differently" in (out / "eval.md").read_text() and "halves" in err
    made = sorted((out / "rounding").glob("*.gguf"))  # equal to the adapter: tests/test_train_soup.py
    assert [p.name.rsplit(".", 2)[1] for p in made] == ["f32", "halves"]
    stamps = [p.stat().st_mtime_ns for p in made]
    code, _, err = _run(capsys, "eval", "--config", config, "--roundings", "2")  # files and answers reused
    assert code == 0, err
    assert [p.stat().st_mtime_ns for p in made] == stamps
    assert len(tuned_cache.read_text().splitlines()) == before + 4
    code, _, err = _run(capsys, "eval", "--config", config, "--roundings", "7")
    assert code == 2 and err.strip() == "alsate-train: --roundings takes 1 to 6 equal files, not 7"


@tiny[0]
@tiny[1]
def test_tiny_run_eval_answers_the_validation_split(tiny_run, capsys, tmp_path):
    """--split validation answers data/validation.jsonl and writes eval-validation.*, leaving eval.* alone.
    A copy of the run whose validation split is its test rows: the answers come from the copied cache."""
    import shutil

    out, codes = tiny_run
    assert codes["eval"] == 0
    copy = tmp_path / "out"
    (copy / "data").mkdir(parents=True)
    shutil.copy(out / "data" / "test.jsonl", copy / "data" / "validation.jsonl")
    for name in ("smollm2-135m-alsate.gguf", "eval_base_cache.jsonl", "eval_tuned_cache.jsonl"):
        shutil.copy(out / name, copy / name)
    config = tmp_path / "copy.toml"
    config.write_text((out.parent / "tiny.toml").read_text().replace(str(out), str(copy)))
    code, _, err = _run(capsys, "eval", "--config", str(config), "--split", "validation")
    assert code == 0, err
    report = json.loads((copy / "eval-validation.json").read_text())
    assert report["split"] == "validation"
    assert report["tuned"] == json.loads((out / "eval.json").read_text())["tuned"]  # the same rows and answers
    assert (copy / "eval-validation.md").read_text().startswith("Validation split: 2 examples")
    assert not (copy / "eval.json").exists() and (copy / "eval-validation_samples.jsonl").is_file()
    code, _, err = _run(capsys, "eval", "--config", str(out.parent / "tiny.toml"), "--split", "validation")
    assert code == 2 and "the validation split is empty" in err


@tiny[0]
@tiny[1]
def test_tiny_run_resumes_from_its_checkpoint(tiny_run, capsys, monkeypatch, tmp_path):
    """--resume goes on from checkpoint-3 to step 5: steps 1-3 are the first run's (restored, not trained
    again: a fresh 5-step run would have another schedule), and only 4-5 are new. Runs after the tests
    above, which read the 3-step adapter."""
    out, codes = tiny_run
    assert codes["fit"] == 0
    config = out.parent / "tiny.toml"
    first = json.loads((out / "fit.json").read_text())["history"]
    monkeypatch.setenv("ALSATE_TRAIN_CACHE", str(TRAIN_CACHE))
    code, _, err = _run(capsys, "fit", "--config", str(config), "--resume", "--max-steps", "5")
    assert code == 0, err
    fit = json.loads((out / "fit.json").read_text())
    assert fit["steps"] == 5
    losses = {h["step"]: h["loss"] for h in fit["history"] if "loss" in h}
    assert sorted(losses) == [1, 2, 3, 4, 5]
    assert [losses[n] for n in (1, 2, 3)] == [h["loss"] for h in first if "loss" in h]

    # Nothing to resume from: one line, before the model is loaded.
    fresh = tmp_path / "fresh"
    shutil.copytree(out / "data", fresh / "data")
    code, _, err = _run(capsys, "fit", "--config", str(config), "--output-dir", str(fresh), "--resume")
    assert code != 0 and err.count("\n") == 1
    assert "nothing to resume: no checkpoint in" in err and "Traceback" not in err


# --- harvest ------------------------------------------------------------------------------

NGINX_ERRORS = """\
2024/05/01 10:00:01 [error] 811#811: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.7, server: shop.example.com, request: "GET /api/a HTTP/1.1", upstream: "http://127.0.0.1:8080/api/a", host: "shop.example.com"
2024/05/01 10:00:02 [error] 811#811: *2 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.9, server: shop.example.com, request: "GET /api/b HTTP/1.1", upstream: "http://127.0.0.1:8080/api/b", host: "shop.example.com"
2024/05/01 10:00:03 [notice] 811#811: signal process started
2024/05/01 10:00:04 [warn] 811#811: *3 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: 203.0.113.7, server: shop.example.com, request: "GET /big HTTP/1.1", upstream: "http://127.0.0.1:8080/big", host: "shop.example.com"
"""


def test_harvest_keeps_priority_0_to_4_one_per_template(tmp_path, capsys):
    log = tmp_path / "error.log"
    log.write_text(NGINX_ERRORS)
    out = tmp_path / "h.jsonl"
    code, _, err = _run(capsys, "data", "--from-file", str(log), "--harvest-out", str(out))
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2  # two connect() failures share a template; the notice is priority 5
    assert {r["source"] for r in rows} == {"nginx-error"}
    assert any("connect() failed" in r["input"] for r in rows) and any("buffered" in r["input"] for r in rows)
    assert all(r["task"] == "explain" and r["output"] == "" and r["synthetic"] is False for r in rows)
    assert len({r["template"] for r in rows}) == 2


def test_harvest_errors_are_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, "data", "--from-file", str(tmp_path / "missing.log"))
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    quiet = tmp_path / "quiet.log"
    quiet.write_text("2024/05/01 10:00:03 [notice] 811#811: signal process started\n")
    code, _, err = _run(capsys, "data", "--from-file", str(quiet), "--harvest-out", str(tmp_path / "h.jsonl"))
    assert code == 2 and "no priority 0..4 lines" in err


def test_harvest_teacher_labels_only_in_format(tmp_path, capsys):
    pytest.importorskip("llama_cpp")
    from alsate.engine.llm.models import embedded_model_path
    from alsate.train.formats import complies

    log = tmp_path / "error.log"
    log.write_text(NGINX_ERRORS.splitlines()[0] + "\n")
    out = tmp_path / "h.jsonl"
    code, _, err = _run(capsys, "data", "--from-file", str(log), "--harvest-out", str(out),
                        "--teacher", str(embedded_model_path()))
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert "1 templates" in err
    assert all(r["synthetic"] is True and complies("explain", r["output"]) for r in rows)
    assert len(rows) + int(re.search(r"(\d+) teacher answers rejected", err).group(1)) == 1
