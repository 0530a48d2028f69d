import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerBody, readBody, TOO_LARGE, writeAnswer } from '../../src/http/io.js';
import type { Answer } from '../../src/http/endpoint.js';

/** A real node:http server that answers what `respond` makes of the request and its body. */
async function serve(respond: (body: string | typeof TOO_LARGE) => Answer, limit = 64): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => void readBody(req, limit).then((body) => writeAnswer(res, respond(body))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** One request with the body in the given chunks, and the raw answer. */
function send(port: number, chunks: string[]): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-length': String(Buffer.byteLength(chunks.join(''))) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    void (async () => {
      for (const chunk of chunks) {
        req.write(chunk);
        await new Promise((r) => setTimeout(r, 20)); // separate reads on the server
      }
      req.end();
    })();
  });
}

let server: Server | undefined;
afterEach(() => server?.close());

test('a body in several chunks is read whole, non-ASCII text included', async () => {
  const s = await serve((body) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: body === TOO_LARGE ? 'too large' : `got ${body}` }));
  server = s.server;
  const answer = await send(s.port, ['{"a":', '"žluť', 'oučký"}']);
  expect(answer).toMatchObject({ status: 200, body: 'got {"a":"žluťoučký"}' });
  expect(answer.headers['content-length']).toBe(String(Buffer.byteLength('got {"a":"žluťoučký"}')));
  expect(answer.headers['transfer-encoding']).toBeUndefined();
});

test('a body over the limit is TOO_LARGE, whether it arrives in one chunk or in several', async () => {
  const s = await serve((body) => ({ status: body === TOO_LARGE ? 413 : 200 }), 8);
  server = s.server;
  expect((await send(s.port, ['0123456789'])).status).toBe(413);
  expect((await send(s.port, ['0123', '4567', '89'])).status).toBe(413);
  expect((await send(s.port, ['0123', '4567'])).status).toBe(200);
  expect((await send(s.port, [])).status).toBe(200);
});

test.each([
  [202, undefined, '0'],
  [200, { 'x-accel-redirect': '/_httmcp/session/demo/x' }, '0'],
  [460, { 'x-httmcp-stream': 'a.b.c' }, '0'],
  [204, undefined, undefined],
  // A length an answer names itself is replaced by the real one, never sent twice.
  [200, { 'content-length': '0' }, '0'],
])('a body-less %s answer is never chunked (Content-Length %s)', async (status, headers, length) => {
  const s = await serve(() => ({ status, ...(headers ? { headers } : {}) }));
  server = s.server;
  const answer = await send(s.port, ['{}']);
  expect(answer.status).toBe(status);
  expect(answer.headers['content-length']).toBe(length);
  expect(answer.headers['transfer-encoding']).toBeUndefined();
  for (const [name, value] of Object.entries(headers ?? {})) if (name !== 'content-length') expect(answer.headers[name]).toBe(value);
});

describe('answerBody', () => {
  /** A server whose every request is answered by answerBody with `handle` (target: the path). */
  async function serveBody(handle: (target: string, body: string | typeof TOO_LARGE) => Answer | Promise<Answer>, errors: unknown[], limit = 8): Promise<number> {
    const s = createServer((req, res) => void answerBody(req, res, limit, handle, req.url!, (error) => errors.push(error)));
    server = s;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return (s.address() as AddressInfo).port;
  }

  test('hands the route its target and the body read whole (TOO_LARGE past the limit), and writes its answer', async () => {
    const errors: unknown[] = [];
    const port = await serveBody(async (target, body) => ({ status: body === TOO_LARGE ? 413 : 200, headers: { 'content-type': 'text/plain' }, body: `${target} ${String(body === TOO_LARGE ? 'too large' : body)}` }), errors);
    expect(await send(port, ['ab', 'cd'])).toMatchObject({ status: 200, body: '/ abcd' });
    expect(await send(port, ['0123456789'])).toMatchObject({ status: 413, body: '/ too large' });
    expect(errors).toEqual([]);
  });

  test('a route that throws, synchronously or not, gets a 500 and its error is reported', async () => {
    const errors: unknown[] = [];
    let sync = true;
    const port = await serveBody((_target, body) => {
      const error = new Error(`failed on ${String(body)}`);
      if ((sync = !sync)) throw error;
      return Promise.reject(error);
    }, errors);
    expect(await send(port, ['x'])).toMatchObject({ status: 500, body: 'internal error' });
    expect(await send(port, ['y'])).toMatchObject({ status: 500, body: 'internal error' });
    expect(errors.map((error) => (error as Error).message)).toEqual(['failed on x', 'failed on y']);
  });
});
