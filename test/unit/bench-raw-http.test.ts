/**
 * The load generator's raw HTTP/1.1 client (bench/lib/raw-http.mjs, bench/lib/http1.mjs): a
 * benchmark that misreads a response counts a failure as a success, or hangs. Driven against a
 * real node:http server (Content-Length, chunked, text/event-stream, errors, keep-alive) and a
 * scripted TCP server that sends responses in pieces cut at awkward places, closes mid-response
 * or never answers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ResponseParser, SseReader } from '../../bench/lib/http1.mjs';
import { RawHttpConnection, type RawError, type RawReply } from '../../bench/lib/raw-http.mjs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request(path: string, id: number | null, extra = ''): string {
  const body = id === null ? '{"jsonrpc":"2.0","method":"notifications/initialized"}' : `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`;
  return `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function call(conn: RawHttpConnection, path: string, id: number | null): Promise<{ err: RawError | null; reply?: RawReply }> {
  return new Promise((resolve) => conn.send(request(path, id), id, (err, reply) => resolve({ err, reply })));
}

const result = (id: number, text = '3') => ({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } });

// ------------------------------------------------------------------ a real node:http server

let http: Server;
let httpPort = 0;
/** Requests the node:http server saw, by the client port they came from (keep-alive reuse). */
const httpPeers: number[] = [];

beforeAll(async () => {
  http = createServer((req, res) => {
    httpPeers.push(req.socket.remotePort ?? 0);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id?: number };
      const id = msg.id as number;
      switch (req.url) {
        case '/json':
          if (id === undefined) {
            res.writeHead(202).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-1' }).end(JSON.stringify(result(id)));
          return;
        case '/chunked': {
          const text = JSON.stringify(result(id, 'ünïcødé ✓'));
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(text.slice(0, 7));
          setTimeout(() => res.end(text.slice(7)), 5);
          return;
        }
        case '/sse': {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.write(`event: message\r\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: {} })}\r\n\r\n`);
          const ours = JSON.stringify(result(id));
          setTimeout(() => res.write(`event: message\ndata: ${ours.slice(0, 10)}`), 5);
          setTimeout(() => res.end(`${ours.slice(10)}\n\n`), 10);
          return;
        }
        case '/sse-none':
          res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': just a comment\n\n');
          return;
        case '/404':
          res.writeHead(404, { 'content-type': 'text/plain' }).end('no such server');
          return;
        case '/500':
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32603, message: 'boom' } }));
          return;
        case '/rpc-error':
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: 'bad' } }));
          return;
        case '/close':
          res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(result(id)));
          return;
        default:
          res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpPort = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
});

describe('RawHttpConnection against node:http', () => {
  it('reads Content-Length, chunked and event-stream bodies on one kept-alive connection', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: httpPort });
    httpPeers.length = 0;
    for (let i = 0; i < 5; i++) {
      const json = await call(conn, '/json', 10 + i);
      expect(json.err).toBeNull();
      expect(json.reply).toMatchObject({ status: 200, msg: result(10 + i), sse: false });
      expect(json.reply?.headers['mcp-session-id']).toBe('sess-1');
      const chunked = await call(conn, '/chunked', 20 + i);
      expect(chunked.reply?.headers['transfer-encoding']).toBe('chunked');
      expect(chunked.reply?.msg).toEqual(result(20 + i, 'ünïcødé ✓'));
      const sse = await call(conn, '/sse', 30 + i);
      expect(sse.reply).toMatchObject({ status: 200, msg: result(30 + i), sse: true });
    }
    const note = await call(conn, '/json', null);
    expect(note.reply).toMatchObject({ status: 202, msg: null });
    expect(conn.connects).toBe(1);
    expect(new Set(httpPeers).size).toBe(1);
    expect(httpPeers).toHaveLength(16);
    conn.close();
  });

  it('hands 4xx and 5xx back with their status and body, and keeps the connection', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: httpPort });
    const nf = await call(conn, '/404', 1);
    expect(nf.err).toBeNull();
    expect(nf.reply).toMatchObject({ status: 404, msg: null, text: 'no such server' });
    const err = await call(conn, '/500', 2);
    expect(err.reply?.status).toBe(500);
    expect(JSON.parse(err.reply?.text ?? '')).toMatchObject({ error: { code: -32603 } });
    const rpc = await call(conn, '/rpc-error', 3);
    expect(rpc.reply).toMatchObject({ status: 200, msg: { id: 3, error: { code: -32602 } } });
    const none = await call(conn, '/sse-none', 4);
    expect(none.reply).toMatchObject({ status: 200, msg: null, sse: true });
    expect((await call(conn, '/json', 5)).reply?.msg).toEqual(result(5));
    expect(conn.connects).toBe(1);
    conn.close();
  });

  it('reconnects after a response that says Connection: close', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: httpPort });
    for (let i = 0; i < 3; i++) expect((await call(conn, '/close', i)).reply?.msg).toEqual(result(i));
    expect((await call(conn, '/json', 9)).reply?.msg).toEqual(result(9));
    expect(conn.connects).toBe(4) // one per Connection: close, and one for the last request;
    conn.close();
  });

  it('fails with a socket error code, not a hang, when nothing listens', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const conn = new RawHttpConnection({ host: '127.0.0.1', port });
    const r = await call(conn, '/json', 1);
    expect(r.err?.code).toBe('ECONNREFUSED');
    conn.close();
  });
});

// ------------------------------------------------------------------ a scripted TCP server

type Step = string | Buffer | { wait: number } | 'destroy' | 'end';
/** What the scripted server answers to the request with `id`. */
let script: (id: number) => Step[] = () => [];
let scripted: net.Server;
let scriptedPort = 0;

beforeAll(async () => {
  scripted = net.createServer((socket) => {
    socket.setNoDelay(true);
    let buf = '';
    socket.on('error', () => {});
    socket.on('data', async (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, headEnd))?.[1] ?? 0);
        if (buf.length < headEnd + 4 + length) return;
        const body = buf.slice(headEnd + 4, headEnd + 4 + length);
        buf = buf.slice(headEnd + 4 + length);
        const id = (JSON.parse(body) as { id: number }).id;
        for (const step of script(id)) {
          if (typeof step === 'object' && !Buffer.isBuffer(step)) await sleep(step.wait);
          else if (step === 'destroy') socket.destroy();
          else if (step === 'end') socket.end();
          else socket.write(step);
        }
      }
    });
  });
  await new Promise<void>((r) => scripted.listen(0, '127.0.0.1', r));
  scriptedPort = (scripted.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => scripted.close(r));
});

/** `bytes` cut at each of `cuts` (byte offsets), a pause between the pieces so each is its own segment. */
function pieces(bytes: Buffer, cuts: number[]): Step[] {
  const out: Step[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(prev, c), { wait: 3 });
    prev = c;
  }
  return out;
}

describe('RawHttpConnection against a scripted server', () => {
  it('reads responses cut inside the head terminator, a chunk-size line, a chunk CRLF, a UTF-8 character and an SSE field', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: scriptedPort });
    // Content-Length, cut inside the status line and inside "\r\n\r\n".
    script = (id) => {
      const body = Buffer.from(JSON.stringify(result(id, 'é')));
      const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      const all = Buffer.concat([head, body]);
      const utf8 = all.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
      return pieces(all, [5, head.length - 3, head.length - 1, utf8]);
    };
    expect((await call(conn, '/', 1)).reply?.msg).toEqual(result(1, 'é'));
    // Chunked, cut inside a size line, between data and its CRLF, and inside the last chunk.
    script = (id) => {
      const text = JSON.stringify(result(id));
      const all = Buffer.from(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n` +
          `${(10).toString(16)};ext=1\r\n${text.slice(0, 10)}\r\n${(text.length - 10).toString(16)}\r\n${text.slice(10)}\r\n0\r\nx-trailer: 1\r\n\r\n`,
      );
      const second = all.indexOf(Buffer.from(`\r\n${(text.length - 10).toString(16)}\r\n`));
      return pieces(all, [all.indexOf(Buffer.from(';ext')) - 0, second, second + 1, second + 3, all.length - 4, all.length - 1]);
    };
    expect((await call(conn, '/', 2)).reply?.msg).toEqual(result(2));
    // An event stream in chunked framing, cut inside "data:" and inside the blank line.
    script = (id) => {
      const events = `: comment\n\nevent: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 999, result: {} })}\n\ndata: ${JSON.stringify(result(id))}\r\n\r\n`;
      const body = Buffer.from(events);
      const framed = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      const lastData = framed.lastIndexOf(Buffer.from('data:'));
      return pieces(framed, [lastData + 2, framed.length - 12, framed.length - 10]);
    };
    const sse = await call(conn, '/', 3);
    expect(sse.reply).toMatchObject({ msg: result(3), sse: true });
    // The same connection serves every one of them.
    expect(conn.connects).toBe(1);
    conn.close();
  });

  it('answers an event stream when its message arrives and sends the next request once the stream ends', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: scriptedPort });
    script = (id) => [
      `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 0000\r\n\r\n`.replace('0000', String(`data: ${JSON.stringify(result(id))}\n\n: tail\n`.length)),
      `data: ${JSON.stringify(result(id))}\n\n`,
      { wait: 80 },
      ': tail\n',
    ];
    const t0 = Date.now();
    const first = await call(conn, '/', 1);
    const firstMs = Date.now() - t0;
    expect(first.reply).toMatchObject({ msg: result(1), sse: true });
    expect(firstMs).toBeLessThan(1000);
    // Sent while the first stream is still open: queued, then answered on the same connection.
    const second = await call(conn, '/', 2);
    expect(second.reply?.msg).toEqual(result(2));
    expect(conn.connects).toBe(1);
    conn.close();
  });

  it('ignores bytes after a Connection: close response when the next request goes out at once', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: scriptedPort });
    script = (id) => {
      const body = JSON.stringify(result(id));
      const strayBody = JSON.stringify(result(id + 1, 'stray'));
      const stray = `HTTP/1.1 200 OK\r\ncontent-length: ${strayBody.length}\r\n\r\n${strayBody}`;
      return id === 1 ? [`HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}${stray}`] : [{ wait: 20 }, `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`];
    };
    const second = await new Promise<{ err: RawError | null; reply?: RawReply }>((resolve) => {
      conn.send(request('/', 1), 1, (err, reply) => {
        expect(err).toBeNull();
        expect(reply?.msg).toEqual(result(1));
        // From inside the callback: the stray response must not answer this one.
        conn.send(request('/', 2), 2, (err2, reply2) => resolve({ err: err2, reply: reply2 }));
      });
    });
    expect(second.err).toBeNull();
    expect(second.reply?.msg).toEqual(result(2));
    expect(conn.connects).toBe(2);
    conn.close();
  });

  it('reads a body delimited by the close of the connection, then reconnects', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: scriptedPort });
    script = (id) => [`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n${JSON.stringify(result(id)).slice(0, 9)}`, { wait: 5 }, JSON.stringify(result(id)).slice(9), 'end'];
    expect((await call(conn, '/', 1)).reply?.msg).toEqual(result(1));
    expect((await call(conn, '/', 2)).reply?.msg).toEqual(result(2));
    expect(conn.connects).toBe(2);
    conn.close();
  });

  it('counts a connection closed mid-response as an error, and the next request gets a new connection', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: scriptedPort });
    const cuts: Array<(id: number) => Step[]> = [
      () => ['HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"jsonrpc":', 'destroy'],
      () => ['HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabcde\r\n', 'end'],
      () => ['HTTP/1.1 200 OK\r\ncontent-ty', 'end'],
      () => ['destroy'],
    ];
    for (const cut of cuts) {
      script = cut;
      const r = await call(conn, '/', 7);
      expect(r.err?.code).toBe('connection_closed');
    }
    // A stream cut after our message arrived: the reply stands, the connection is replaced.
    script = (id) => [`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n`, `ff\r\ndata: ${JSON.stringify(result(id))}\n\n`, { wait: 5 }, 'destroy'];
    expect((await call(conn, '/', 8)).reply?.msg).toEqual(result(8));
    script = (id) => [`HTTP/1.1 200 OK\r\ncontent-length: ${JSON.stringify(result(id)).length}\r\n\r\n${JSON.stringify(result(id))}`];
    expect((await call(conn, '/', 9)).reply?.msg).toEqual(result(9));
    expect(conn.connects).toBe(cuts.length + 2);
    conn.close();
  });

  it('fails a malformed response with HTTP_PARSE and a silent server with timeout', async () => {
    const conn = new RawHttpConnection({ host: '127.0.0.1', port: scriptedPort, timeout: 100 });
    for (const bad of ['HTTP/2 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\nhello', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n']) {
      script = () => [bad];
      expect((await call(conn, '/', 1)).err?.code).toBe('HTTP_PARSE');
    }
    script = () => [];
    const pending = call(conn, '/', 2);
    const sweeper = setInterval(() => conn.checkTimeout(performance.now()), 20);
    const r = await pending;
    clearInterval(sweeper);
    expect(r.err?.code).toBe('timeout');
    conn.close();
  });
});

// ------------------------------------------------------------------ the parser alone

describe('ResponseParser', () => {
  function parseIn(pieces: Buffer[]) {
    const out: { status: number; headers: Record<string, string>; body: string; keepAlive: boolean }[] = [];
    let cur: { status: number; headers: Record<string, string>; chunks: Buffer[] } | null = null;
    const parser = new ResponseParser({
      onHead: (status, headers) => (cur = { status, headers, chunks: [] }),
      onBody: (chunk) => cur?.chunks.push(Buffer.from(chunk)),
      onEnd: (keepAlive) => {
        out.push({ status: cur!.status, headers: cur!.headers, body: Buffer.concat(cur!.chunks).toString(), keepAlive });
        cur = null;
      },
    });
    for (const p of pieces) parser.execute(p);
    return { out, clean: parser.finish() };
  }

  const stream = Buffer.from(
    'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Multi: a\r\nx-multi: b\r\n\r\nhello world' +
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n1;x=y\r\nd\r\n0\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\n\r\n' +
      'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  );
  const expected = [
    { status: 200, body: 'hello world', keepAlive: true },
    { status: 201, body: 'abcd', keepAlive: true },
    { status: 204, body: '', keepAlive: true },
    { status: 404, body: '', keepAlive: false },
  ];

  it('gives the same responses whatever the split', () => {
    const whole = parseIn([stream]);
    expect(whole.out).toMatchObject(expected);
    expect(whole.out[0]!.headers['x-multi']).toBe('a, b');
    expect(whole.clean).toBe(true);
    for (let cut = 1; cut < stream.length; cut++) {
      expect(parseIn([stream.subarray(0, cut), stream.subarray(cut)]).out).toMatchObject(expected);
    }
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(parseIn(bytes).out).toMatchObject(expected);
  });

  it('says a cut response was not clean, and a close-delimited body was', () => {
    expect(parseIn([stream.subarray(0, 60)]).clean).toBe(false);
    const untilClose = parseIn([Buffer.from('HTTP/1.1 200 OK\r\n\r\npartial'), Buffer.from(' body')]);
    expect(untilClose.clean).toBe(true);
    expect(untilClose.out).toMatchObject([{ status: 200, body: 'partial body', keepAlive: false }]);
    expect(parseIn([Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx')]).out[0]!.keepAlive).toBe(false);
  });
});

describe('SseReader', () => {
  it('joins multi-line data, skips comments and other fields, keeps a split UTF-8 character', () => {
    const got: string[] = [];
    const reader = new SseReader((d) => got.push(d));
    const text = Buffer.from(': hi\nevent: message\nid: 4\ndata: first ✓\ndata:second\r\n\r\ndata\n\nretry: 5\n\n');
    for (let i = 0; i < text.length; i++) reader.push(text.subarray(i, i + 1));
    expect(got).toEqual(['first ✓\nsecond', '']);
  });
});

// ------------------------------------------------------------------ through bench/load.mjs

describe('runLoad with the raw client', () => {
  /**
   * A server of both eras: 2025 needs initialize and then its session id on every call; 2026
   * needs the standard headers. Calls answer in turn: a result, an isError result, a 500, an
   * event stream.
   */
  let server: Server;
  let url = '';
  const seen = { initialize: 0, initialized: 0, missingSession: 0, missingHeaders: 0 };

  beforeAll(async () => {
    let n = 0;
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        const msg = JSON.parse(body) as { id?: number; method: string; params?: { _meta?: Record<string, unknown> } };
        if (msg.method === 'initialize') {
          seen.initialize++;
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': `s${seen.initialize}` }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 't', version: '1' } } }));
          return;
        }
        if (msg.method === 'notifications/initialized') {
          seen.initialized++;
          res.writeHead(202).end();
          return;
        }
        if (msg.params?._meta) {
          if (req.headers['mcp-method'] !== 'tools/call' || req.headers['mcp-name'] !== 'add') seen.missingHeaders++;
        } else if (!req.headers['mcp-session-id']) seen.missingSession++;
        const id = msg.id as number;
        switch (n++ % 4) {
          case 0:
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result(id)));
            return;
          case 1:
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [], isError: true } }));
            return;
          case 2:
            res.writeHead(500).end('boom');
            return;
          default:
            res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`data: ${JSON.stringify(result(id))}\n\n`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it.each(['2025', '2026'] as const)('counts every failure kind and the successes (era %s)', async (era) => {
    const { runLoad } = await import('../../bench/load.mjs');
    const before = { ...seen };
    const r = await runLoad({ transport: 'http', url, era, clients: 2, duration: 0.5, warmup: 0, httpClient: 'raw', log: () => {} });
    expect(r.http_client).toBe('raw');
    expect(r.requests).toBeGreaterThan(0);
    expect(r.sse_responses).toBeGreaterThan(0);
    expect(r.error_kinds?.tool_error).toBeGreaterThan(0);
    expect(r.error_kinds?.http_500).toBeGreaterThan(0);
    expect(Object.keys(r.error_kinds ?? {}).filter((k) => !k.startsWith('warmup:')).sort()).toEqual(['http_500', 'tool_error']);
    expect(seen.missingSession).toBe(0);
    expect(seen.missingHeaders).toBe(0);
    if (era === '2025') {
      expect(r.sessions).toBe(2);
      expect(seen.initialize - before.initialize).toBe(2);
      expect(seen.initialized - before.initialized).toBe(2);
    } else {
      expect(seen.initialize - before.initialize).toBe(0);
    }
  });
});
