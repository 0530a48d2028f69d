# The httmcp backend (Node): the MCP servers nginx+nchan talks to. Build context: the repository
# root
#   docker build -f docker/app.Dockerfile -t httmcp-backend .
# Runs `httmcp backend` with the example servers. Your own servers: build FROM this image, copy
# your compiled module in and override CMD, e.g. ["backend", "/app/servers.js", "--listen", "0.0.0.0:3000"].

# ---------------------------------------------------------------- build
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY examples ./examples
COPY nginx ./nginx
RUN npm run build

# ---------------------------------------------------------------- runtime
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The config template ships with the package (packageRoot() looks for nginx/nginx.conf.template).
COPY nginx ./nginx
# The operator console's page, served by the backend at /console/ (through nginx).
COPY console ./console

# nchan's publish listener on the nginx container (compose-internal network only). Set
# HTTMCP_SESSION_SECRET to the same value on every backend of a deployment.
ENV HTTMCP_PUBLISH_URL=http://nginx:8081

# Code stays root-owned and read-only; the process runs as the image's unprivileged `node` user.
USER node
EXPOSE 3000

HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node is PID 1: the backend handles SIGTERM/SIGINT itself (closes the listener, flushes publishes).
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["backend", "--listen", "0.0.0.0:3000"]
