import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer } from './endpoint.js';

/** The body was larger than allowed; the rest was read and discarded so the exchange can answer. */
export const TOO_LARGE = Symbol('too large');

/**
 * Reads a request body as UTF-8 text, up to `limit` bytes. Hand-written because it is the hot
 * path: a body parser middleware costs more than the MCP work of a typical tool call.
 */
export function readBody(req: IncomingMessage & { body?: unknown }, limit: number): Promise<string | typeof TOO_LARGE> {
  // An app-level body parser (express.json(), express.text()) may have read it already.
  if (req.body !== undefined && req.readableEnded) {
    const text = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : JSON.stringify(req.body);
    return Promise.resolve(Buffer.byteLength(text) > limit ? TOO_LARGE : text);
  }
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    let size = 0;
    let over = declared > limit;
    // A body nginx forwards arrives in one chunk, almost always: no array for that one.
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    // `on`, not `once`: the request ends after these fire, and once() wraps each listener.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (over) return;
      if (first === undefined) first = chunk;
      else (more ??= [first]).push(chunk);
    });
    req.on('end', () => {
      if (over) resolve(TOO_LARGE);
      else if (more !== undefined) resolve(Buffer.concat(more).toString('utf8'));
      else resolve(first === undefined ? '' : first.toString('utf8'));
    });
    req.on('error', reject);
  });
}

/**
 * Writes an {@link Answer} with Node's own API (no framework work on the hot path): the headers as
 * one flat list, which `writeHead` takes as it is, and always a Content-Length, so that no answer
 * is sent chunked (a body-less 202 otherwise costs a chunked terminator nginx has to parse).
 */
export function writeAnswer(res: ServerResponse, answer: Answer): void {
  const headers: string[] = [];
  const given = answer.headers;
  // The length is always this function's own (what the verdicts of auth-endpoint.ts name too).
  if (given !== undefined) for (const name in given) if (name !== 'content-length') headers.push(name, given[name]!);
  if (answer.body === undefined) {
    // 204 and 304 have no body by definition, and Node sends no length for them.
    if (answer.status !== 204 && answer.status !== 304) headers.push('content-length', '0');
    res.writeHead(answer.status, headers).end();
  } else {
    headers.push('content-length', String(Buffer.byteLength(answer.body)));
    res.writeHead(answer.status, headers).end(answer.body);
  }
}

/** Runs a handler and turns an unexpected failure into a 500 instead of a hung exchange. */
export async function answer(res: ServerResponse, produce: () => Promise<Answer> | Answer, onError: (error: unknown) => void): Promise<void> {
  try {
    writeAnswer(res, await produce());
  } catch (error) {
    answerFailure(res, error, onError);
  }
}

/**
 * {@link answer} for a request with a body: reads it (up to `limit` bytes) and answers what
 * `handle` makes of it. One async function per request where a closure for `answer` and its own
 * async frame cost two more objects and a promise on every call; `handle` and `target` are
 * per-route, not per-request.
 */
export async function answerBody<T>(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  handle: (target: T, body: string | typeof TOO_LARGE, req: IncomingMessage, res: ServerResponse) => Promise<Answer> | Answer,
  target: T,
  onError: (error: unknown) => void,
): Promise<void> {
  try {
    writeAnswer(res, await handle(target, await readBody(req, limit), req, res));
  } catch (error) {
    answerFailure(res, error, onError);
  }
}

/** An unexpected failure: logged, and a 500 when nothing was sent yet, else the exchange cut. */
function answerFailure(res: ServerResponse, error: unknown, onError: (error: unknown) => void): void {
  onError(error);
  if (!res.headersSent) writeAnswer(res, { status: 500, headers: { 'content-type': 'text/plain' }, body: 'internal error' });
  else res.destroy();
}
