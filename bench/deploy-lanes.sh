#!/usr/bin/env bash
# deploy/twin's Indexed Job on `twin up` (deploy/twin/world.yaml, two stacks): wall time from
# `kubectl create job --from=cronjob/…` to condition Complete with parallelism 2 (the two shards on
# their lanes at once) and 1 (one after the other), two rounds each. Needs kubectl. Prints one line per Job.
set -euo pipefail
cd "$(dirname "$0")/.."
state="$(mktemp -d)"
node bin/rollout-harness.js twin up --config deploy/twin/world.yaml --time-scale 0.05 --state-dir "$state/twin" > "$state/twin.out" 2>&1 &
twin=$!
trap 'kill "$twin" 2>/dev/null; wait "$twin" 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 1 60); do [ -f "$state/twin/env" ] && break; sleep 1; done
set -a; . "$state/twin/env"; set +a
kubectl apply -k deploy/twin > /dev/null
run() { # job name, parallelism
  kubectl -n rollout-harness patch cronjob rollout-harness-nightly --type=json -p "[{\"op\":\"replace\",\"path\":\"/spec/jobTemplate/spec/parallelism\",\"value\":$2}]" > /dev/null
  local start end
  start=$(date +%s%N)
  kubectl -n rollout-harness create job "$1" --from=cronjob/rollout-harness-nightly > /dev/null
  kubectl -n rollout-harness wait --for=condition=complete "job/$1" --timeout=300s > /dev/null
  end=$(date +%s%N)
  echo "$1: parallelism $2, $(( (end - start) / 1000000 )) ms, completedIndexes $(kubectl -n rollout-harness get job "$1" -o jsonpath='{.status.completedIndexes}')"
}
for round in 1 2; do run "parallel-$round" 2; run "sequential-$round" 1; done
