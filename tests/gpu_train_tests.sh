#!/bin/bash
# The training tests on a CUDA machine that has torch, transformers, peft and accelerate but not alsate's
# other training needs (the lent GPU machine's image): QLoRA with device map 0 and the paged optimizer.
# Run from the checkout's root, with the wheels in .whl/ (docs/training.md, "QLoRA on a CUDA GPU"):
#   bash tests/gpu_train_tests.sh        logs go to $OUT (default /tmp/gpu-train-tests)
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-train-tests}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
mkdir -p /tmp/pkg/alsate
for d in engine train assets tui; do ln -sfn "$PWD/$d" "/tmp/pkg/alsate/$d"; done
export PYTHONPATH=/tmp/pkg:/tmp/site:$PWD/tests
nvidia-smi -L
python3 - <<'PY' 2>&1 | tee $OUT/versions.txt
import torch, bitsandbytes, trl, peft, transformers, datasets, accelerate
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0))
for m in (bitsandbytes, trl, peft, transformers, datasets, accelerate):
    print(m.__name__, m.__version__)
import alsate.train.fit as f
print("alsate.train.fit from", f.__file__)
PY
set -o pipefail
python3 -m pytest -p no:cacheprovider -rA -v tests/test_train_qlora.py tests/test_train_fit_loss.py tests/test_train_continue.py 2>&1 | tee $OUT/pytest.log
rc=$?
# what the QLoRA fit recorded, run again outside pytest to keep its fit.json and log
python3 - <<'PY' 2>&1 | tee $OUT/qlora-fit.txt
import json, tempfile, pathlib, time
from tiny_llama import rows, tiny_base
from alsate.train.config import load_config
from alsate.train.fit import run_fit
tmp = pathlib.Path(tempfile.mkdtemp())
tiny_base(tmp / "base"); out = tmp / "out"; (out / "data").mkdir(parents=True)
for name, r in (("train", rows(32, 1)), ("validation", rows(8, 2))):
    (out / "data" / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in r))
(tmp / "c.toml").write_text(f'base_model = "{tmp/"base"}"\noutput_dir = "{out}"\nqlora = "on"\nmax_steps = 20\nbatch_size = 4\ngrad_accum = 1\nlearning_rate = 2e-2\nwarmup_ratio = 0.0\neval_steps = 10\nlogging_steps = 1\n')
t = time.time(); res = run_fit(load_config(tmp / "c.toml"))
print("seconds", round(time.time() - t, 1), "loss first/last", res.train_loss_first, res.train_loss_last)
print(json.dumps(json.loads((out / "fit.json").read_text()), indent=1))
import torch; print("peak cuda MiB", torch.cuda.max_memory_allocated() // 2**20)
PY
exit $rc
