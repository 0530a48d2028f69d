#!/bin/bash
# nginx's user-space instructions per `tools/call` (Streamable HTTP, 2025-06-18), deterministic:
# a copy of a running stack's rendered nginx.conf (own prefix, port, core and publish sockets; the
# same backend) runs as one process under valgrind --tool=callgrind; 50 calls of warm-up, counters
# zeroed, 300 sequential calls over one keep-alive connection, dumped: total Ir / 300.
# SEDF=file.sed edits the copy first (what would a config change save?).
# SEQ=seq-ws.mjs counts WebSocket frames instead (seq-ws.mjs: the same calls over one WebSocket).
#
#   bench/auth-callgrind/run.sh PREFIX LABEL PORT [TOKEN]   (PREFIX: a stack's, from stacks.mjs)
set -e
P=$1; L=$2; PORT=$3; TOKEN=$4
HERE=$(cd "$(dirname "$0")" && pwd)
D=${CG_DIR:-/tmp/httmcp-cg}-$L
rm -rf "$D"; mkdir -p "$D"/logs "$D"/private "$D"/tmp/auth "$D"/tmp/client_body "$D"/tmp/proxy
OLDPORT=$(grep -o "listen 127.0.0.1:[0-9]*" "$P"/nginx.conf | head -1 | cut -d: -f2)
sed "s#$P/backend.sock#KEEPBACKEND#g; s#$P#$D#g; s#KEEPBACKEND#$P/backend.sock#g; s#127.0.0.1:$OLDPORT#127.0.0.1:$PORT#g" "$P"/nginx.conf > "$D"/nginx.conf
if [ -n "$SEDF" ]; then sed -i -f "$SEDF" "$D"/nginx.conf; fi
valgrind --tool=callgrind --callgrind-out-file="$D"/cg.out.%p /usr/sbin/nginx -p "$D" -c "$D"/nginx.conf -g 'daemon off; master_process off;' > "$D"/vg.log 2>&1 &
VPID=$!
for i in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.5; done
SEQ=${SEQ:-seq.mjs}
node "$HERE"/$SEQ "$PORT" 50 $TOKEN > "$D"/warm.json
callgrind_control -z $VPID > /dev/null
node "$HERE"/$SEQ "$PORT" 300 $TOKEN > "$D"/run.json
callgrind_control -d $VPID > /dev/null
sleep 1
kill $VPID; wait $VPID 2>/dev/null || true
F=$(ls -t "$D"/cg.out.*.* | head -1)
T=$(grep -h "^summary:\|^totals:" "$F" | head -1 | awk '{print $2}')
echo "$L Ir_per_call=$((T / 300)) $(cat "$D"/run.json) profile=$F"
