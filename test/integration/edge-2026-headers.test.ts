/**
 * The edge's checks of MCP 2026-07-28 standard headers (nginx/nginx.conf.template, the
 * `$httmcp_2026_reject` maps) through real nginx+nchan: a 2026 request whose headers are missing
 * or malformed is refused by nginx and never reaches the backend; every other request does; the
 * access log names each request's Mcp-Method and Mcp-Name, escaped.
 *
 * The backend runs in this process behind a counting wrapper: each request carries an X-Probe
 * header, and the wrapper records the probes that arrived.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExampleServers } from '../../examples/index.js';
import { createBackendHandler, freePort, type HTTMCP, type Stack } from '../../src/index.js';
import { STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'edge-2026-test-secret-0123456789abcdef';
const MODERN = '2026-07-28';
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'edge-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

let stack: Stack;
let backend: Server;
let servers: HTTMCP[];
let logDir: string;
let accessLog: string;
/** X-Probe values of the requests that reached the backend. */
const reached = new Set<string>();

beforeAll(async () => {
  const port = await freePort();
  logDir = mkdtempSync(join(tmpdir(), 'httmcp-edge-2026-'));
  accessLog = join(logDir, 'access.log');
  servers = createExampleServers();
  stack = await startTestStack({ servers, backends: [`127.0.0.1:${port}`], gateway: { sessionSecret: SECRET }, accessLog });
  const handler = createBackendHandler(servers, stack.gateway);
  backend = createServer((req, res) => {
    const probe = req.headers['x-probe'];
    if (typeof probe === 'string') reached.add(probe);
    handler(req, res);
  });
  await new Promise<void>((resolve) => backend.listen(port, '127.0.0.1', resolve));
});

afterAll(async () => {
  backend?.closeAllConnections();
  await new Promise((resolve) => backend?.close(resolve));
  for (const server of servers ?? []) await server.unmount();
  await stack?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the demo server through the edge with node:http, which sends non-ASCII header values (as UTF-8) where fetch refuses them. */
function send(method: string, headers: Record<string, string>, body?: unknown): Promise<Reply> {
  const url = new URL(stack.servers.demo!);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method, headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A raw HTTP/1.1 exchange, for header bytes node:http refuses to send (control characters). */
function sendRaw(head: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(stack.port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.end(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, 'latin1');
  });
}

const probe = () => randomBytes(8).toString('hex');

function call(method: string, params: Record<string, unknown> = {}) {
  return { jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: ENVELOPE } };
}

const HEADER_MISMATCH = expect.objectContaining({ jsonrpc: '2.0', error: expect.objectContaining({ code: -32020, message: expect.stringMatching(/^Header mismatch: /) }) });

describe('a 2026-07-28 request with missing or malformed standard headers is refused at the edge', () => {
  test.each([
    ['no Mcp-Method', {}, call('tools/list'), /Mcp-Method is missing/],
    ['tools/call without Mcp-Name', { 'mcp-method': 'tools/call' }, call('tools/call', { name: 'add', arguments: { a: 1, b: 2 } }), /Mcp-Name is missing/],
    ['resources/read without Mcp-Name', { 'mcp-method': 'resources/read' }, call('resources/read', { uri: 'demo://x' }), /Mcp-Name is missing/],
    ['prompts/get without Mcp-Name', { 'mcp-method': 'prompts/get' }, call('prompts/get', { name: 'p' }), /Mcp-Name is missing/],
    ['an empty Mcp-Name on tools/call', { 'mcp-method': 'tools/call', 'mcp-name': '' }, call('tools/call', { name: 'add' }), /Mcp-Name is missing/],
    ['a non-ASCII byte in Mcp-Name', { 'mcp-method': 'tools/call', 'mcp-name': 'caf\u00e9' }, call('tools/call', { name: 'café' }), /characters a header value may not have/],
    ['a non-ASCII byte in Mcp-Method', { 'mcp-method': 'tools/c\u00e0ll', 'mcp-name': 'add' }, call('tools/call', { name: 'add' }), /characters a header value may not have/],
    ['a Base64 sentinel that is not Base64', { 'mcp-method': 'tools/call', 'mcp-name': '=?base64?not base64!?=' }, call('tools/call', { name: 'add' }), /not valid =\?base64\?/],
    ['neither Mcp-Method nor Mcp-Name', {}, call('tools/call', { name: 'add' }), /Mcp-Method is missing/],
  ])('%s: 400 with -32020 and no id, and the backend never sees it', async (_what, headers, body, message) => {
    const id = probe();
    const reply = await send('POST', { 'mcp-protocol-version': MODERN, 'x-probe': id, ...headers }, body);
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toBe('application/json');
    const json = JSON.parse(reply.body) as { error: { message: string } };
    expect(json).toEqual(HEADER_MISMATCH);
    expect(json).not.toHaveProperty('id');
    expect(json.error.message).toMatch(message);
    expect(reached.has(id)).toBe(false);
  });

  test('a control character in Mcp-Name: 400 with -32020, the backend never sees it', async () => {
    const id = probe();
    const body = JSON.stringify(call('tools/call', { name: 'a\u0001b' }));
    const url = new URL(stack.servers.demo!);
    const reply = await sendRaw(
      `POST ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: ${STREAMABLE_ACCEPT}\r\n` +
        `MCP-Protocol-Version: ${MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: a\u0001b\r\nX-Probe: ${id}\r\n`,
      body,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toEqual(HEADER_MISMATCH);
    expect(reached.has(id)).toBe(false);
  });

  test.each(['GET', 'DELETE'])('%s with MCP-Protocol-Version 2026-07-28: 405, Allow: POST, the backend never sees it', async (method) => {
    const id = probe();
    const reply = await send(method, { 'mcp-protocol-version': MODERN, 'mcp-session-id': 'whatever', 'x-probe': id });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('POST');
    expect(JSON.parse(reply.body)).toEqual({ jsonrpc: '2.0', error: expect.objectContaining({ code: -32000 }) });
    expect(reached.has(id)).toBe(false);
  });
});

describe('everything else goes on to the backend', () => {
  test.each([
    ['a complete 2026 tools/call', 'POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'add' }, call('tools/call', { name: 'add', arguments: { a: 1, b: 2 } })],
    ['a 2026 tools/list (no name needed)', 'POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' }, call('tools/list')],
    ['a Base64-encoded Mcp-Name', 'POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('café').toString('base64')}?=` }, call('tools/call', { name: 'café' })],
    // The spec: "An Mcp-Session-Id header on a request: ignore it".
    ['a 2026 request with an Mcp-Session-Id', 'POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list', 'mcp-session-id': 'abc.def' }, call('tools/list')],
    // The backend owns the list of versions it speaks (-32022 with it).
    ['an unknown version without Mcp-Method', 'POST', { 'mcp-protocol-version': '2099-01-01' }, call('tools/list')],
    ['a 2025 request without Mcp-Method', 'POST', { 'mcp-protocol-version': '2025-06-18' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ['a request without MCP-Protocol-Version', 'POST', {}, { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ['a 2025 GET', 'GET', { 'mcp-protocol-version': '2025-06-18', 'mcp-session-id': 'abc.def' }, undefined],
  ])('%s', async (_what, method, headers, body) => {
    const id = probe();
    // What the backend answers is its own business (tests of the 2026 path); it got the request.
    await send(method, { ...headers, 'x-probe': id }, body);
    expect(reached.has(id)).toBe(true);
  });

  test('2025 clients are untouched', async () => {
    const client = await connectClient('streamable', stack.servers.demo!);
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toEqual({ content: [{ type: 'text', text: '5' }] });
    await client.close();
  });
});

test('the access log names each request’s Mcp-Method and Mcp-Name, with client text escaped', async () => {
  const tag = probe();
  await send('POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': `add-${tag}` }, call('tools/call', { name: `add-${tag}` }));
  await send('POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list', 'mcp-name': `x"${tag}\\ \u00e9` }, call('tools/list'));
  await send('POST', { 'mcp-protocol-version': MODERN, 'x-probe': tag }, call('tools/list'));
  // nginx writes a line when the request ends; the replies are in, so are the lines.
  const lines = readFileSync(accessLog, 'latin1').split('\n');
  // The `combined` fields first, then the two headers.
  const combined = /^\S+ - \S+ \[[^\]]+\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*" "([^"]*)" "([^"]*)"$/;
  const edge = (needle: string) => lines.find((line) => line.includes(needle) && line.startsWith('127.0.0.1 '));
  expect(edge(`add-${tag}`)).toMatch(combined);
  expect(combined.exec(edge(`add-${tag}`)!)!.slice(1)).toEqual(['tools/call', `add-${tag}`]);
  // A quote, a backslash and a non-ASCII byte cannot break the line's fields.
  const hostile = lines.find((line) => line.includes(`x\\x22${tag}`))!;
  expect(hostile).toMatch(combined);
  expect(combined.exec(hostile)!.slice(1)).toEqual(['tools/list', `x\\x22${tag}\\x5C \\xC3\\xA9`]);
  // One line per client request, the edge's: the core's hop (client address `unix:`) is not logged.
  expect(lines.filter((line) => line.startsWith('unix:'))).toEqual([]);
  // The refused request is logged too, with its 400 and "-" for the headers it lacked.
  expect(lines.some((line) => /" 400 \d+ "-" "[^"]*" "-" "-"$/.test(line))).toBe(true);
});

test('a 2026 call answered on a stream keeps its retry field, and is logged with the 200 its client got', async () => {
  // Past the status hold (1 s): the backend moves the request to its stream, which nchan ends
  // with a 410 once the reply is out. The client got 200, and so says the log.
  const reply = await send('POST', { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'sleep' }, call('tools/call', { name: 'sleep', arguments: { ms: 1500 } }));
  expect([reply.status, reply.headers['content-type']]).toEqual([200, 'text/event-stream; charset=utf-8']);
  expect(reply.body).toMatch(/^: hi\nretry: \d+\n/);
  expect(reply.body).toContain('slept 1500 ms');
  // nginx logs the request when it finalizes it, which may come just after the client read the
  // stream's end: wait for the line rather than read the log once.
  const logged = () => readFileSync(accessLog, 'latin1').split('\n').find((entry) => entry.endsWith('"tools/call" "sleep"'));
  await waitFor(() => logged() !== undefined, 'the access log line of the stream');
  const line = logged();
  expect(line).toMatch(/"POST \/mcp\/demo HTTP\/1\.1" 200 \d+ /);
});

test('no nginx worker died', () => {
  expect(workerCrashes(stack)).toEqual([]);
});
