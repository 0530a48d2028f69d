// Cheap hand-rolled MCP clients for the benchmarks (no SDK Client: thousands of them share the
// cores with the server they measure). Streamable HTTP and legacy HTTP+SSE over node:http, one
// connection per request unless an agent is given, with an optional source address so a test
// can spread clients over 127.0.0.0/8 (per-address limits at the edge) or pin one to an address.

import http from 'node:http';
import WebSocket from 'ws';

export const PV = '2025-06-18';
export const ACCEPT = 'application/json, text/event-stream';
export const initializeBody = (id = 0, name = 'bench', protocolVersion = PV) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name, version: '1' } } });
export const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

/** An error with a short kind for counting (`http_502`, `ECONNRESET`, `timeout`, ...). */
export class CallError extends Error {
  constructor(kind, message) {
    super(message ?? kind);
    this.kind = kind;
  }
}

/** Splits an SSE byte stream into events; `onEvent({event, id, data})` for each. */
export function sseParser(onEvent) {
  let buf = '';
  let ev = { event: 'message', id: undefined, data: [] };
  return (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (ev.data.length) onEvent({ event: ev.event, id: ev.id, data: ev.data.join('\n') });
        ev = { event: 'message', id: undefined, data: [] };
      } else if (line.startsWith('data:')) ev.data.push(line.slice(5).replace(/^ /, ''));
      else if (line.startsWith('event:')) ev.event = line.slice(6).trim();
      else if (line.startsWith('id:')) ev.id = line.slice(3).trim();
    }
  };
}

/**
 * POSTs one JSON-RPC message to a Streamable HTTP endpoint and resolves `{status, headers,
 * message}`: the JSON reply, or the SSE event whose id matches `waitId` (the stream is then
 * closed), or no message for 202. Rejects with a {@link CallError} on a non-2xx status, a
 * transport error or the timeout.
 */
export function streamablePost(url, body, { session, waitId, localAddress, agent = false, timeoutMs = 60_000, extraHeaders, protocolVersion } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers = { 'content-type': 'application/json', accept: ACCEPT, 'mcp-protocol-version': protocolVersion ?? PV, ...extraHeaders };
    if (session) headers['mcp-session-id'] = session;
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    };
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers, agent, localAddress }, (res) => {
      const ct = res.headers['content-type'] ?? '';
      if (res.statusCode < 200 || res.statusCode > 299) {
        res.resume();
        return finish(new CallError(`http_${res.statusCode}`));
      }
      res.setEncoding('utf8');
      if (ct.startsWith('text/event-stream')) {
        const feed = sseParser((e) => {
          let m;
          try {
            m = JSON.parse(e.data);
          } catch {
            return;
          }
          if (waitId === undefined || m.id === waitId) {
            finish(null, { status: res.statusCode, headers: res.headers, message: m });
            res.destroy();
          }
        });
        res.on('data', feed);
        res.on('end', () => finish(new CallError('stream_ended')));
        res.on('error', () => finish(new CallError('stream_error')));
        return;
      }
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => {
        let message = null;
        if (b) {
          try {
            message = JSON.parse(b);
          } catch {
            return finish(new CallError('bad_json'));
          }
        }
        finish(null, { status: res.statusCode, headers: res.headers, message });
      });
      res.on('error', () => finish(new CallError('body_error')));
    });
    const timer = setTimeout(() => {
      finish(new CallError('timeout'));
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => finish(new CallError(e.code ?? 'request_error', e.message)));
    req.end(body);
  });
}

/** Opens an initialized Streamable HTTP session; resolves its id. */
export async function streamableSession(url, opts = {}) {
  const init = await streamablePost(url, initializeBody(0, 'bench', opts.protocolVersion), { ...opts, waitId: 0 });
  const session = init.headers['mcp-session-id'];
  if (!session) throw new CallError('no_session');
  await streamablePost(url, INITIALIZED, { ...opts, session });
  return session;
}

/**
 * A legacy HTTP+SSE session: the GET stream, the `endpoint` it names, and replies matched to
 * requests by id. `call(body, id)` POSTs to the endpoint and resolves the reply from the stream.
 */
export class LegacySseSession {
  static open(url, { localAddress, agent = false, timeoutMs = 30_000 } = {}) {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const s = new LegacySseSession(u, localAddress, agent);
      const timer = setTimeout(() => {
        reject(new CallError('timeout'));
        s.close();
      }, timeoutMs);
      s.req = http.get({ host: u.hostname, port: u.port, path: u.pathname, headers: { accept: 'text/event-stream' }, agent: false, localAddress }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          clearTimeout(timer);
          return reject(new CallError(`http_${res.statusCode}`));
        }
        s.res = res;
        res.setEncoding('utf8');
        res.on('data', sseParser((e) => {
          if (e.event === 'endpoint') {
            s.endpoint = new URL(e.data, u).toString();
            clearTimeout(timer);
            s.post(initializeBody(0), 0)
              .then(() => s.post(INITIALIZED))
              .then(() => resolve(s), (err) => (reject(err), s.close()));
            return;
          }
          let m;
          try {
            m = JSON.parse(e.data);
          } catch {
            return;
          }
          const w = s.waiting.get(m.id);
          if (w) {
            s.waiting.delete(m.id);
            w.resolve(m);
          }
        }));
        res.on('close', () => {
          s.closed = true;
          for (const w of s.waiting.values()) w.reject(new CallError('stream_closed'));
          s.waiting.clear();
        });
      });
      s.req.on('error', (e) => {
        clearTimeout(timer);
        reject(new CallError(e.code ?? 'request_error'));
      });
    });
  }

  constructor(url, localAddress, agent) {
    this.url = url;
    this.localAddress = localAddress;
    this.agent = agent;
    this.waiting = new Map();
    this.closed = false;
  }

  /** POSTs `body`; with `id`, resolves the reply that arrives on the stream. */
  post(body, id, { timeoutMs = 60_000 } = {}) {
    if (this.closed) return Promise.reject(new CallError('stream_closed'));
    const reply = id === undefined ? null : new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const posted = new Promise((resolve, reject) => {
      const u = new URL(this.endpoint);
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers: { 'content-type': 'application/json' }, agent: this.agent, localAddress: this.localAddress },
        (res) => {
          res.resume();
          if (res.statusCode < 200 || res.statusCode > 299) reject(new CallError(`http_${res.statusCode}`));
          else resolve(res.statusCode);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new CallError('timeout')));
      req.on('error', (e) => reject(e instanceof CallError ? e : new CallError(e.code ?? 'request_error')));
      req.end(body);
    });
    if (!reply) return posted;
    posted.catch((e) => {
      const w = this.waiting.get(id);
      if (w) {
        this.waiting.delete(id);
        w.reject(e);
      }
    });
    let timer;
    return Promise.race([
      reply,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new CallError('timeout')), timeoutMs))),
    ]).finally(() => {
      clearTimeout(timer);
      this.waiting.delete(id);
    });
  }

  close() {
    this.closed = true;
    this.req?.destroy();
    if (this.agent) this.agent.destroy();
  }
}

/** Opens an initialized WebSocket session (subprotocol `mcp`); resolves the socket. */
export function wsSession(url, { localAddress, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false, handshakeTimeout: timeoutMs, localAddress });
    let done = false;
    ws.on('open', () => ws.send(initializeBody(0)));
    ws.on('error', (e) => !done && ((done = true), reject(new CallError(e.code ?? 'ws_error', e.message))));
    ws.on('unexpected-response', (_, res) => !done && ((done = true), reject(new CallError(`http_${res.statusCode}`)), ws.terminate()));
    ws.on('close', (c) => !done && ((done = true), reject(new CallError(`closed_${c}`))));
    ws.on('message', (d) => {
      if (done) return;
      const m = JSON.parse(d.toString());
      if (m.id !== 0) return;
      done = true;
      ws.send(INITIALIZED);
      resolve(ws);
    });
  });
}

/** `n` source addresses in 127.0.0.0/8 from 127.0.1.1 up (the edge sees `n` clients). */
export function sourceAddresses(n) {
  return Array.from({ length: n }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
}
