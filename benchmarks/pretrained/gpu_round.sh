#!/bin/bash
# One call on a lent GPU machine (issue 10): trains the GPU recipe (gpu.toml) on all of MOSES,
# resumably, and leaves what must come back under $OUT. Run it again to continue the same run
# while the machine is still held (its files last only while it is warm).
#
# On this (development) machine, once:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl rdkit==2026.9.1 selfies==2.2.0
#   python benchmarks/pretrained/slim_wheel.py .whl/rdkit-*.whl   # 31.8 -> 22.1 MB (LZMA): the repo (43.8 MB)
#                                                                # and the wheels must fit in 64 MiB together
#   (a campaign candidate kept in git, benchmarks/pretrained/candidates/*.ckpt, adds 9.1 MB: ship it
#    first, or move it out of the working tree for the device calls and back afterwards)
# Then one device call after another (device tool `run`, carry [".whl"], timeout_s 600):
#   CHECKS=1 bash benchmarks/pretrained/gpu_round.sh 1   # first call: CUDA tests, GPU speed figures,
#                                                       # data, preprocessing (16 cores), 1 minute of training
#   EPOCHS=N bash benchmarks/pretrained/gpu_round.sh 8   # later calls: 8 more minutes each; EPOCHS (epochs
#                                                       # in all, from the first call's throughput) re-plans the cosine
# Back here: cat files_at/candidate.ckpt.part-* > runs/gpu-candidate.ckpt (check candidate.sha256), then
#   python benchmarks/pretrained/temperature.py --model runs/gpu-candidate.ckpt   # choose its sampling temperature T
#   python benchmarks/pretrained/card.py --model runs/gpu-candidate.ckpt --temperature T --card-out runs/card_gpu.md
# and, if it measures better than the shipped model, ship it with its temperature:
#   mkdir -p runs/gpu-back && cp runs/gpu-candidate.ckpt runs/gpu-back/best.ckpt
#   python benchmarks/pretrained/build.py package --run runs/gpu-back --temperature T && python benchmarks/pretrained/card.py
# Tested on the CPU with a small subset: N=3000 OUT=/tmp/out bash benchmarks/pretrained/gpu_round.sh 1
#
# Argument: minutes of training in this call (default 8); the run stops itself with a checkpoint,
# and SIGTERM at 580 s is the backstop (it saves a checkpoint too). Environment: N (molecules,
# 0 = all of MOSES; default 0), EPOCHS (epochs in all), CHECKS=1 (CUDA tests and speed.py first),
# OUT (where results go; the device sets it).
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/gpu-out}
mkdir -p "$OUT"
if [ -d .whl ] && ! python3 -c "import rdkit, selfies" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD MOLVAE_CACHE_DIR=$PWD/runs/cache PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
N=${N:-0}
RUN=runs/gpu
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$OUT/gpu.txt"
if [ "${CHECKS:-0}" = 1 ]; then
  python3 -m pytest -q tests/train/test_cuda.py 2>&1 | tee "$OUT/cuda_tests.log"
  python3 benchmarks/speed.py --quick --devices cpu,cuda --rss-n 0 2>&1 | tee "$OUT/speed.log"
fi
[ -f $RUN/config.toml ] || python3 benchmarks/pretrained/build.py data --n "$N" --seed 0 2>&1 | tail -1
resume=()
[ -f $RUN/config.toml ] && resume=(--resume)
epochs=()
[ -n "${EPOCHS:-}" ] && epochs=(--epochs "$EPOCHS")
left=$(( 580 - SECONDS ))
timeout -s TERM "$left" python3 benchmarks/pretrained/build.py train --n "$N" --config benchmarks/pretrained/gpu.toml \
  --run $RUN "${resume[@]}" "${epochs[@]}" --chunk-minutes "${1:-8}" --quiet 2>&1 | tail -3
echo "this call took ${SECONDS} s"
cp $RUN/history.csv $RUN/config.toml "$OUT/" 2>/dev/null
cat $RUN/history.csv 2>/dev/null
# the candidate model without optimiser state, in pieces under the 16 MB a returned file may have
if [ -f $RUN/best.ckpt ]; then
  python3 benchmarks/pretrained/build.py package --run $RUN --dest $RUN/candidate.ckpt | tail -1
  rm -f "$OUT"/candidate.ckpt.part-*
  split -b 15M -d $RUN/candidate.ckpt "$OUT/candidate.ckpt.part-"
  sha256sum $RUN/candidate.ckpt | tee "$OUT/candidate.sha256"
fi
