// One keep-alive HTTP/1.1 connection on a raw node:net socket, one JSON-RPC exchange at a time:
// the load generator's light HTTP client (bench/load.mjs --http-client raw).
//
// The caller writes the whole request (head and body) as one pre-built string; the connection
// parses the response (bench/lib/http1.mjs) and answers once per request with the JSON-RPC
// message carrying the request's id: from a JSON body when it is complete, or from a
// text/event-stream body as soon as that message arrives (the rest of the stream is read and
// dropped before the connection takes the next request). Reconnects when the server closes the
// connection or says `Connection: close`. No timers: the owner calls checkTimeout() from one
// sweeper for all its connections.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ResponseParser, SseReader } from './http1.mjs';

/** The message with `id` in a parsed JSON-RPC payload (one object or a batch), or null. */
export function findById(parsed, id) {
  if (Array.isArray(parsed)) {
    for (const m of parsed) if (m && m.id === id) return m;
    return null;
  }
  return parsed && parsed.id === id ? parsed : null;
}

function codedError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

/**
 * @typedef {object} RawReply
 * @property {number} status HTTP status
 * @property {Record<string, string>} headers lowercased names
 * @property {object | null} msg the JSON-RPC message with the request's id (null: none, or not 2xx)
 * @property {string} [text] the body of a non-2xx response or of a JSON body without our message
 * @property {boolean} sse the body was text/event-stream
 */

export class RawHttpConnection {
  /**
   * @param {{host: string, port: number, timeout?: number, encoding?: BufferEncoding}} options
   *   encoding: how request strings are written ('latin1' for ASCII requests, the cheapest).
   */
  constructor({ host, port, timeout = 10_000, encoding = 'utf8' }) {
    this.host = host;
    this.port = port;
    this.timeout = timeout;
    this.encoding = encoding;
    this.socket = null;
    this.parser = null;
    this.current = null; // the exchange whose response is being read
    this.queued = null; // a request sent while an event-stream body was still being read
    this.closed = false;
    this.connects = 0;
    this.sse = new SseReader((data) => this.onSseData(data));
  }

  /**
   * Sends `request` (a complete HTTP/1.1 request) and calls `callback(err, reply)` once, with
   * the JSON-RPC message with `id` (id null: no reply expected, the callback comes at the end of
   * the response). Errors carry `code`: a socket error's, 'HTTP_PARSE', 'connection_closed',
   * 'timeout'.
   * @param {string} request
   * @param {number | string | null} id
   * @param {(err: Error | null, reply?: RawReply) => void} callback
   */
  send(request, id, callback) {
    const ex = { id, callback, startedAt: 0, status: 0, headers: null, chunks: [], sse: false, decided: false };
    if (this.closed) {
      queueMicrotask(() => callback(codedError('connection_closed', 'connection closed by the client')));
      return;
    }
    if (this.current) {
      this.queued = { ex, request };
      return;
    }
    this.begin(ex, request);
  }

  begin(ex, request) {
    if (!this.socket) this.open();
    ex.startedAt = performance.now();
    this.current = ex;
    this.socket.write(request, this.encoding);
  }

  open() {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.connects++;
    const parser = new ResponseParser(this);
    this.parser = parser;
    socket.on('data', (buf) => {
      if (this.socket !== socket) return;
      try {
        parser.execute(buf);
      } catch (err) {
        this.drop(socket, err);
      }
    });
    socket.on('error', (err) => this.drop(socket, err));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      // A body delimited by the close ends here; anything else in flight was cut short.
      if (parser.finish()) this.drop(socket, codedError('connection_closed', 'server closed the connection'));
      else this.drop(socket, codedError('connection_closed', 'server closed the connection mid-response'));
    });
  }

  /** Forgets `socket` (if still ours), fails the exchange in flight and starts a queued one. */
  drop(socket, err) {
    if (this.socket !== socket) return;
    this.socket = null;
    this.parser?.halt();
    this.parser = null;
    socket.destroy();
    const ex = this.current;
    this.current = null;
    if (ex && !ex.decided) this.decide(ex, err);
    this.startQueued();
  }

  startQueued() {
    const q = this.queued;
    if (!q || this.current) return;
    this.queued = null;
    if (this.closed) q.ex.callback(codedError('connection_closed', 'connection closed by the client'));
    else this.begin(q.ex, q.request);
  }

  decide(ex, err, msg = null, text) {
    ex.decided = true;
    ex.chunks = null;
    if (err) ex.callback(err);
    else ex.callback(null, { status: ex.status, headers: ex.headers, msg, text, sse: ex.sse });
  }

  // ------------------------------------------------ ResponseParser handler

  onHead(status, headers) {
    const ex = this.current;
    if (!ex) throw codedError('HTTP_PARSE', `unsolicited response ${status}`);
    ex.status = status;
    ex.headers = headers;
    if (status >= 200 && status < 300 && ex.id != null && (headers['content-type'] ?? '').startsWith('text/event-stream')) {
      ex.sse = true;
      this.sse.reset();
    }
  }

  onBody(chunk) {
    const ex = this.current;
    if (ex.decided) return; // the rest of an event stream whose message arrived
    if (ex.sse) this.sse.push(chunk);
    else ex.chunks.push(chunk);
  }

  onSseData(data) {
    const ex = this.current;
    if (ex.decided) return;
    let parsed = null;
    try {
      parsed = JSON.parse(data);
    } catch {
      return; // not JSON: not ours
    }
    const msg = findById(parsed, ex.id);
    if (msg) this.decide(ex, null, msg);
  }

  onEnd(keepAlive) {
    const ex = this.current;
    this.current = null;
    if (!keepAlive) {
      // Anything after this response on the old connection is not for the next request.
      const socket = this.socket;
      this.socket = null;
      this.parser?.halt();
      this.parser = null;
      socket?.destroy();
    }
    if (!ex.decided) {
      const { status, chunks } = ex;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (status < 200 || status >= 300 || ex.id == null || ex.sse) this.decide(ex, null, null, body.toString());
      else {
        let msg = null;
        try {
          msg = findById(JSON.parse(body.toString()), ex.id);
        } catch {}
        this.decide(ex, null, msg, msg ? undefined : body.toString());
      }
    }
    this.startQueued();
  }

  // ------------------------------------------------ owner

  /** Fails the exchange in flight (and drops the connection) if it is older than the timeout. */
  checkTimeout(now) {
    const ex = this.current;
    if (ex && this.socket && now - ex.startedAt > this.timeout) {
      this.drop(this.socket, codedError('timeout', `no complete response in ${this.timeout} ms`));
    }
  }

  close() {
    this.closed = true;
    const socket = this.socket;
    if (socket) this.drop(socket, codedError('connection_closed', 'connection closed by the client'));
  }
}
