/**
 * Malformed, oversized and protocol-breaking input thrown at a real nginx+nchan stack on every
 * transport. Each case asserts what the client observably gets (a JSON-RPC error, an HTTP
 * status, or a clean WebSocket close) and, at the end, that no nginx worker died.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import WebSocket from 'ws';
import type { Stack } from '../../src/index.js';
import { EventStream, INITIALIZE_PARAMS, openEventStream, poll, STREAMABLE_ACCEPT, WsClient } from '../helpers/raw-clients.js';
import { connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

/** The backend's message limit in this stack (HTTMCP_MAX_MESSAGE; default 4 MiB). */
const LIMIT = 256 * 1024;
/** Above nginx's client_max_body_size (4m): on WebSocket it once tripped nchan's assertion. */
const HUGE = 5 * 1024 * 1024;

let stack: Stack;
let demo: string;

const INITIALIZE = { jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE_PARAMS };
const PARSE_ERROR = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the message is not valid JSON' } };
const INVALID_REQUEST = { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 message' } };
const NO_BATCHES = { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'JSON-RPC batches are not supported' } };
const TOO_LARGE = { jsonrpc: '2.0', id: null, error: { code: -32600, message: `Message too large: the limit is ${LIMIT} bytes` } };

beforeAll(async () => {
  stack = await startTestStack({ gateway: { maxMessageBytes: LIMIT } });
  demo = stack.servers.demo!;
});

afterAll(async () => {
  await stack?.stop();
});

describe('WebSocket (raw ws, subprotocol mcp)', () => {
  let client: WsClient;

  beforeAll(async () => {
    client = await WsClient.open(demo);
    expect(client.ws.protocol).toBe('mcp');
    await client.initialize();
  });

  afterAll(() => client?.close());

  /** The socket is still open and still answers. */
  async function stillWorks(c: WsClient = client): Promise<void> {
    const id = `alive-${randomBytes(4).toString('hex')}`;
    expect(await c.request(id, 'ping')).toEqual({ result: {}, jsonrpc: '2.0', id });
    expect(c.closed).toBeUndefined();
  }

  /** Runs `body` on an initialized WebSocket client of its own, which must still work afterwards. */
  async function onOwnClient(body: (own: WsClient) => Promise<void>): Promise<void> {
    const own = await WsClient.open(demo);
    try {
      await own.initialize();
      await body(own);
      await stillWorks(own);
    } finally {
      own.close();
    }
  }

  test.each([
    ['invalid JSON', '{"jsonrpc":"2.0","id":1,"method":', PARSE_ERROR],
    ['a lone space', ' ', PARSE_ERROR],
    ['an object that is not JSON-RPC', '{"foo":1}', INVALID_REQUEST],
    ['a JSON string', '"hello"', INVALID_REQUEST],
    ['a JSON number', '42', INVALID_REQUEST],
    ['JSON null', 'null', INVALID_REQUEST],
    ['jsonrpc 1.0', '{"jsonrpc":"1.0","id":3,"method":"ping"}', { ...INVALID_REQUEST, id: 3 }],
    ['params that are not an object', '{"jsonrpc":"2.0","id":7,"method":"ping","params":[1]}', { ...INVALID_REQUEST, id: 7 }],
    ['an object as id', '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', INVALID_REQUEST],
    // The SDK drops messages with members beyond the envelope's: they must get an error, not silence.
    ['a request with an extra top-level member', '{"jsonrpc":"2.0","id":8,"method":"ping","_meta":{}}', { ...INVALID_REQUEST, id: 8 }],
    ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', INVALID_REQUEST],
    ['both method and result', '{"jsonrpc":"2.0","id":9,"method":"ping","result":{}}', { ...INVALID_REQUEST, id: 9 }],
    ['a batch', '[{"jsonrpc":"2.0","id":1,"method":"ping"}]', NO_BATCHES],
    ['an empty batch', '[]', NO_BATCHES],
  ])('%s gets a JSON-RPC error and the socket stays open', async (_what, frame, expected) => {
    expect(await client.exchange(frame)).toEqual(expected);
    await stillWorks();
  });

  test('an empty frame gets a parse error and the socket stays open', async () => {
    // Regression: nchan forwards an empty frame as a bodiless GET; the backend's 405 made nchan
    // close the socket with 1008. The upstream location now always POSTs.
    await onOwnClient(async (own) => {
      expect(await own.exchange('')).toEqual(PARSE_ERROR);
    });
  });

  test('an unknown method is -32601 method not found', async () => {
    expect(await client.request('u1', 'no/such/method', {})).toEqual({ jsonrpc: '2.0', id: 'u1', error: { code: -32601, message: 'Method not found' } });
    await stillWorks();
  });

  test('wrong tool arguments are an isError result', async () => {
    const reply = (await client.request('t1', 'tools/call', { name: 'add', arguments: { a: 'two', b: 3 } })) as {
      result: { isError: boolean; content: Array<{ text: string }> };
    };
    expect(reply.result.isError).toBe(true);
    expect(reply.result.content[0]!.text).toMatch(/Input validation error/);
    await stillWorks();
  });

  test.each([
    ['just over the backend limit', LIMIT + 1],
    ['over nginx\'s client_max_body_size too', HUGE],
  ])('a message %s gets a clear JSON-RPC error and the socket stays open', async (_what, size) => {
    const head = '{"jsonrpc":"2.0","id":"big","method":"ping","params":{"pad":"';
    const message = head + 'a'.repeat(size - head.length - 3) + '"}}';
    expect(Buffer.byteLength(message)).toBe(size);
    expect(await client.exchange(message, 15_000)).toEqual(TOO_LARGE);
    await stillWorks();
  });

  test('an error echoing a 100 KB id (larger than nginx\'s subrequest buffer) arrives and the worker survives', async () => {
    // Regression: this reply was returned inline on nchan's hop and crashed the worker (signal 6).
    await onOwnClient(async (own) => {
      const id = 'i'.repeat(100_000);
      expect(await own.exchange(JSON.stringify({ jsonrpc: '1.0', id, method: 'ping' }))).toEqual({ ...INVALID_REQUEST, id });
      expect(await own.exchange(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping', params: 'x' }))).toEqual({ ...INVALID_REQUEST, id });
    });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('a reused in-flight id (100 KB long) is refused and both answers arrive', async () => {
    await onOwnClient(async (own) => {
      const id = 'd'.repeat(100_000);
      own.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 300 } } });
      const refused = await own.exchange(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }));
      expect(refused).toEqual({ jsonrpc: '2.0', id, error: { code: -32600, message: `Request id ${JSON.stringify(id)} is already in use` } });
      expect(await own.next((m) => (m as { id?: unknown }).id === id && 'result' in (m as object))).toEqual({
        result: { content: [{ type: 'text', text: 'slept 300 ms' }] },
        jsonrpc: '2.0',
        id,
      });
    });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('a reply of 25,000 non-ASCII characters (75 KB of UTF-8) arrives and the worker survives', async () => {
    // Regression: the inline limit counted UTF-16 units, so this 75 KB reply went inline into a
    // 64 KB subrequest buffer and crashed the worker ("double free or corruption").
    await onOwnClient(async (own) => {
      const topic = '€'.repeat(25_000);
      const reply = (await own.request('utf8', 'prompts/get', { name: 'explain', arguments: { topic } })) as {
        result: { messages: Array<{ content: { text: string } }> };
      };
      expect(reply.result.messages[0]!.content.text).toBe(`Explain ${topic} in two sentences.`);
    });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('a client offering permessage-deflate does not get it, and a large compressible message is answered', async () => {
    const deflating = await WsClient.open(demo, { perMessageDeflate: true });
    try {
      expect(deflating.ws.extensions).toBe('');
      expect(deflating.ws.protocol).toBe('mcp');
      await deflating.initialize();
      // 100 KB of one letter: deflated it would be tiny and inflate past what nchan survives.
      const pad = 'z'.repeat(100_000);
      expect(await deflating.request('compressible', 'ping', { pad })).toEqual({ result: {}, jsonrpc: '2.0', id: 'compressible' });
      await stillWorks(deflating);
    } finally {
      deflating.close();
    }
  });

  test('a frame with RSV1 set although no extension was negotiated: the socket is closed with 1007', async () => {
    const raw = await RawWebSocket.open(stack.port, '/mcp/demo', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
    try {
      expect(raw.handshake).toMatch(/^HTTP\/1\.1 101 /);
      expect(raw.handshake).toMatch(/^Sec-WebSocket-Protocol: mcp$/im);
      expect(raw.handshake).not.toMatch(/^Sec-WebSocket-Extensions:/im);
      raw.sendText(JSON.stringify(INITIALIZE));
      expect(JSON.parse((await raw.nextFrame()).payload.toString())).toMatchObject({ id: 0, result: { serverInfo: { name: 'demo' } } });

      const inflated = JSON.stringify({ jsonrpc: '2.0', id: 'deflated', method: 'ping', params: { pad: 'q'.repeat(100_000) } });
      const deflated = deflateRawSync(Buffer.from(inflated));
      raw.sendFrame(deflated, { rsv1: true });
      const close = await raw.nextFrame();
      expect(close.opcode).toBe(0x8);
      expect(close.payload.readUInt16BE(0)).toBe(1007);
      await raw.ended;
      expect(raw.frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()).id)).toEqual([0]);
    } finally {
      raw.destroy();
    }
  });

  test('fragmented (continuation) frames: the socket is closed cleanly and the message is never executed whole', async () => {
    const fragmented = await WsClient.open(demo);
    await fragmented.initialize();
    const before = fragmented.received.length;
    fragmented.ws.send('{"jsonrpc":"2.0","id":"frag",', { fin: false });
    fragmented.ws.send('"method":"ping"}', { fin: true });
    const closed = await fragmented.whenClosed();
    // nchan answers with a close frame without a status code (ws reports 1005), not a reset (1006).
    expect(closed.code).toBe(1005);
    // nchan forwards the first fragment alone; its parse error may beat the close to the client.
    const after = fragmented.received.slice(before);
    expect(after.length).toBeLessThanOrEqual(1);
    for (const m of after) expect(m).toEqual(PARSE_ERROR);
  });

  test('a continuation frame with nothing to continue: the socket is closed, nothing is answered', async () => {
    const raw = await RawWebSocket.open(stack.port, '/mcp/demo');
    try {
      raw.sendText(JSON.stringify(INITIALIZE));
      await raw.nextFrame();
      raw.sendFrame(Buffer.from('{"jsonrpc":"2.0","id":"cont","method":"ping"}'), { opcode: 0x0 });
      const close = await raw.nextFrame();
      expect(close.opcode).toBe(0x8);
      await raw.ended;
      expect(raw.frames.filter((f) => f.opcode !== 0x8)).toHaveLength(1);
    } finally {
      raw.destroy();
    }
  });
});

describe('Streamable HTTP (raw fetch)', () => {
  let session: string;

  beforeAll(async () => {
    const response = await post(JSON.stringify(INITIALIZE), {});
    expect(response.status).toBe(200);
    await response.text();
    session = response.headers.get('mcp-session-id')!;
    expect(session).toBeTruthy();
  });

  function post(body: string | Buffer, headers: Record<string, string> = { 'mcp-session-id': session }): Promise<Response> {
    return fetch(demo, { method: 'POST', headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers }, body });
  }

  test('invalid JSON is 400 with a parse error', async () => {
    const response = await post('{"jsonrpc":"2.0",');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(PARSE_ERROR);
  });

  test('a batch (after 2025-03-26) and a non-JSON-RPC object are 400 with -32600', async () => {
    // Batches exist only in the 2025-03-26 revision (protocol.test.ts covers those sessions).
    const batch = await post('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600, message: expect.stringContaining('batches were removed') } });
    const object = await post('{"foo":1}');
    expect(object.status).toBe(400);
    expect(await object.json()).toEqual(INVALID_REQUEST);
  });

  test('a wrong Content-Type is 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const response = await fetch(demo, {
        method: 'POST',
        headers: { accept: STREAMABLE_ACCEPT, 'content-type': type, 'mcp-session-id': session },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
      expect([type, response.status]).toEqual([type, 415]);
      expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/Unsupported Media Type/) } });
    }
  });

  test('a missing or incomplete Accept is 406', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    // node:http sends no Accept at all (fetch would add */*).
    const missing = await rawPost(demo, body, { 'content-type': 'application/json', 'mcp-session-id': session });
    expect(missing.status).toBe(406);
    expect(JSON.parse(missing.body)).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/Not Acceptable/) } });
    for (const accept of ['', 'application/json', 'text/event-stream']) {
      const response = await post(body, { accept, 'mcp-session-id': session });
      expect([accept, response.status]).toEqual([accept, 406]);
      await response.text();
    }
  });

  test('a POST without a session that is not initialize is 400', async () => {
    for (const body of ['{"jsonrpc":"2.0","id":1,"method":"ping"}', '{"jsonrpc":"2.0",', '[]']) {
      const response = await post(body, {});
      expect(response.status).toBe(400);
      expect(response.headers.get('mcp-session-id')).toBeNull();
      expect(await response.json()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' } });
    }
  });

  test('an oversized body is 413: a JSON-RPC error from the backend, or nginx\'s own above 4m', async () => {
    const overLimit = await post(Buffer.alloc(LIMIT + 1, 'a'));
    expect(overLimit.status).toBe(413);
    expect(await overLimit.json()).toEqual(TOO_LARGE);
    const huge = await post(Buffer.alloc(HUGE, 'a'));
    expect(huge.status).toBe(413);
    await huge.text();
  });

  test('an unknown method is a JSON-RPC -32601', async () => {
    const response = await post('{"jsonrpc":"2.0","id":5,"method":"no/such/method"}');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jsonrpc: '2.0', id: 5, error: { code: -32601, message: 'Method not found' } });
  });

  test('the session still works', async () => {
    const response = await post('{"jsonrpc":"2.0","id":6,"method":"ping"}');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ result: {}, jsonrpc: '2.0', id: 6 });
  });
});

describe('legacy HTTP+SSE', () => {
  let stream: EventStream;
  let endpoint: string;

  beforeAll(async () => {
    stream = await openEventStream(demo);
    endpoint = stack.url + (await stream.next((e) => e.event === 'endpoint')).data;
    await postMessage(JSON.stringify(INITIALIZE), 202);
    await stream.next((e) => e.data.includes('"serverInfo"'));
  });

  afterAll(() => stream?.close());

  async function postMessage(body: string | Buffer, status: number): Promise<void> {
    const response = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(status);
    await response.text();
  }

  /** POSTs (202, always: the answer goes to the stream) and returns the next event the stream receives. */
  async function exchange(body: string | Buffer, status = 202): Promise<unknown> {
    const seen = stream.events.length;
    await postMessage(body, status);
    return JSON.parse((await stream.next((_e, i) => i >= seen)).data);
  }

  test('invalid JSON: the parse error arrives on the SSE stream', async () => {
    expect(await exchange('{"jsonrpc":"2.0",')).toEqual(PARSE_ERROR);
    expect(await exchange('')).toEqual(PARSE_ERROR);
  });

  test('a batch, a non-JSON-RPC object and an unknown method get their errors on the stream', async () => {
    expect(await exchange('[]')).toEqual(NO_BATCHES);
    expect(await exchange('{"foo":1}')).toEqual(INVALID_REQUEST);
    expect(await exchange('{"jsonrpc":"2.0","id":"m","method":"nope"}')).toEqual({ jsonrpc: '2.0', id: 'm', error: { code: -32601, message: 'Method not found' } });
  });

  test('an oversized message gets the size error on the stream; above 4m nginx refuses it (413)', async () => {
    expect(await exchange(Buffer.alloc(LIMIT + 1, 'a'))).toEqual(TOO_LARGE);
    await postMessage(Buffer.alloc(HUGE, 'a'), 413);
  });

  test('a 75 KB UTF-8 reply (larger than the subrequest buffer) still arrives', async () => {
    const topic = 'é'.repeat(40_000);
    const request = JSON.stringify({ jsonrpc: '2.0', id: 'e', method: 'prompts/get', params: { name: 'explain', arguments: { topic } } });
    // Too large for nginx's subrequest buffer in bytes: published through the listener.
    const reply = (await exchange(request)) as {
      result: { messages: Array<{ content: { text: string } }> };
    };
    expect(reply.result.messages[0]!.content.text).toBe(`Explain ${topic} in two sentences.`);
    expect(await exchange('{"jsonrpc":"2.0","id":"p","method":"ping"}')).toEqual({ result: {}, jsonrpc: '2.0', id: 'p' });
    expect(stream.ended).toBe(false);
  });
});

test('after all of it no nginx worker crashed and a fresh SDK client works on every transport', async () => {
  expect(workerCrashes(stack)).toEqual([]);
  for (const kind of TRANSPORTS) {
    const client = await connectClient(kind, demo);
    try {
      expect(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
      expect(await client.callTool({ name: 'divide', arguments: { dividend: 7, divisor: 2 } })).toMatchObject({ structuredContent: { quotient: 3, remainder: 1 } });
    } finally {
      await client.close();
    }
  }
});

// ------------------------------------------------------------------------------------ helpers

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** A WebSocket spoken byte for byte on a TCP socket, to send frames `ws` refuses to build. */
class RawWebSocket {
  readonly frames: Frame[] = [];
  handshake = '';
  readonly ended: Promise<void>;
  private buffer = Buffer.alloc(0);
  private readonly wakers = new Set<() => void>();
  private taken = 0;

  private constructor(private readonly socket: Socket) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.wake());
  }

  static open(port: number, path: string, extraHeaders: Record<string, string> = {}): Promise<RawWebSocket> {
    const socket = connect(port, '127.0.0.1');
    const raw = new RawWebSocket(socket);
    const key = randomBytes(16).toString('base64');
    const headers = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Protocol': 'mcp',
      ...extraHeaders,
    };
    socket.write(`GET ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        raw.buffer = Buffer.concat([raw.buffer, chunk]);
        if (!raw.handshake) {
          const end = raw.buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          raw.handshake = raw.buffer.subarray(0, end).toString('latin1');
          raw.buffer = raw.buffer.subarray(end + 4);
          resolve(raw);
        }
        raw.parse();
      });
    });
  }

  private parse(): void {
    while (this.buffer.length >= 2) {
      const first = this.buffer[0]!;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      this.frames.push({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload: this.buffer.subarray(offset, offset + length) });
      this.buffer = this.buffer.subarray(offset + length);
      this.wake();
    }
  }

  private wake(): void {
    for (const wake of this.wakers) wake();
  }

  /** Writes one masked client frame. */
  sendFrame(payload: Buffer, { fin = true, rsv1 = false, opcode = 0x1 }: { fin?: boolean; rsv1?: boolean; opcode?: number } = {}): void {
    const mask = randomBytes(4);
    let header: Buffer;
    if (payload.length < 126) {
      header = Buffer.from([0, 0x80 | payload.length]);
    } else if (payload.length < 65536) {
      header = Buffer.from([0, 0x80 | 126, 0, 0]);
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    header[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i % 4]!;
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  sendText(text: string): void {
    this.sendFrame(Buffer.from(text));
  }

  /** The next frame not yet returned by this method. */
  nextFrame(timeoutMs = 5000): Promise<Frame> {
    return poll(
      this.wakers,
      () => {
        if (this.taken < this.frames.length) return this.frames[this.taken++];
        if (this.socket.destroyed || this.socket.readyState === 'closed') throw new Error('socket closed before the frame');
        return undefined;
      },
      () => `no frame; got ${this.frames.length}`,
      timeoutMs,
    );
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A POST through node:http, which (unlike fetch) sends no Accept header unless told to. */
function rawPost(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}
