# nginx + nchan for httmcp, from the SAME Debian packages `npm test` installs (scripts/setup.mjs) and the
# integration tests run against. Build context: the repository root
#   docker build -f docker/nginx.Dockerfile -t httmcp-nginx .
# Configuration is the ${HTTMCP_*} environment contract of docker/nginx-entrypoint.sh
# (see docker/README.md); the config itself is nginx/nginx.conf.template, rendered at start.

# nchan with its WebSocket-close crash fixed, built against the same nginx package by the same
# script CI runs (scripts/build-nchan-module.sh; docs/operations.md, "Known issue").
FROM debian:bookworm-slim AS nchan-fixed
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light
COPY scripts/build-nchan-module.sh /build/
COPY scripts/nchan-patches/ /build/nchan-patches/
RUN bash /build/build-nchan-module.sh /out/ngx_nchan_module.so

FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive

# The package's own site config is never loaded (we run `nginx -c <rendered>`); dropped anyway.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light libnginx-mod-nchan libnginx-mod-http-headers-more-filter gettext-base \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/nginx/sites-enabled/default \
 && nginx -V 2>&1 | head -n 1 \
 && test -f /usr/lib/nginx/modules/ngx_nchan_module.so \
 && test -f /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so

COPY --from=nchan-fixed /out/ngx_nchan_module.so /usr/local/lib/httmcp/ngx_nchan_module.so
COPY nginx/nginx.conf.template /etc/httmcp/nginx.conf.template
COPY docker/nginx-entrypoint.sh /usr/local/bin/httmcp-nginx-entrypoint
COPY docker/nginx-healthcheck.sh /usr/local/bin/httmcp-nginx-healthcheck

# The prefix holds the rendered config (0600: it holds the backend key), pid file, temp dirs and
# core.sock (edge -> core). The master runs as root and workers as www-data, so the prefix is
# for root and the www-data group only (0750; the entrypoint sets it again for a mounted prefix).
RUN chmod 0755 /usr/local/bin/httmcp-nginx-entrypoint /usr/local/bin/httmcp-nginx-healthcheck \
 && mkdir -p /var/lib/httmcp/tmp \
 && chown root:www-data /var/lib/httmcp \
 && chmod 0750 /var/lib/httmcp \
 && chmod 0755 /var/lib/httmcp/tmp

ENV HTTMCP_TEMPLATE=/etc/httmcp/nginx.conf.template \
    HTTMCP_NCHAN_MODULE=/usr/local/lib/httmcp/ngx_nchan_module.so \
    HTTMCP_PREFIX=/var/lib/httmcp \
    HTTMCP_PUBLIC_LISTEN=0.0.0.0:8080 \
    HTTMCP_PUBLISH_LISTEN=0.0.0.0:8081

# 8080: public edge (publish it). 8081: nchan publish listener for the backend only; keep it on
# the internal network, never publish it.
EXPOSE 8080 8081

HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/usr/local/bin/httmcp-nginx-healthcheck"]

# SIGQUIT: graceful shutdown (workers finish their requests); SIGTERM would drop them at once.
STOPSIGNAL SIGQUIT

ENTRYPOINT ["/usr/local/bin/httmcp-nginx-entrypoint"]
