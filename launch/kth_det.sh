#!/usr/bin/env bash
# Paper experiment: DET on kth with the paper's hyper-parameters (svg_tf/config.py PRESETS:
# batch 100, 300 epochs of 600 steps, Adam lr/beta1 and beta of the preset).
# Extra flags are passed on, e.g. --strategy=mirrored or --logdir=...
set -euo pipefail
exec python -m svg_tf.train --dataset=kth --model=det --data_dir="${KTH_DIR:?set KTH_DIR to the output of data/convert_kth.py}" \
  --logdir="${LOGDIR:-runs/kth_det}" "$@"
