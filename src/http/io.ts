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
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
    });
    req.once('end', () => resolve(over ? TOO_LARGE : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** Writes an {@link Answer} with Node's own API (no framework work on the hot path). */
export function writeAnswer(res: ServerResponse, answer: Answer): void {
  if (answer.body === undefined) {
    res.writeHead(answer.status, answer.headers).end();
  } else {
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) }).end(answer.body);
  }
}

/** Runs a handler and turns an unexpected failure into a 500 instead of a hung exchange. */
export async function answer(res: ServerResponse, produce: () => Promise<Answer> | Answer, onError: (error: unknown) => void): Promise<void> {
  try {
    writeAnswer(res, await produce());
  } catch (error) {
    onError(error);
    if (!res.headersSent) writeAnswer(res, { status: 500, headers: { 'content-type': 'text/plain' }, body: 'internal error' });
    else res.destroy();
  }
}
