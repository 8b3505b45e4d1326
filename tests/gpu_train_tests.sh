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
rm -rf /tmp/gpu-train-pytest
python3 -m pytest -p no:cacheprovider --basetemp=/tmp/gpu-train-pytest -rA -v tests/test_train_qlora.py \
    tests/test_train_fit_loss.py tests/test_train_continue.py 2>&1 | tee $OUT/pytest.log
rc=$?
# what the QLoRA case's fit recorded (device, 4-bit layers, optimizer, losses), kept beside the log
grep -l '"qlora": true' /tmp/gpu-train-pytest/*/out/fit.json | head -1 | xargs -r cp -t "$OUT"
exit $rc
