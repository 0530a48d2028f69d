#!/bin/bash
# httmcp nginx+nchan container entrypoint.
#
# Renders nginx/nginx.conf.template (the ONE config source, shared with the local launcher and
# the tests) with envsubst, tests it, and runs nginx in the foreground.
#
# Every ${HTTMCP_*} placeholder of the template is an environment variable. The list is read from
# the template itself (same rule as placeholders() in src/stack/nginx-config.ts), so the template
# can grow; a placeholder without a value here or in the environment stops the container.
# Only those names are given to envsubst, so nginx's own $variables pass through untouched.
#
# Controls (not placeholders):
#   HTTMCP_TEMPLATE     template to render        (default /etc/httmcp/nginx.conf.template)
#   HTTMCP_CONFIG       rendered config path      (default $HTTMCP_PREFIX/nginx.conf)
#   HTTMCP_NGINX        nginx binary              (default nginx)
#   HTTMCP_RENDER_ONLY  1: render, print the config path and exit (no `nginx -t`, no server;
#                       for inspecting the config where the backend's name does not resolve)
#
# Arguments, if any, are run instead of nginx after rendering, without `nginx -t` (e.g. `bash`
# to look at a config nginx rejects).
set -euo pipefail

die() {
  printf 'httmcp-nginx: %s\n' "$*" >&2
  exit 1
}

# default NAME VALUE: NAME unless it is set and non-empty. An empty value falls back too: for
# these names it is never meant (an empty HTTMCP_ALLOWED_ORIGINS would allow every Origin).
default() {
  if [ -z "${!1:-}" ]; then
    printf -v "$1" '%s' "$2"
  fi
  export "${1?}"
}

# optional NAME VALUE: NAME only when unset; an empty value is kept (it switches a feature off).
optional() {
  if [ -z "${!1+set}" ]; then
    printf -v "$1" '%s' "$2"
  fi
  export "${1?}"
}

HTTMCP_TEMPLATE=${HTTMCP_TEMPLATE:-/etc/httmcp/nginx.conf.template}
HTTMCP_NGINX=${HTTMCP_NGINX:-nginx}
[ -r "$HTTMCP_TEMPLATE" ] || die "template $HTTMCP_TEMPLATE is not readable"

# ---- container defaults (keep in step with src/stack/stack.ts LIMITS and
#      src/stack/nginx-config.ts DEFAULT_ALLOWED_ORIGINS; test/integration/docker.test.ts checks)
default HTTMCP_PREFIX /var/lib/httmcp
default HTTMCP_NCHAN_MODULE /usr/lib/nginx/modules/ngx_nchan_module.so
default HTTMCP_HEADERS_MORE_MODULE /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so
default HTTMCP_WORKER_PROCESSES auto
# Workers drop to www-data when the master runs as root; nginx ignores `user` otherwise.
if [ "$(id -u)" = 0 ]; then
  optional HTTMCP_USER_DIRECTIVE 'user www-data;'
else
  optional HTTMCP_USER_DIRECTIVE ''
fi
# Every session holds two or three nginx connections: allow workers the hard file limit (capped).
hard_nofile=$(ulimit -Hn)
if [ "$hard_nofile" = unlimited ] || [ "$hard_nofile" -gt 1048576 ]; then hard_nofile=1048576; fi
default HTTMCP_WORKER_NOFILE "$hard_nofile"
case $HTTMCP_WORKER_NOFILE in
  '' | *[!0-9]*) die "HTTMCP_WORKER_NOFILE must be a number, got '$HTTMCP_WORKER_NOFILE'" ;;
esac
# Same rule as connectionLimits() in src/stack/nginx-config.ts: all but a reserve of the files
# for connections, and a fifth of all workers' connections as clients at the edge.
if [ "$HTTMCP_WORKER_NOFILE" -gt 4096 ]; then
  default HTTMCP_WORKER_CONNECTIONS "$((HTTMCP_WORKER_NOFILE - 1024))"
else
  default HTTMCP_WORKER_CONNECTIONS "$((HTTMCP_WORKER_NOFILE / 2))"
fi
case $HTTMCP_WORKER_PROCESSES in
  auto) workers=$(nproc) ;;
  *) workers=$HTTMCP_WORKER_PROCESSES ;;
esac
keepalive=$((HTTMCP_WORKER_CONNECTIONS / 16))
[ "$keepalive" -ge 64 ] || keepalive=64
[ "$keepalive" -le 1024 ] || keepalive=1024
default HTTMCP_BACKEND_KEEPALIVE "$keepalive"
max_clients=$(((workers * (HTTMCP_WORKER_CONNECTIONS - 192 - HTTMCP_BACKEND_KEEPALIVE)) / 5))
[ "$max_clients" -ge 1 ] || max_clients=1
# nginx refuses a limit_conn above 65535.
[ "$max_clients" -le 65535 ] || max_clients=65535
default HTTMCP_MAX_CLIENTS "$max_clients"
# The operator console's access rules (consoleAccess() in nginx-config.ts): this container only,
# unless set (for example 'allow 10.0.0.0/8; deny all;').
default HTTMCP_CONSOLE_ACCESS 'allow 127.0.0.1; allow ::1; deny all;'

# Per client (src/stack/nginx-config.ts DEFAULT_CLIENT_LIMITS): requests held open, requests per
# second and the burst above that rate.
default HTTMCP_CLIENT_CONNECTIONS 64
default HTTMCP_CLIENT_RATE 20
default HTTMCP_CLIENT_BURST 50
# Per authenticated principal and server (DEFAULT_PRINCIPAL_LIMITS; docs/auth.md "Rate limits"):
# the same three, and the rate and burst for one tool named in Mcp-Name. Unused with auth off.
default HTTMCP_PRINCIPAL_CONNECTIONS 128
default HTTMCP_PRINCIPAL_RATE 50
default HTTMCP_PRINCIPAL_BURST 100
default HTTMCP_PRINCIPAL_TOOL_RATE 20
default HTTMCP_PRINCIPAL_TOOL_BURST 40
for name in HTTMCP_CLIENT_CONNECTIONS HTTMCP_CLIENT_RATE HTTMCP_CLIENT_BURST HTTMCP_PRINCIPAL_CONNECTIONS HTTMCP_PRINCIPAL_RATE \
  HTTMCP_PRINCIPAL_BURST HTTMCP_PRINCIPAL_TOOL_RATE HTTMCP_PRINCIPAL_TOOL_BURST; do
  case ${!name} in
    '' | *[!0-9]*) die "$name must be a whole number, got '${!name}'" ;;
  esac
done
# HTTMCP_TRUSTED_PROXIES: addresses or CIDRs (comma- or space-separated) of the proxies in front,
# whose X-Forwarded-For then names the client (trustedProxyEntries() in nginx-config.ts). Unset
# or empty: the header is ignored. HTTMCP_TRUSTED_PROXY_ENTRIES, if set, is used as given instead.
if [ -z "${HTTMCP_TRUSTED_PROXY_ENTRIES+set}" ]; then
  HTTMCP_TRUSTED_PROXY_ENTRIES=''
  proxies=${HTTMCP_TRUSTED_PROXIES:-}
  for proxy in ${proxies//,/ }; do
    case $proxy in
      *[!0-9A-Fa-f.:/]* | */*/*) die "HTTMCP_TRUSTED_PROXIES: '$proxy' is not an IP address or CIDR range" ;;
    esac
    HTTMCP_TRUSTED_PROXY_ENTRIES="${HTTMCP_TRUSTED_PROXY_ENTRIES:+$HTTMCP_TRUSTED_PROXY_ENTRIES }$proxy 1;"
  done
fi
export HTTMCP_TRUSTED_PROXY_ENTRIES
# Same rule as coreSockets() in src/stack/nginx-config.ts: enough unix sockets for the edge-to-core
# hop that the client cap fits in their listen queues (the backlog asked for, capped by
# net.core.somaxconn), at most 16. A full unix-socket queue refuses connect() (502).
core_backlog=${HTTMCP_CORE_BACKLOG:-65535}
case $core_backlog in
  '' | *[!0-9]* | 0) die "HTTMCP_CORE_BACKLOG must be a positive integer, got '$core_backlog'" ;;
esac
somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 4096)
core_queue=$((core_backlog < somaxconn ? core_backlog : somaxconn))
core_sockets=$(((HTTMCP_MAX_CLIENTS + core_queue - 1) / core_queue))
[ "$core_sockets" -ge 1 ] || core_sockets=1
[ "$core_sockets" -le 16 ] || core_sockets=16
core_listen=''
core_servers=''
for i in $(seq 1 "$core_sockets"); do
  if [ "$i" = 1 ]; then socket=$HTTMCP_PREFIX/core.sock; else socket=$HTTMCP_PREFIX/core-$i.sock; fi
  core_listen="$core_listen${core_listen:+ }listen unix:$socket backlog=$core_backlog;"
  core_servers="$core_servers${core_servers:+ }server unix:$socket max_fails=0;"
done
default HTTMCP_CORE_LISTEN "$core_listen"
default HTTMCP_CORE_SERVERS "$core_servers"
default HTTMCP_ERROR_LOG stderr
default HTTMCP_NGINX_LOG_LEVEL notice
default HTTMCP_WORKER_SHUTDOWN_TIMEOUT 10s
default HTTMCP_ACCESS_LOG off
# A bare file (/dev/stdout) gets the template's `httmcp` format (combined + Mcp-Method, Mcp-Name),
# as accessLogDirective() in src/stack/nginx-config.ts does.
case $HTTMCP_ACCESS_LOG in
  off | *' '*) ;;
  *) HTTMCP_ACCESS_LOG="$HTTMCP_ACCESS_LOG httmcp" ;;
esac
export HTTMCP_ACCESS_LOG
default HTTMCP_PUBLIC_LISTEN 0.0.0.0:8080
# The backend's publish target (HTTMCP_PUBLISH_URL=http://nginx:8081). Reachable on the
# compose-internal network only: never publish this port.
default HTTMCP_PUBLISH_LISTEN 0.0.0.0:8081
default HTTMCP_BACKEND_SERVERS 'server backend:3000;'
default HTTMCP_ALLOWED_ORIGINS '^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?$'
default HTTMCP_SSE_RETRY_MS 1000
default HTTMCP_ALLOWED_HOSTS '^(localhost|127\.0\.0\.1|\[::1\])$'
default HTTMCP_MESSAGE_BUFFER_LENGTH 200
default HTTMCP_MESSAGE_TIMEOUT 10m
default HTTMCP_SUBREQUEST_BUFFER 64k
default HTTMCP_MAX_BODY 4m
default HTTMCP_MAX_PUBLISH 16m
optional HTTMCP_REDIS_UPSTREAM ''
optional HTTMCP_REDIS_PASS ''
# With the Redis store the listen channels keep their last message (see the template).
if [ -n "${HTTMCP_REDIS_PASS:-}" ]; then default HTTMCP_LISTEN_KEEP 1; else default HTTMCP_LISTEN_KEEP 0; fi
# Authentication (docs/auth.md): on when the backend is given an issuer or API keys. Give this
# container the same HTTMCP_OAUTH_ISSUER / HTTMCP_API_KEYS (only whether they are set matters here).
if [ -n "${HTTMCP_OAUTH_ISSUER:-}${HTTMCP_API_KEYS:-}" ]; then
  default HTTMCP_AUTH_REQUEST /_httmcp/auth
else
  default HTTMCP_AUTH_REQUEST off
fi
# 2026-07-28 requests go from the edge straight to the backend only with authentication off
# (modernAtEdge() in nginx-config.ts): derived, never set on its own.
if [ "$HTTMCP_AUTH_REQUEST" = off ]; then
  HTTMCP_2026_AT_EDGE=on
else
  HTTMCP_2026_AT_EDGE=off
fi
export HTTMCP_2026_AT_EDGE
# With authentication on, the client's token stops at the edge (backendCredential() in
# nginx-config.ts) unless a backend exchanges it for an API's (HTTMCP_TOKEN_EXCHANGE_SCHEME).
if [ -n "${HTTMCP_OAUTH_ISSUER:-}${HTTMCP_API_KEYS:-}" ] && [ -z "${HTTMCP_TOKEN_EXCHANGE_SCHEME:-}" ]; then
  optional HTTMCP_BACKEND_CREDENTIAL 'proxy_set_header Authorization "";'
else
  optional HTTMCP_BACKEND_CREDENTIAL ''
fi
# The edge's first read of a request holds a bearer token too (clientHeaderBuffer() in nginx-config.ts).
if [ -n "${HTTMCP_OAUTH_ISSUER:-}${HTTMCP_API_KEYS:-}" ]; then
  default HTTMCP_CLIENT_HEADER_BUFFER 4k
else
  default HTTMCP_CLIENT_HEADER_BUFFER 1k
fi
# No /healthz instance header by default (the local launcher sets one per start).
optional HTTMCP_INSTANCE_ID ''
# Backends serve only requests with this key (src/http/backend-guard.ts): derived from the
# session secret the backends share, the same way deriveBackendKey() does.
if [ -z "${HTTMCP_BACKEND_KEY:-}" ]; then
  [ -n "${HTTMCP_SESSION_SECRET:-}" ] ||
    die "set HTTMCP_SESSION_SECRET (the backends' value; nginx derives the key it proves itself with from it) or HTTMCP_BACKEND_KEY"
  HTTMCP_BACKEND_KEY=$(printf 'httmcp backend key\n%s' "$HTTMCP_SESSION_SECRET" | sha256sum | cut -d' ' -f1)
fi
export HTTMCP_BACKEND_KEY

HTTMCP_CONFIG=${HTTMCP_CONFIG:-$HTTMCP_PREFIX/nginx.conf}

# ---- the placeholder list, from the template
names=$(grep -o '\${HTTMCP_[A-Z0-9_][A-Z0-9_]*}' "$HTTMCP_TEMPLATE" | sed 's/^\${//; s/}$//' | sort -u)
[ -n "$names" ] || die "no \${HTTMCP_*} placeholder in $HTTMCP_TEMPLATE: wrong file?"
shell_format=''
missing=''
for name in $names; do
  if [ -z "${!name+set}" ]; then missing="$missing $name"; fi
  shell_format="$shell_format \${$name}"
done
[ -z "$missing" ] || die "no value for template placeholder(s):$missing (set them in the environment)"

# ---- runtime directories: the workers' group (www-data) must traverse the prefix to reach
#      core.sock, nobody else may (0750); nginx creates tmp/client_body and tmp/proxy itself
#      (owned by the worker user).
mkdir -p "$HTTMCP_PREFIX/tmp" "$(dirname "$HTTMCP_CONFIG")"
if [ "$(id -u)" = 0 ]; then
  worker_user=$(printf '%s' "$HTTMCP_USER_DIRECTIVE" | sed -n 's/^[[:space:]]*user[[:space:]]\{1,\}\([^[:space:];]*\).*/\1/p')
  worker_group=$(printf '%s' "$HTTMCP_USER_DIRECTIVE" | sed -n 's/^[[:space:]]*user[[:space:]]\{1,\}[^[:space:];]*[[:space:]]\{1,\}\([^[:space:];]*\).*/\1/p')
  if [ -n "$worker_user" ]; then
    [ -n "$worker_group" ] || worker_group=$(id -gn "$worker_user") || die "no user $worker_user (HTTMCP_USER_DIRECTIVE)"
    chown "root:$worker_group" "$HTTMCP_PREFIX"
    chmod 0750 "$HTTMCP_PREFIX"
  else
    chmod 0700 "$HTTMCP_PREFIX"
  fi
  chmod 0755 "$HTTMCP_PREFIX/tmp"
fi

# ---- render
rendered="$HTTMCP_CONFIG.tmp.$$"
# 0600: the config holds the backend key.
(umask 077 && envsubst "$shell_format" <"$HTTMCP_TEMPLATE" >"$rendered")
# Comment lines may mention ${HTTMCP_*} (the template's header does); anything else is an error.
if grep -n '\${HTTMCP_' "$rendered" | grep -v '^[0-9]*:[[:space:]]*#' >&2; then
  rm -f "$rendered"
  die "the lines above still hold \${HTTMCP_...} after rendering $HTTMCP_TEMPLATE (malformed placeholder?)"
fi
mv -f "$rendered" "$HTTMCP_CONFIG"

if [ "${HTTMCP_RENDER_ONLY:-}" = 1 ]; then
  printf '%s\n' "$HTTMCP_CONFIG"
  exit 0
fi
if [ "$#" -gt 0 ]; then
  exec "$@"
fi

# ---- test, then run (nginx replaces this shell: it is PID 1 in the container and gets signals)
"$HTTMCP_NGINX" -e stderr -p "$HTTMCP_PREFIX" -c "$HTTMCP_CONFIG" -t -q ||
  die "nginx rejected $HTTMCP_CONFIG (rendered from $HTTMCP_TEMPLATE); see the messages above"
exec "$HTTMCP_NGINX" -e stderr -p "$HTTMCP_PREFIX" -c "$HTTMCP_CONFIG" -g 'daemon off;'
