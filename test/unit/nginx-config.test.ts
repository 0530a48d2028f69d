import { readFileSync } from 'node:fs';
import {
  accessLogDirective,
  backendCredential,
  clientHeaderBuffer,
  clientLimits,
  connectionLimits,
  coreSocketDirectives,
  coreSockets,
  MAX_CORE_SOCKETS,
  DEFAULT_ALLOWED_ORIGINS,
  DEFAULT_CLIENT_LIMITS,
  DEFAULT_PRINCIPAL_LIMITS,
  modernAtEdge,
  packageRoot,
  principalLimits,
  placeholders,
  renderNginxConfig,
  templatePath,
  trustedProxyEntries,
  type NginxConfigValues,
} from '../../src/stack/nginx-config.js';

/**
 * One value per key of NginxConfigValues. Being an object literal typed as the interface, it has
 * exactly its keys (tsc rejects missing and excess ones), so it stands for the type at run time.
 */
const VALUES: NginxConfigValues = {
  HTTMCP_NCHAN_MODULE: '#NCHAN_MODULE#',
  HTTMCP_HEADERS_MORE_MODULE: '#HEADERS_MORE_MODULE#',
  HTTMCP_WORKER_PROCESSES: '#WORKER_PROCESSES#',
  HTTMCP_USER_DIRECTIVE: '#USER_DIRECTIVE#',
  HTTMCP_WORKER_NOFILE: '#WORKER_NOFILE#',
  HTTMCP_WORKER_CONNECTIONS: '#WORKER_CONNECTIONS#',
  HTTMCP_MAX_CLIENTS: '#MAX_CLIENTS#',
  HTTMCP_CLIENT_CONNECTIONS: '#CLIENT_CONNECTIONS#',
  HTTMCP_CLIENT_RATE: '#CLIENT_RATE#',
  HTTMCP_CLIENT_BURST: '#CLIENT_BURST#',
  HTTMCP_PRINCIPAL_CONNECTIONS: '#PRINCIPAL_CONNECTIONS#',
  HTTMCP_PRINCIPAL_RATE: '#PRINCIPAL_RATE#',
  HTTMCP_PRINCIPAL_BURST: '#PRINCIPAL_BURST#',
  HTTMCP_PRINCIPAL_TOOL_RATE: '#PRINCIPAL_TOOL_RATE#',
  HTTMCP_PRINCIPAL_TOOL_BURST: '#PRINCIPAL_TOOL_BURST#',
  HTTMCP_TRUSTED_PROXY_ENTRIES: '#TRUSTED_PROXY_ENTRIES#',
  HTTMCP_BACKEND_KEEPALIVE: '#BACKEND_KEEPALIVE#',
  HTTMCP_PREFIX: '#PREFIX#',
  HTTMCP_ERROR_LOG: '#ERROR_LOG#',
  HTTMCP_NGINX_LOG_LEVEL: '#LOG_LEVEL#',
  HTTMCP_WORKER_SHUTDOWN_TIMEOUT: '#WORKER_SHUTDOWN_TIMEOUT#',
  HTTMCP_ACCESS_LOG: '#ACCESS_LOG#',
  HTTMCP_PUBLIC_LISTEN: '#PUBLIC_LISTEN#',
  HTTMCP_PUBLISH_LISTEN: '#PUBLISH_LISTEN#',
  HTTMCP_BACKEND_SERVERS: '#BACKEND_SERVERS#',
  HTTMCP_ALLOWED_ORIGINS: '#ALLOWED_ORIGINS#',
  HTTMCP_ALLOWED_HOSTS: '#ALLOWED_HOSTS#',
  HTTMCP_SSE_RETRY_MS: '#SSE_RETRY_MS#',
  HTTMCP_MESSAGE_BUFFER_LENGTH: '#MESSAGE_BUFFER_LENGTH#',
  HTTMCP_MESSAGE_TIMEOUT: '#MESSAGE_TIMEOUT#',
  HTTMCP_SUBREQUEST_BUFFER: '#SUBREQUEST_BUFFER#',
  HTTMCP_MAX_BODY: '#MAX_BODY#',
  HTTMCP_MAX_PUBLISH: '#MAX_PUBLISH#',
  HTTMCP_REDIS_UPSTREAM: '#REDIS_UPSTREAM#',
  HTTMCP_BACKEND_KEY: '#BACKEND_KEY#',
  HTTMCP_INSTANCE_ID: '#INSTANCE_ID#',
  HTTMCP_CONSOLE_ACCESS: 'allow 127.0.0.1; allow ::1; deny all;',
  HTTMCP_REDIS_PASS: '#REDIS_PASS#',
  HTTMCP_LISTEN_KEEP: '#LISTEN_KEEP#',
  HTTMCP_AUTH_REQUEST: '#AUTH_REQUEST#',
  HTTMCP_BACKEND_CREDENTIAL: '#BACKEND_CREDENTIAL#',
  HTTMCP_CLIENT_HEADER_BUFFER: '#CLIENT_HEADER_BUFFER#',
  HTTMCP_CORE_LISTEN: '#CORE_LISTEN#',
  HTTMCP_CORE_SERVERS: '#CORE_SERVERS#',
  HTTMCP_2026_AT_EDGE: '#2026_AT_EDGE#',
};

const template = readFileSync(templatePath(), 'utf8');

describe('nginx config template', () => {
  test('templatePath points at nginx/nginx.conf.template under the package root', () => {
    expect(templatePath()).toBe(`${packageRoot()}/nginx/nginx.conf.template`);
    expect(template.length).toBeGreaterThan(0);
  });

  test('every placeholder of the template is a key of NginxConfigValues, and every key is used', () => {
    expect(placeholders()).toEqual(Object.keys(VALUES).sort());
  });

  test('placeholders() lists each name once, sorted, and only HTTMCP_ names', () => {
    const text = 'a ${HTTMCP_B} b ${HTTMCP_A} c ${HTTMCP_B} $nginx_var ${OTHER} ${HTTMCP_lower}';
    expect(placeholders(text)).toEqual(['HTTMCP_A', 'HTTMCP_B']);
    expect(placeholders('')).toEqual([]);
  });

  test('placeholders() reads the real template by default', () => {
    expect(placeholders()).toEqual(placeholders(template));
    expect(placeholders()).toContain('HTTMCP_PUBLIC_LISTEN');
  });

  test('rendering replaces every placeholder and leaves nginx variables alone', () => {
    const rendered = renderNginxConfig(VALUES);
    expect(rendered).not.toMatch(/\$\{HTTMCP_[A-Z0-9_]+\}/);
    for (const [name, value] of Object.entries(VALUES)) {
      const occurrences = template.split(`\${${name}}`).length - 1;
      expect(rendered.split(value).length - 1).toBe(occurrences);
    }
    // nginx's own $variables (no braces) are untouched.
    const nginxVariables = template.match(/\$[a-z_]+/g) ?? [];
    expect(nginxVariables.length).toBeGreaterThan(0);
    for (const variable of new Set(nginxVariables)) {
      expect(rendered.split(variable).length).toBe(template.split(variable).length);
    }
  });

  test('renders a given template text', () => {
    const text = 'listen ${HTTMCP_PUBLIC_LISTEN}; set $x ${HTTMCP_PREFIX}/${HTTMCP_PREFIX};';
    expect(renderNginxConfig(VALUES, text)).toBe('listen #PUBLIC_LISTEN#; set $x #PREFIX#/#PREFIX#;');
  });

  test('values are inserted literally, even with $ replacement patterns in them', () => {
    const values = { ...VALUES, HTTMCP_ALLOWED_ORIGINS: DEFAULT_ALLOWED_ORIGINS, HTTMCP_PREFIX: "$& $1 $$ $'" };
    expect(renderNginxConfig(values, '[${HTTMCP_ALLOWED_ORIGINS}] [${HTTMCP_PREFIX}]')).toBe(
      `[${DEFAULT_ALLOWED_ORIGINS}] [$& $1 $$ $']`,
    );
  });

  test('an empty string is a value', () => {
    expect(renderNginxConfig({ ...VALUES, HTTMCP_USER_DIRECTIVE: '' }, 'a${HTTMCP_USER_DIRECTIVE}b')).toBe('ab');
  });

  test.each(Object.keys(VALUES))('a missing %s throws and names it', (name) => {
    const values = { ...VALUES } as Record<string, string | undefined>;
    delete values[name];
    expect(() => renderNginxConfig(values as unknown as NginxConfigValues)).toThrow(`\${${name}}`);
  });

  test('a placeholder unknown to the type throws instead of staying in the config', () => {
    expect(() => renderNginxConfig(VALUES, 'x ${HTTMCP_NOT_A_SETTING} y')).toThrow('${HTTMCP_NOT_A_SETTING} has no value');
  });

  test('the default allowed origins accept local pages only', () => {
    const origins = new RegExp(DEFAULT_ALLOWED_ORIGINS);
    for (const ok of ['http://localhost', 'https://localhost:8443', 'http://127.0.0.1:3000', 'http://[::1]:80']) {
      expect(origins.test(ok)).toBe(true);
    }
    for (const bad of ['http://evil.com', 'http://localhost.evil.com', 'http://127.0.0.1.evil.com', 'ftp://localhost', 'null']) {
      expect(origins.test(bad)).toBe(false);
    }
  });
});

describe('connectionLimits', () => {
  test('a small file limit keeps the 64-connection backend cache and the client cap it always had', () => {
    // 2,000 files: half for connections, 192 + 64 reserved, a fifth of the rest per worker.
    expect(connectionLimits(2000, 1)).toEqual({ workerConnections: 1000, backendKeepalive: 64, maxClients: 148 });
  });

  test('the backend cache grows with the worker connections, up to 1024, and is kept out of the client cap', () => {
    expect(connectionLimits(8192, 1)).toEqual({ workerConnections: 7168, backendKeepalive: 448, maxClients: Math.floor((7168 - 192 - 448) / 5) });
    expect(connectionLimits(20000, 4)).toEqual({ workerConnections: 18976, backendKeepalive: 1024, maxClients: Math.floor((4 * (18976 - 192 - 1024)) / 5) });
    expect(connectionLimits(1_048_576, 2).backendKeepalive).toBe(1024);
  });

  test('the client cap stays within what nginx accepts for limit_conn (65535) with a large file limit', () => {
    expect(connectionLimits(1_048_576, 2).maxClients).toBe(65535);
    expect(connectionLimits(1_048_576, 1).maxClients).toBe(65535);
  });

  test('all workers together keep room for their idle caches and reserves when every admitted client holds four connections', () => {
    for (const nofile of [512, 1024, 2000, 4096, 8192, 20000, 65536]) {
      for (const workers of [1, 2, 4, 10]) {
        const { workerConnections, backendKeepalive, maxClients } = connectionLimits(nofile, workers);
        if (maxClients === 1) continue; // a limit too small for any session: one client, to fail loudly
        expect(maxClients * 4 + workers * (backendKeepalive + 192)).toBeLessThanOrEqual(workers * workerConnections);
      }
    }
  });
});

describe('per-principal limits in the core', () => {
  const core = () => template.slice(template.indexOf('# ---------------------------------------------------------------- core'), template.indexOf('# ---------------------------------------------------------------- publish'));

  test('defaults, and values out of range refused', () => {
    expect(principalLimits()).toEqual(DEFAULT_PRINCIPAL_LIMITS);
    expect(principalLimits({ burst: 0 })).toMatchObject({ burst: 0, ratePerSecond: DEFAULT_PRINCIPAL_LIMITS.ratePerSecond });
    expect(() => principalLimits({ toolRatePerSecond: 0 })).toThrow('principal limit toolRatePerSecond must be an integer');
    expect(() => principalLimits({ connections: 65536 })).toThrow('principal limit connections must be an integer');
  });

  test("keyed on the edge's verdict, applied where the edge's requests enter the core", () => {
    // The edge forwards the verdict's key, never a client's (an empty value sends no header).
    expect(template).toContain('proxy_set_header X-Httmcp-Principal-Key $httmcp_auth_principal_key;');
    expect(template).toContain('limit_req_zone $httmcp_principal_key zone=httmcp_principal_rate:10m rate=${HTTMCP_PRINCIPAL_RATE}r/s;');
    const server = /location ~ \^\/mcp\/\(\[A-Za-z0-9_-\]\+\)\$ \{([\s\S]*?)\n {8}\}/.exec(core())?.[1] ?? '';
    expect(server).toContain('limit_req zone=httmcp_principal_rate burst=${HTTMCP_PRINCIPAL_BURST} nodelay;');
    expect(server).toContain('limit_req zone=httmcp_principal_tool_rate burst=${HTTMCP_PRINCIPAL_TOOL_BURST} nodelay;');
    expect(server).toContain('limit_conn httmcp_per_principal ${HTTMCP_PRINCIPAL_CONNECTIONS};');
  });
});

describe("the edge's verdict subrequest", () => {
  const auth = /location = \/_httmcp\/auth \{([\s\S]*?)\n {8}\}/.exec(template)?.[1] ?? '';

  test('a proxy_pass without variables (parsed once, not per request); the server in a header, the same one the cache key names', () => {
    const pass = /\n\s*proxy_pass ([^;]*);/.exec(auth)?.[1];
    expect(pass).toBe('http://httmcp_backend/_httmcp/auth');
    expect(auth).toContain('proxy_set_header X-Httmcp-Auth-Server $httmcp_auth_for;');
    expect(auth).toContain('proxy_cache_key "$httmcp_auth_for $http_authorization";');
  });
});

describe("the client's token on the way to the backends", () => {
  test('dropped at the edge with authentication on, unless a backend exchanges it', () => {
    expect(backendCredential({ authentication: true, backendsNeedToken: false })).toBe('proxy_set_header Authorization "";');
    expect(backendCredential({ authentication: true, backendsNeedToken: true })).toBe('');
    // Off, a session is bound to a digest of whatever Authorization header the client sent.
    expect(backendCredential({ authentication: false, backendsNeedToken: false })).toBe('');
  });

  test('in every location that proxies a client request or WebSocket frame to a backend, never the verdict', () => {
    // The edge's: what the core proxies came through the edge first.
    const edge = template.slice(0, template.indexOf('# ---------------------------------------------------------------- core'));
    const locations = edge.split(/\n {8}location /).slice(1);
    const of = (start: string) => locations.filter((l) => l.startsWith(start));
    for (const start of ['^~ /mcp/ {', '~ ^/_httmcp/ws/', '~ ^/_httmcp/upstream/', '~ ^/_httmcp/closed/', '= /_httmcp/m26_call {', '= /_httmcp/m26_listen {']) {
      expect([start, of(start).length, of(start).every((l) => l.includes('${HTTMCP_BACKEND_CREDENTIAL}'))]).toEqual([start, 1, true]);
    }
    expect(of('= /_httmcp/auth {')[0]).not.toContain('${HTTMCP_BACKEND_CREDENTIAL}');
  });
});

describe('2026-07-28 requests at the edge', () => {
  const edge = template.slice(template.indexOf('# ---------------------------------------------------------------- edge'), template.indexOf('# ---------------------------------------------------------------- core'));
  const block = (start: string) => new RegExp(`location ${start.replace(/[/^$.]/g, '\\$&')} \\{([\\s\\S]*?)\\n {8}\\}`).exec(edge)?.[1] ?? '';

  test('go straight to the backend only with authentication off (the per-principal limits need the verdict)', () => {
    expect(modernAtEdge(false)).toBe('on');
    expect(modernAtEdge(true)).toBe('off');
    expect(template).toContain('map "$httmcp_era ${HTTMCP_2026_AT_EDGE}" $httmcp_2026_at_edge {');
  });

  test('the edge keeps what the core did for them: the backend key, no client principal, the 460 stream, its hook', () => {
    for (const start of ['= /_httmcp/m26_call', '= /_httmcp/m26_listen']) {
      const text = block(start);
      expect(text).toContain('proxy_set_header X-Httmcp-Backend-Key "${HTTMCP_BACKEND_KEY}";');
      expect(text).toContain('proxy_set_header X-Httmcp-Principal "";');
      expect(text).toContain('proxy_set_header X-Httmcp-Principal-Key "";');
      expect(text).toContain('proxy_intercept_errors on;');
      // nginx's own refusals under a private status: a backend's 429 passes untouched.
      expect(text).toContain('error_page 469 = @httmcp_limited;');
      expect(text).not.toMatch(/error_page 4(0[0-9]|29)\b/);
    }
    expect(block('= /_httmcp/m26_call')).toContain('error_page 460 = /_httmcp/m26_stream;');
    expect(block('= /_httmcp/m26_listen')).toContain('error_page 460 = /_httmcp/m26_listen_stream;');
    expect(block('= /_httmcp/m26_stream')).toContain('nchan_unsubscribe_request /_httmcp/stream_closed/$httmcp_m26_server/$upstream_http_x_httmcp_stream;');
    for (const start of ['= /_httmcp/m26_stream', '= /_httmcp/m26_listen_stream']) {
      expect(block(start)).toContain('${HTTMCP_REDIS_PASS}');
      expect(block(start)).toContain('retry: ${HTTMCP_SSE_RETRY_MS}');
    }
  });
});

describe('per-client limits at the edge', () => {
  const edge = () => template.slice(template.indexOf('# ---------------------------------------------------------------- edge'), template.indexOf('# ---------------------------------------------------------------- core'));

  test('defaults: 64 open requests, 20 per second after a burst of 50; given values replace them', () => {
    expect(clientLimits()).toEqual({ connections: 64, ratePerSecond: 20, burst: 50 });
    expect(DEFAULT_CLIENT_LIMITS).toEqual(clientLimits());
    expect(clientLimits({ connections: 5, burst: 0 })).toEqual({ connections: 5, ratePerSecond: 20, burst: 0 });
  });

  test.each([
    [{ connections: 0 }, 'connections'],
    [{ connections: 65536 }, 'connections'],
    [{ connections: 1.5 }, 'connections'],
    [{ ratePerSecond: 0 }, 'ratePerSecond'],
    [{ burst: -1 }, 'burst'],
    [{ burst: Number.NaN }, 'burst'],
  ])('%j is refused, naming %s', (limits, name) => {
    expect(() => clientLimits(limits)).toThrow(`client limit ${name} must be an integer`);
  });

  test('the template keys both per-client zones on one map (room for a principal) and applies them where clients come in', () => {
    expect(template).toContain('limit_conn_zone $httmcp_client_key zone=httmcp_per_client:10m;');
    expect(template).toContain('limit_req_zone $httmcp_client_key zone=httmcp_client_rate:10m rate=${HTTMCP_CLIENT_RATE}r/s;');
    // Server level, next to the global cap; the rate where requests enter (not nchan's hops).
    // Only the global cap at server level: /healthz and nchan's internal hops are not clients.
    const serverLevel = edge().slice(0, edge().indexOf('location '));
    expect(serverLevel).toContain('limit_conn httmcp_clients ${HTTMCP_MAX_CLIENTS};');
    expect(serverLevel).not.toContain('httmcp_per_client');
    const limits = [
      'limit_conn httmcp_clients ${HTTMCP_MAX_CLIENTS};',
      'limit_conn httmcp_per_client ${HTTMCP_CLIENT_CONNECTIONS};',
      'limit_req zone=httmcp_client_rate burst=${HTTMCP_CLIENT_BURST} nodelay;',
    ];
    // Where requests and WebSocket handshakes enter, and nowhere else.
    const http = /location \^~ \/mcp\/ \{([\s\S]*?)\n {8}\}/.exec(edge())?.[1] ?? '';
    const ws = /location ~ \^\/_httmcp\/ws\/[^{]*\{([\s\S]*?)\n {8}\}/.exec(edge())?.[1] ?? '';
    // And the two a 2026-07-28 request is routed to from /mcp/ with authentication off.
    const m26 = ['call', 'listen'].map((route) => new RegExp(`location = /_httmcp/m26_${route} \\{([\\s\\S]*?)\\n {8}\\}`).exec(edge())?.[1] ?? '');
    for (const limit of limits) {
      for (const block of [http, ws, ...m26]) expect(block).toContain(limit);
    }
    expect(template.split('httmcp_per_client ${HTTMCP_CLIENT_CONNECTIONS}')).toHaveLength(5);
    expect(template.split('zone=httmcp_client_rate burst')).toHaveLength(5);
  });

  test('a refused request gets 429, Retry-After and a JSON-RPC error body', () => {
    expect(template).toContain('limit_conn_status 429;');
    expect(template).toContain('limit_req_status 429;');
    expect(edge()).toContain('error_page 429 @httmcp_limited;');
    const limited = /location @httmcp_limited \{([^}]*(?:\}[^}]*)*?)\n {8}\}/.exec(edge())?.[1] ?? '';
    expect(limited).toContain('add_header Retry-After $httmcp_retry_after always;');
    const body = /return 429 '(.*)';/.exec(limited)?.[1] ?? '';
    // With the variables filled in as nginx would, the body is a JSON-RPC error.
    const filled = body
      .replace('$httmcp_limit_message', 'Too many requests')
      .replace('$httmcp_limit_kind', 'rate')
      .replace('$httmcp_retry_after', '1');
    expect(JSON.parse(filled)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Too many requests', data: { limit: 'rate', retryAfterSeconds: 1 } },
    });
  });

  test('trusted proxies: none by default; each one a geo entry; only their X-Forwarded-For names the client', () => {
    expect(trustedProxyEntries([])).toBe('');
    expect(trustedProxyEntries(['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8'])).toBe('10.0.0.0/8 1; 192.168.1.7 1; ::1 1; fd00::/8 1;');
    expect(template).toMatch(/geo \$httmcp_via_trusted_proxy \{\s*default\s+0;\s*\$\{HTTMCP_TRUSTED_PROXY_ENTRIES\}\s*\}/);
    // Only a trusted proxy's request reaches the X-Forwarded-For map (and its regex).
    const key = /map \$httmcp_via_trusted_proxy \$httmcp_client_key \{([^}]*)\}/.exec(template)?.[1] ?? '';
    expect(key).toMatch(/default\s+\$binary_remote_addr;/);
    expect(key).toMatch(/\n\s*1\s+\$httmcp_forwarded_client_key;/);
    const forwarded = /map \$http_x_forwarded_for \$httmcp_forwarded_client_key \{([^}]*)\}/.exec(template)?.[1] ?? '';
    expect(forwarded).toMatch(/default\s+\$binary_remote_addr;/);
    // The map's regex, as nginx (PCRE) runs it: the last address.
    const regex = new RegExp(/"~(.*)"\s+\$httmcp_forwarded;/.exec(forwarded)![1]!.replace('(?<httmcp_forwarded>', '(?<a>'));
    expect(regex.exec('203.0.113.5')?.groups?.a).toBe('203.0.113.5');
    expect(regex.exec('198.51.100.7, 203.0.113.5')?.groups?.a).toBe('203.0.113.5');
    expect(regex.exec('a, b,2001:db8::1 ')?.groups?.a).toBe('2001:db8::1');
    expect(regex.exec('')).toBeNull();
    expect(regex.exec('203.0.113.5, unknown')).toBeNull();
  });

  test.each(['10.0.0.0/33', '::/129', 'example.com', '10.0.0.1; include /etc/passwd', '10.0.0.0/8/8', '', '1.2.3.4/'])(
    'a trusted proxy %j that is not an address or CIDR is refused',
    (proxy) => {
      expect(() => trustedProxyEntries([proxy])).toThrow('a trusted proxy is an IP address or CIDR range');
    },
  );

  test('the WebSocket session location shows nchan only the subprotocol the edge answers (never ws+meta.nchan)', () => {
    const session = edge().slice(edge().indexOf('location ~ ^/_httmcp/session/'));
    expect(session).toContain('more_set_input_headers "Sec-WebSocket-Protocol: $httmcp_ws_protocol";');
    expect(session).toContain('more_set_headers "Sec-WebSocket-Protocol: $httmcp_ws_protocol";');
  });

  test('legacy SSE POSTs are proxied to the backend, never published by nchan from the client', () => {
    const core = template.slice(template.indexOf('# ---------------------------------------------------------------- core'));
    const legacy = /location ~ \^\/mcp\/\(\[A-Za-z0-9_-\]\+\)\/\(\[A-Za-z0-9_.-\]\+\)\$ \{([\s\S]*?)\n {8}\}/.exec(core)?.[1] ?? '';
    expect(legacy).toContain('proxy_pass http://httmcp_backend/mcp/$1/$2/post;');
    expect(legacy).toContain('proxy_set_header X-Httmcp-Transport sse;');
    expect(legacy).not.toContain('nchan_publisher');
  });

  test('every location that proxies to a backend sends the backend key (a hook without it is refused)', () => {
    // Each location block (nginx style: opened and closed at the same indentation).
    const blocks = [...template.matchAll(/^( +)location [^\n]*\{\n([\s\S]*?)^\1\}/gm)].map((m) => m[0]);
    const toBackend = blocks.filter((block) => block.includes('proxy_pass http://httmcp_backend'));
    expect(toBackend.some((block) => block.includes('/_httmcp/stream_closed/'))).toBe(true);
    for (const block of toBackend) expect(block).toContain('proxy_set_header X-Httmcp-Backend-Key "${HTTMCP_BACKEND_KEY}";');
  });
});

describe('coreSockets', () => {
  test('one socket while the edge client cap fits in one listen queue', () => {
    expect(coreSockets(3552, 4096)).toBe(1);
    expect(coreSockets(4096, 4096)).toBe(1);
  });

  test('enough sockets for every admitted client to wait in some queue, at most MAX_CORE_SOCKETS', () => {
    // --workers auto on 2 cores with 20,000 files: 7,104 clients, 4,096 per queue.
    expect(coreSockets(7104, 4096)).toBe(2);
    expect(coreSockets(3552, 256)).toBe(14);
    expect(coreSockets(418_534, 4096)).toBe(MAX_CORE_SOCKETS);
    expect(coreSockets(0, 4096)).toBe(1);
  });

  test('directives name core.sock first, then core-2.sock and on, each kept in rotation when its queue is full', () => {
    expect(coreSocketDirectives('/p', 2, 256)).toEqual({
      listen: 'listen unix:/p/core.sock backlog=256; listen unix:/p/core-2.sock backlog=256;',
      servers: 'server unix:/p/core.sock max_fails=0; server unix:/p/core-2.sock max_fails=0;',
    });
  });
});

describe('accessLogDirective', () => {
  test('off unless a file is named; a file gets the httmcp format', () => {
    for (const off of [undefined, '', ' ', 'off']) expect(accessLogDirective(off)).toBe('off');
    expect(accessLogDirective('/dev/stdout')).toBe('/dev/stdout httmcp');
    expect(accessLogDirective(' /var/log/httmcp/access.log ')).toBe('/var/log/httmcp/access.log httmcp');
  });

  test('refuses a value that would change the directive', () => {
    for (const bad of ['/a b', '/a;', "/a'", '/a"', '/$x', '/a{']) expect(() => accessLogDirective(bad)).toThrow(/access log/);
  });
});

describe("the edge's first read of a request", () => {
  test('holds a bearer token with authentication on; an operator may set it', () => {
    expect(clientHeaderBuffer(true)).toBe('4k');
    expect(clientHeaderBuffer(false)).toBe('1k');
    expect(clientHeaderBuffer(true, '')).toBe('4k');
    expect(clientHeaderBuffer(false, '8k')).toBe('8k');
    expect(() => clientHeaderBuffer(true, '4k; return 200')).toThrow(/HTTMCP_CLIENT_HEADER_BUFFER must be an nginx size/);
  });

  test('is the edge server\'s, and only the edge\'s', () => {
    const edge = template.slice(template.indexOf('# ---------------------------------------------------------------- edge'), template.indexOf('# ---------------------------------------------------------------- core'));
    expect(edge).toContain('client_header_buffer_size ${HTTMCP_CLIENT_HEADER_BUFFER};');
    expect(template.split('client_header_buffer_size').length).toBe(2);
  });
});
