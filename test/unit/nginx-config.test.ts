import { readFileSync } from 'node:fs';
import {
  connectionLimits,
  DEFAULT_ALLOWED_ORIGINS,
  packageRoot,
  placeholders,
  renderNginxConfig,
  templatePath,
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
  HTTMCP_REDIS_PASS: '#REDIS_PASS#',
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
