#!/bin/bash
# usage: OLD_CLI=... OLD_MODULE=... ab.sh REDIS_PORT FIRST_HTTP_PORT ROUNDS
# Alternates two builds (old, new: this checkout), a fresh 2-worker stack on one Redis per run,
# `redis-cli flushall` before each, one cold.mjs pass (80 first streams). Run it with the busy loops.
R=$1; P=$2; N=$3; here=$(cd "$(dirname "$0")" && pwd)
for r in $(seq 1 "$N"); do
  for v in old new; do
    if [ $v = old ]; then cli=$OLD_CLI; mod=$OLD_MODULE; else cli=$here/../../dist/src/cli/main.js; mod=$here/many.mjs; fi
    redis-cli -p "$R" flushall >/dev/null
    node "$cli" serve "$mod" --port "$P" --workers 2 --redis "redis://127.0.0.1:$R" --client-rate 100000 --client-burst 100000 > "/tmp/ab-$P.log" 2>&1 &
    sp=$!
    for i in $(seq 1 60); do grep -q "is up" "/tmp/ab-$P.log" && break; sleep 0.5; done
    echo "$v $P $(node "$here/cold.mjs" "http://127.0.0.1:$P" 40) load $(cut -d' ' -f1 /proc/loadavg)"
    kill $sp; sleep 1.5; P=$((P+1))
  done
done
