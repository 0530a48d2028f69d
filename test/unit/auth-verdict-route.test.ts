// The backend's verdict route as nginx's auth_request asks it (`/_httmcp/auth`, the server named in
// X-Httmcp-Auth-Server), over a raw socket: what nginx caches is these exact header lines, which
// it parses again on every request a cached verdict answers. Both adapters, the node:http backend
// and an Express app with the server's router, must send the same lines.
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import express from 'express';
import { pino } from 'pino';
import { createBackendHandler, Gateway, HTTMCP } from '../../src/index.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { decodePrincipal } from '../../src/auth/principal.js';

const KEY = 'verdict-route-test-key-0123456789';
let gateway: Gateway;
let backend: Server;
let app: Server;
let server: HTTMCP;
const ports: Record<string, number> = {};

beforeAll(async () => {
  gateway = new Gateway({
    publishUrl: 'unix:/nonexistent/httmcp-verdict-route.sock',
    sessionSecret: 'verdict-route-secret-0123456789abcdef',
    logger: pino({ level: 'silent' }),
    auth: { publicUrl: 'http://127.0.0.1:8080', apiKeys: [{ subject: 'ada', sha256: hashApiKey(KEY), scopes: ['tools.call'] }] },
  });
  server = new HTTMCP({ name: 'demo', version: '1.0.0' });
  const handler = createBackendHandler([server], gateway);
  backend = createServer(handler);
  backend.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  ports['node:http'] = (backend.address() as AddressInfo).port;
  const userApp = express();
  userApp.use(server.mount(gateway));
  app = await new Promise<Server>((resolve) => {
    const listening = userApp.listen(0, '127.0.0.1', () => resolve(listening));
  });
  app.keepAliveTimeout = 65_000;
  ports.Express = (app.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const listener of [backend, app]) {
    listener.closeAllConnections();
    await new Promise((resolve) => listener.close(resolve));
  }
  await server.unmount();
});

interface RawAnswer {
  status: number;
  /** Header lines as sent, in order, names lower-cased. */
  lines: [string, string][];
}

/** Sends `requests` (header blocks) over ONE connection and returns each answer's status and header lines. */
function exchange(port: number, requests: Record<string, string>[], path = '/_httmcp/auth'): Promise<{ answers: RawAnswer[]; stillOpen: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const blocks = text.split('\r\n\r\n').slice(0, -1);
      if (blocks.length < requests.length) return;
      const answers = blocks.map((block) => {
        const [status, ...rest] = block.split('\r\n');
        return {
          status: Number(status!.split(' ')[1]),
          lines: rest.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as [string, string]),
        };
      });
      // Open after the last answer: keep-alive kept although no header said so.
      setTimeout(() => {
        const stillOpen = !socket.destroyed && socket.readyState === 'open';
        socket.destroy();
        resolve({ answers, stillOpen });
      }, 50);
    });
    socket.on('error', reject);
    socket.write(
      requests
        .map((headers) => `GET ${path} HTTP/1.1\r\nHost: httmcp_backend\r\nx-httmcp-backend-key: ${gateway.backendKey}\r\n${Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`)
        .join(''),
    );
  });
}

describe.each(['node:http', 'Express'])('the verdict route (what nginx caches), %s', (adapter) => {
  const port = () => ports[adapter]!;

  test('a valid credential: 200 with the principal, the cache lifetime and a length, and no other header line; the connection stays open', async () => {
    const { answers, stillOpen } = await exchange(port(), [
      { authorization: `Bearer ${KEY}`, 'x-httmcp-auth-server': 'demo' },
      { authorization: `Bearer ${KEY}`, 'x-httmcp-auth-server': 'demo' },
    ]);
    expect(answers).toHaveLength(2);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.lines.map(([name]) => name)).toEqual(['x-httmcp-principal', 'x-httmcp-principal-key', 'cache-control', 'content-length']);
      const principal = decodePrincipal(answer.lines[0]![1]);
      expect(principal).toMatchObject({ issuer: 'api-key', subject: 'ada', scopes: ['tools.call'] });
      expect(answer.lines[2]![1]).toMatch(/^max-age=\d+$/);
      expect(answer.lines[3]![1]).toBe('0');
    }
    expect(stillOpen).toBe(true);
  });

  test('a bad or missing credential: 401 with the challenge, cached briefly, also without keep-alive lines', async () => {
    const { answers } = await exchange(port(), [{ authorization: 'Bearer wrong-key', 'x-httmcp-auth-server': 'demo' }, { 'x-httmcp-auth-server': 'demo' }]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      const names = answer.lines.map(([name]) => name);
      expect(names).toContain('www-authenticate');
      expect(names).not.toContain('connection');
      expect(names).not.toContain('keep-alive');
      expect(names).not.toContain('date');
      expect(Object.fromEntries(answer.lines)['www-authenticate']).toContain('resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/demo"');
    }
  });

  test('the server is the one the edge names: an unknown or missing name is refused without metadata, never verified for another server', async () => {
    const check = jest.spyOn(gateway.auth!, 'check');
    try {
      const { answers } = await exchange(port(), [
        { authorization: `Bearer ${KEY}`, 'x-httmcp-auth-server': 'nope' },
        { authorization: `Bearer ${KEY}` },
        { authorization: `Bearer ${KEY}`, 'x-httmcp-auth-server': '' },
      ]);
      for (const answer of answers) {
        expect(answer.status).toBe(401);
        expect(Object.fromEntries(answer.lines)['www-authenticate']).toBe('Bearer');
      }
      expect(check).not.toHaveBeenCalled();
    } finally {
      check.mockRestore();
    }
  });

  test('the older form, the server in the path, gives the same verdict (and the path wins over the header)', async () => {
    const { answers } = await exchange(port(), [{ authorization: `Bearer ${KEY}`, 'x-httmcp-auth-server': 'nope' }], '/_httmcp/auth/demo');
    expect(answers[0]!.status).toBe(200);
    expect(decodePrincipal(answers[0]!.lines[0]![1])?.subject).toBe('ada');
  });

  test('a client asking Node to close still gets `Connection: close`', async () => {
    const { answers, stillOpen } = await exchange(port(), [{ authorization: `Bearer ${KEY}`, 'x-httmcp-auth-server': 'demo', connection: 'close' }]);
    expect(answers[0]!.status).toBe(200);
    expect(answers[0]!.lines).toContainEqual(['connection', 'close']);
    expect(stillOpen).toBe(false);
  });
});
