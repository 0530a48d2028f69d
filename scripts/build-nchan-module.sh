#!/bin/bash
# Builds a fixed nchan module (ngx_nchan_module.so) for Debian 12's nginx from Debian's nchan
# source, and installs it to /usr/local/lib/httmcp/ngx_nchan_module.so (or $1).
# Run as root on Debian 12 (bookworm). Idempotent: safe to run again; it rebuilds from scratch.
#
# What it fixes: a worker SIGSEGV in nchan 1.3.6 (Debian's libnginx-mod-nchan; still in 1.3.7)
# when a WebSocket closes while one of its frames is on the upstream hop to the backend
# (docs/operations.md, "Known issue: a SIGSEGV inside nchan 1.3.6 ..."; reproducer:
# bench/nchan-close-crash.mjs). `ws_get_msgpool` in src/subscribers/websocket.c creates each
# frame's pool with the client connection's log; that pool becomes the pool of the fake request
# that carries the frame upstream and can outlive the connection, and `ngx_destroy_pool` (called
# from `fakerequest_cleanup_timer_handler`) then reads `pool->log` from freed memory. The patch,
# scripts/nchan-patches/01-ws-msgpool-log.patch, creates that pool with `ngx_cycle->log`, as nchan's other
# pools are. 02-ws-upstream-queue.patch frees the frames still queued for the upstream hop when
# their WebSocket closes (each kept a worker connection until the worker exited) and queues at
# most 2 frames per WebSocket, reading the socket on when one is answered (docs/operations.md,
# "Known issue: WebSocket frames queued for the upstream hop leaked worker connections").
# 03-graceful-shutdown.patch: `nginx -s reload` with event streams open killed the old
# workers (signal 11) at worker_shutdown_timeout and left their streams deaf to new messages
# (docs/operations.md, "nginx is reloaded"; test/integration/reload.test.ts).
# 04-ws-publish-callback-ctx.patch stops a WebSocket's publish callback from writing into its
# request context after the request was freed (a Redis answer arriving after the socket closed).
# 05-ws-upstream-sync-answer.patch handles a frame's upstream request that fails at once (nginx
# answers 502 inside the call that starts it) instead of reading its handle uninitialised.
# 06-ws-publish-at-worker-exit.patch keeps a Redis publish that fails at a worker's exit from
# finalizing its WebSocket into the memory store's already freed spools.
# 07-unsubscribe-hook-behind-frame.patch starts a WebSocket's unsubscribe hook that was queued
# behind a frame still on the upstream hop when the socket closed, instead of dropping it.
# Each patch's header says what it fixes.
#
# Use the result with:  HTTMCP_NCHAN_MODULE=/usr/local/lib/httmcp/ngx_nchan_module.so
#
# Source: the orig tarball of Debian's trixie package libnginx-mod-nchan (nchan 1.3.7+dfsg: the
# same bug; since 1.3.6 only Redis, DELETE and message-id fixes), from the Debian mirror, checked
# against its SHA-256 from trixie's Sources index. Bookworm's own 1.3.6 source files were not
# served by the mirror this was made on. It is compiled against the installed nginx's headers and
# configure flags (package nginx-dev, as Debian's dh-sequence-nginx builds its module packages),
# so the module's ABI matches the installed nginx.
#
# `--check [DEST]` builds nothing: it exits 0 when DEST was built by this script from exactly the
# current patches and settings for the installed nginx (its `.stamp` file matches), 1 otherwise.
# `npm start` and `npm test` (scripts/setup.mjs) use it to rebuild only when something changed.
#
# Env: NCHAN_BUILD_DIR (default /var/tmp/httmcp-nchan-build), JOBS (default: nproc),
# HTTMCP_NCHAN_WS_QUEUE (default 2: messages of one WebSocket nchan holds for the upstream hop
# before it stops reading the socket; see 02-ws-upstream-queue.patch).
set -euo pipefail

CHECK_ONLY=''
if [ "${1:-}" = --check ]; then CHECK_ONLY=1; shift; fi
DEST=${1:-/usr/local/lib/httmcp/ngx_nchan_module.so}
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")
PATCHES=("$HERE"/nchan-patches/*.patch)
WS_QUEUE=${HTTMCP_NCHAN_WS_QUEUE:-2}

# What the module is built from: this script, the patches and the installed nginx. A module whose
# stamp differs was built from something else and is rebuilt.
stamp() {
  { cat "$SELF" "${PATCHES[@]}"; echo "ws-queue=$WS_QUEUE"; dpkg-query -W -f '${Version}' nginx 2>/dev/null; } | sha256sum | cut -d' ' -f1
}
if [ -n "$CHECK_ONLY" ]; then
  [ -f "$DEST" ] && [ -f "$DEST.stamp" ] && [ "$(cat "$DEST.stamp")" = "$(stamp)" ]
  exit $?
fi
WORK=${NCHAN_BUILD_DIR:-/var/tmp/httmcp-nchan-build}
JOBS=${JOBS:-$(nproc)}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SOURCE_TAR=libnginx-mod-nchan_1.3.7+dfsg.orig.tar.xz
SOURCE_SHA256=a9a54d29ba2e318423c4ec3328e86ac568a8230afa3a32254ca5000b3bebe928

log() { echo "build-nchan-module: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || die "made for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}"
[ -f "${PATCHES[0]}" ] || die "no patches in $HERE/nchan-patches"
[[ "$WS_QUEUE" =~ ^[1-9][0-9]{0,3}$ ]] || die "HTTMCP_NCHAN_WS_QUEUE must be a whole number from 1 to 9999, got '$WS_QUEUE'"
export DEBIAN_FRONTEND=noninteractive

# 1. Build tools and nginx-dev for exactly the installed nginx (nginx-dev carries its headers and
#    configure flags; another version would build a module the installed nginx refuses).
NGINX_VERSION=$(dpkg-query -W -f '${Version}' nginx 2>/dev/null) || die "package nginx is not installed"
missing=()
for p in build-essential dpkg-dev xz-utils patch curl ca-certificates; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "$(dpkg-query -W -f '${Status} ${Version}' nginx-dev 2>/dev/null)" != "install ok installed $NGINX_VERSION" ]; then
  missing+=("nginx-dev=$NGINX_VERSION")
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The source, fresh each run: always the same pinned, hash-checked tarball, so that CI, the
#    nginx image and a developer's machine build the same code.
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
log "downloading $SOURCE_TAR"
curl -fsS --retry 3 -o "$SOURCE_TAR" "$MIRROR/pool/main/libn/libnginx-mod-nchan/${SOURCE_TAR//+/%2b}" || die "could not download $SOURCE_TAR"
echo "$SOURCE_SHA256  $SOURCE_TAR" | sha256sum -c --quiet - || die "$SOURCE_TAR has the wrong SHA-256"
tar xf "$SOURCE_TAR"
SRC=$(ls -d "$WORK"/nchan-*/ | head -1)
SRC=${SRC%/}

# 3. The fixes: every scripts/nchan-patches/*.patch, in name order (each says what it fixes).
for p in "${PATCHES[@]}"; do
  patch -d "$SRC" -p1 --forward --no-backup-if-mismatch < "$p" >/dev/null || die "$(basename "$p") did not apply"
done
grep -q 'msg_pool = ngx_create_pool([^;]*ngx_cycle->log)' "$SRC/src/subscribers/websocket.c" || die "the patch did not take"
if grep -n 'msg_pool = ngx_create_pool([^;]*connection->log)' "$SRC/src/subscribers/websocket.c"; then die "a msg_pool still uses the connection's log"; fi
grep -q 'define NCHAN_WS_UPSTREAM_PENDING_MAX' "$SRC/src/subscribers/websocket.c" || die "the upstream queue patch did not take"
grep -q 'if(!cur->started)' "$SRC/src/util/nchan_fake_request.c" || die "the upstream queue patch did not take"
grep -q 'ipc_write_end_read_handler' "$SRC/src/store/memory/ipc.c" || die "the reload patch (03) did not take"
# the channel counters are written into fsub->ctx only after the zombie-publisher check
awk '/zombie publisher/ { z = 1 } /fsub->ctx->channel_subscriber_last_seen/ { if (!z) bad = 1 } END { exit bad }' \
  "$SRC/src/subscribers/websocket.c" || die "the publish callback patch did not take"
grep -q 'd->subrequest = sr->post_subrequest->data;' "$SRC/src/subscribers/websocket.c" || die "the upstream answer patch did not take"
grep -q 'if(nchan_worker_exiting)' "$SRC/src/subscribers/websocket.c" || die "the worker exit patch did not take"
grep -q 'if(!cur->started && cur->cb == NULL && !cur->manual_cleanup)' "$SRC/src/util/nchan_fake_request.c" || die "the unsubscribe hook patch (07) did not take"

# 4. Build the dynamic module against the installed nginx (as dh-sequence-nginx's nginx_mod does).
log "configuring against nginx $NGINX_VERSION"
BLD=$WORK/build
mkdir -p "$BLD"
(
  cd /usr/share/nginx/src
  . ./conf_flags
  ./configure \
    --with-cc-opt="$(cd "$SRC" && dpkg-buildflags --get CFLAGS) -fPIC $(cd "$SRC" && dpkg-buildflags --get CPPFLAGS) -DNCHAN_WS_UPSTREAM_PENDING_MAX=$WS_QUEUE" \
    --with-ld-opt="$(cd "$SRC" && dpkg-buildflags --get LDFLAGS) -fPIC" \
    "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$SRC" --builddir="$BLD"
) >"$WORK/configure.log" 2>&1 || die "configure failed, see $WORK/configure.log"
# Progress: one line per tenth of the compile (about a minute on 2 cores), so nobody waits blind.
total=$(find "$SRC/src" -name '*.c' | wc -l)
log "compiling about $total files with $JOBS jobs (log: $WORK/make.log)"
set +o pipefail
make -j"$JOBS" -f "$BLD/Makefile" -C /usr/share/nginx/src modules 2>&1 | tee "$WORK/make.log" \
  | awk -v total="$total" '/ -c / { n++; step = int(n * 10 / total); if (step > shown) { shown = step; printf "build-nchan-module: compiled %d of ~%d files\n", n, total > "/dev/stderr" } }'
status=${PIPESTATUS[0]}
set -o pipefail
[ "$status" = 0 ] || die "make failed, see $WORK/make.log"

# 5. Check that nginx loads it, then install.
printf 'load_module %s;\nevents {}\n' "$BLD/ngx_nchan_module.so" > "$WORK/load-test.conf"
/usr/sbin/nginx -g 'error_log /dev/null; pid /dev/null;' -t -q -c "$WORK/load-test.conf" || die "nginx refuses the built module"
install -D -m 0644 "$BLD/ngx_nchan_module.so" "$DEST.new"
stamp > "$DEST.stamp.new"
# Renamed into place, never written over: running nginx processes map the old file.
mv -f "$DEST.new" "$DEST"
mv -f "$DEST.stamp.new" "$DEST.stamp"
log "installed $(basename "$SRC") with ${#PATCHES[@]} patch(es) (WebSocket upstream queue: $WS_QUEUE) from scripts/nchan-patches at $DEST (httmcp's launcher uses it when present)"
echo "$DEST"
