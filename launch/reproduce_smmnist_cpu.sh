#!/usr/bin/env bash
# Reproduce the paper's SM-MNIST findings on a CPU budget and write docs/reproduction.md.
#   launch/reproduce_smmnist_cpu.sh                 # default: 2000 steps per model, ~75 min
#   STEPS=4800 launch/reproduce_smmnist_cpu.sh      # ~40 min of training per model
#   BENCH=bench.json ...                            # price the paper's schedule from a bench
# CPU preset (deviations from the paper, all written into the report): one digit, conv
# width 32 instead of 64, batch 16; same model family, losses and evaluation protocol.
# Trains SVG-LP, SVG-FP and the deterministic baseline with the same budget and seed,
# evaluates them (best of SAMPLES on SEQUENCES fixed test sequences), runs the figure 5 and
# 6 analyses and makes sample GIFs. Everything goes to RUNS (default runs/repro) and docs/.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-2000}"
EPOCH="${EPOCH:-500}"
WIDTH="${WIDTH:-32}"
SAMPLES="${SAMPLES:-100}"
SEQUENCES="${SEQUENCES:-100}"
# Test sequences sampled together: with the default batch norm mode (the authors' test-batch
# statistics) they share statistics at every frame; the authors used 100.
BATCH="${BATCH:-10}"
RUNS="${RUNS:-runs/repro}"
DIGITS="${DIGITS:-auto}"
NITER=$(( (STEPS + EPOCH - 1) / EPOCH ))
# Resolve "auto" once so every step and the report name the digits actually used.
DIGITS=$(python -W ignore -c "from svg_tf.datasets.mnist_digits import load_digits
print(load_digits('test', '$DIGITS')[2])" | tail -1)
COMMAND="STEPS=$STEPS EPOCH=$EPOCH WIDTH=$WIDTH SAMPLES=$SAMPLES SEQUENCES=$SEQUENCES BATCH=$BATCH DIGITS=$DIGITS launch/reproduce_smmnist_cpu.sh"
COMMON=(--dataset=smmnist --num_digits=1 --width="$WIDTH" --batch_size=16 --seed=1
        --digits="$DIGITS" --niter="$NITER" --epoch_size="$EPOCH" --verbose=0)
start=$(date +%s)
for model in lp fp det; do
  echo "== training $model ($((NITER * EPOCH)) steps)"
  python -m svg_tf.train "${COMMON[@]}" --model="$model" --logdir="$RUNS/$model"
  echo "== evaluating $model"
  python -m svg_tf.evaluate --logdir="$RUNS/$model" --num_samples="$SAMPLES" \
    --num_sequences="$SEQUENCES" --batch_size="$BATCH" --digits="$DIGITS"
  python -m svg_tf.generate --logdir="$RUNS/$model" --out="$RUNS/$model/samples.gif" \
    --num_samples="$SAMPLES" --digits="$DIGITS"
done
python -m svg_tf.evaluate --compare="$RUNS/lp,$RUNS/fp,$RUNS/det" --out="$RUNS/compare"
echo "== analyses"
python -m svg_tf.analysis.prior_sigma --logdir="$RUNS/lp" --digits="$DIGITS"
python -m svg_tf.analysis.trajectories --logdir="$RUNS/lp" --digits="$DIGITS"
python -m svg_tf.analysis.trajectories --logdir="$RUNS/det" --digits="$DIGITS"
python tools/reproduction_report.py --runs="$RUNS" --out=docs --command="$COMMAND" \
  --digits="$DIGITS" --seconds=$(( $(date +%s) - start )) ${BENCH:+--bench="$BENCH"}
echo "== done in $(( $(date +%s) - start )) s: docs/reproduction.md"
