#!/usr/bin/env bash
# Paper experiment: LP on bair with the paper's hyper-parameters (svg_tf/config.py PRESETS:
# batch 100, 300 epochs of 600 steps, Adam lr/beta1 and beta of the preset).
# Extra flags are passed on, e.g. --strategy=mirrored or --logdir=...
set -euo pipefail
exec python -m svg_tf.train --dataset=bair --model=lp --data_dir="${BAIR_DIR:?set BAIR_DIR to softmotion30_44k}" \
  --logdir="${LOGDIR:-runs/bair_lp}" "$@"
