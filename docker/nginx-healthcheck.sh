#!/bin/bash
# Healthcheck of the httmcp nginx container: GET /healthz on the public edge must answer 200.
# Uses bash's /dev/tcp, so the image needs no curl. The port comes from HTTMCP_PUBLIC_LISTEN
# (default 0.0.0.0:8080); a wildcard or missing address is probed on 127.0.0.1.
set -euo pipefail
listen=${HTTMCP_PUBLIC_LISTEN:-0.0.0.0:8080}
listen=${listen%% *}            # drop listen parameters (`8080 reuseport`)
case $listen in
  *:*) host=${listen%:*} port=${listen##*:} ;;
  *) host='' port=$listen ;;
esac
case $host in
  '' | '*' | 0.0.0.0 | '[::]') host=127.0.0.1 ;;
esac
host=${host#[}
host=${host%]}
exec 3<>"/dev/tcp/$host/$port"
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 5 status <&3
case $status in
  'HTTP/1.'[01]' 200 '*) exit 0 ;;
  *) printf 'unhealthy: %s\n' "$status" >&2; exit 1 ;;
esac
