#!/usr/bin/env bash
# The GPU checklist of docs/gpu.md in one call (written for the lent GPU machine):
#   bash scripts/gpu_check.sh [SUITE_SECONDS] [BENCH_SECONDS]
# SECTIONS=steps (speed.py --sections) and TRAIN=0 make a shorter recheck.
# Logs and results go to $OUT (default /tmp/gpu-check): env.txt, suite-generic.log,
# suite-kernels.log, train.log, gpu.md (+ .json), bench.log.
set -u
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
SUITE_SECONDS=${1:-160}; BENCH_SECONDS=${2:-150}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg MINIDL_REQUIRE_TORCH=1
export CUPY_CACHE_DIR=/tmp/cupy-cache
PY=python3
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
  $PY -c "import cupy, torch, numpy, scipy; print('cupy', cupy.__version__, 'torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'numpy', numpy.__version__, 'scipy', scipy.__version__); print(cupy.cuda.runtime.getDeviceProperties(0)['name'])"
  $PY -m pip list 2>/dev/null | grep -iE "^(pytest|hypothesis|xdist|pytest-xdist|pytest-timeout|tqdm|matplotlib|safetensors|pillow) "
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# 1 + 2: the whole suite on the GPU, generic array code and through the kernels, at once
suite() {  # $1: 0|1 kernels, $2: log
  MINIDL_CUDA_KERNELS=$1 timeout "$SUITE_SECONDS" $PY -m pytest --device cuda -n 6 -q -rfEs \
    -p no:cacheprovider --timeout 120 -o addopts="" > "$2" 2>&1
  echo "exit $?" >> "$2"
}
suite 0 "$OUT/suite-generic.log" &
suite 1 "$OUT/suite-kernels.log" &
# 4: train on the digits with the GPU (kernels on), while the suites run
[ "${TRAIN:-1}" = 1 ] && ( MINIDL_CUDA_KERNELS=1 timeout "$SUITE_SECONDS" $PY -m minidl train --device cuda \
    --out /tmp/run-digits > "$OUT/train.log" 2>&1; echo "exit $?" >> "$OUT/train.log" ) &
wait
for f in suite-generic suite-kernels train; do
  [ -f "$OUT/$f.log" ] && { echo "== $f"; grep -E "^(FAILED|ERROR)|passed|failed|best test|exit" "$OUT/$f.log"; }
done

# 3: the benchmark against PyTorch eager + cuDNN (kernels on), alone on the GPU
MINIDL_CUDA_KERNELS=1 timeout "$BENCH_SECONDS" $PY benchmarks/speed.py --device cuda \
  --steps 10 --warmup 3 --sections "${SECTIONS:-steps,layers,memory}" --out "$OUT/gpu.md" \
  > "$OUT/bench.log" 2>&1
echo "bench exit $?" >> "$OUT/bench.log"
grep -E "^\| |exit" "$OUT/bench.log"

# the same steps through the generic array code, to see what the kernels buy
[ "${GENERIC:-1}" = 1 ] && MINIDL_CUDA_KERNELS=0 timeout 60 $PY benchmarks/speed.py --device cuda --sections steps \
  --steps 8 --warmup 3 --out "$OUT/gpu-generic.md" > /dev/null 2>&1
grep -E "^\| " "$OUT/gpu-generic.md"
# where the GPU time of a minidl step goes (kernels on)
timeout 90 $PY benchmarks/gpu_profile.py --models "${PROFILE:-resnet18,inception,densenet,mobilenet_v1}" \
  --steps 3 > "$OUT/profile.md" 2>&1
cat "$OUT/profile.md"
