#!/usr/bin/env bash
# Multi-worker training on one host: start N workers with TF_CONFIG on localhost ports, each
# running `python -m svg_tf.train --strategy=multi_worker` with the remaining flags.
#   launch/multi_worker_local.sh 2 --dataset=smmnist --logdir=runs/mw --niter=1 --epoch_size=5
# Worker 0 is the chief: it writes the run directory; worker i>0 keeps its checkpoints under
# LOGDIR/workers/worker_i. On several hosts, set TF_CONFIG on each host the same way.
set -euo pipefail
N="${1:?usage: launch/multi_worker_local.sh NUM_WORKERS [train flags...]}"
shift
PORTS=$(python - "$N" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("localhost", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
)
WORKERS=$(printf '"localhost:%s",' $PORTS)
WORKERS="[${WORKERS%,}]"
pids=()
for ((i = 0; i < N; i++)); do
  TF_CONFIG="{\"cluster\": {\"worker\": $WORKERS}, \"task\": {\"type\": \"worker\", \"index\": $i}}" \
    python -m svg_tf.train --strategy=multi_worker "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
exit $status
