#!/usr/bin/env bash
# The checks that need a CUDA device, in one pass (about 10 minutes on one recent GPU):
#   1. the tests that run only where CUDA exists (float16 autocast + GradScaler) and the
#      precision, compile and benchmark tests on the GPU machine's stack;
#   2. the benchmark on CUDA, float32 and float16 autocast, R2D-50 and SlowFast 16x8 rows,
#      with and without GTA.ACTIVATION_CHECKPOINT, batch 8, timed with CUDA events;
#   3. the synthetic main job (R2D-50 + GTA) trained and tested on one GPU;
#   4. the same job started by torchrun as one process on one GPU (NCCL, PySlowFast's trainer
#      where a checkout is installed).
# Usage, from the repository root after the Quick start install:
#   bash projects/gta/gpu_check.sh [OUTPUT_DIR]      (default out/gpu_check)
# The results go under OUTPUT_DIR: gpu.txt, tests.txt, benchmark/benchmark.md (+ .json),
# synthetic_gta/ and synthetic_gta_torchrun/ (stdout.log, json_stats.log). A test failure does not stop the benchmark and
# the training run; the script then exits with pytest's status at the end.
set -euo pipefail
out="${1:-out/gpu_check}"
mkdir -p "$out"
python - <<'PY'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("gpu_check.sh: no CUDA device (torch.cuda.is_available() is False, torch "
             + torch.__version__ + "); run it on a machine with a GPU and a CUDA build of torch")
PY
python -c "import torch; p = torch.cuda.get_device_properties(0); \
print(f'{p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, CUDA {torch.version.cuda}')" \
    | tee "$out/gpu.txt"
tests_status=0
python -m pytest -q -rs tests/test_precision_and_compile.py tests/test_benchmark.py 2>&1 \
    | tee "$out/tests.txt" || tests_status=$?
python -m gta_slowfast.tools.benchmark --device cuda --precision fp32 fp16 \
    --preset r2d slowfast --activation-checkpoint --batch-size 8 --warmup 3 --repeats 10 \
    --output-dir "$out/benchmark"
python projects/gta/run_net.py --cfg configs/Synthetic/R2D_R50_GTA.yaml NUM_GPUS 1 \
    OUTPUT_DIR "$out/synthetic_gta" 2>&1 | tail -n 5
python -m torch.distributed.run --nproc_per_node 1 projects/gta/run_net.py \
    --cfg configs/Synthetic/R2D_R50_GTA.yaml NUM_GPUS 1 \
    OUTPUT_DIR "$out/synthetic_gta_torchrun" 2>&1 | tail -n 5
exit "$tests_status"
