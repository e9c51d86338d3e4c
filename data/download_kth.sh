#!/usr/bin/env bash
# Download the KTH Actions videos and sequence file into DIR (default: kth_raw), then convert:
#   python data/convert_kth.py --raw_dir=DIR --out_dir=kth_64 --sequences_file=DIR/00sequences.txt
set -euo pipefail
DIR="${1:-kth_raw}"
BASE="http://www.csc.kth.se/cvap/actions"
mkdir -p "$DIR"
cd "$DIR"
for action in walking jogging running boxing handwaving handclapping; do
  [ -f "$action.zip" ] || wget -q --show-progress "$BASE/$action.zip"
  unzip -qon "$action.zip"
done
[ -f 00sequences.txt ] || wget -q "$BASE/00sequences.txt"
echo "KTH videos are in $DIR"
