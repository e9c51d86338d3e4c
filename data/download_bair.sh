#!/usr/bin/env bash
# Download and extract BAIR robot pushing (softmotion30_44k, ~30 GB) into DIR (default: bair).
# Train with: python -m svg_tf.train --dataset=bair --data_dir=DIR/softmotion30_44k
set -euo pipefail
DIR="${1:-bair}"
URL="http://rail.eecs.berkeley.edu/datasets/bair_robot_pushing_dataset_v0.tar"
mkdir -p "$DIR"
cd "$DIR"
[ -f bair_robot_pushing_dataset_v0.tar ] || wget -q --show-progress "$URL"
tar -xf bair_robot_pushing_dataset_v0.tar
echo "BAIR TFRecords are in $DIR/softmotion30_44k/{train,test}"
