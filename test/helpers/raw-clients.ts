/**
 * Hand-driven clients for tests that must send what no SDK client would (malformed frames,
 * forged sessions, raw SSE): a WebSocket speaking JSON-RPC by hand and an SSE reader.
 */
import WebSocket from 'ws';

export const STREAMABLE_ACCEPT = 'application/json, text/event-stream';
export const INITIALIZE_PARAMS = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-test', version: '1.0.0' } };

/** Waits until `check` returns something other than undefined, or fails after `timeoutMs`. */
export async function poll<T>(wakers: Set<() => void>, check: () => T | undefined, describe: () => string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out: ${describe()}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, left);
      function done() {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });
  }
}

/** One server-sent event as read off the wire. */
export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** A raw text/event-stream read with fetch, parsed per the SSE spec. */
export class EventStream {
  readonly events: SseEvent[] = [];
  /** Everything received, unparsed. */
  raw = '';
  ended = false;
  private readonly wakers = new Set<() => void>();
  private name: string | undefined;
  private id: string | undefined;
  private data: string[] = [];

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    if (response.body && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')) void this.pump(response.body);
    else this.ended = true;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        this.raw += value;
        let match: RegExpExecArray | null;
        while ((match = /\r\n|\r|\n/.exec(buffer)) && !(match[0] === '\r' && match.index === buffer.length - 1)) {
          this.line(buffer.slice(0, match.index));
          buffer = buffer.slice(match.index + match[0].length);
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.events.push({ event: this.name ?? 'message', id: this.id, data: this.data.join('\n') });
      this.name = undefined;
      this.data = [];
      this.wake();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.name = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }

  private wake(): void {
    for (const wake of this.wakers) wake();
  }

  next(predicate: (event: SseEvent, index: number) => boolean, timeoutMs = 5000): Promise<SseEvent> {
    return poll(
      this.wakers,
      () => {
        const found = this.events.find(predicate);
        if (found) return found;
        if (this.ended) throw new Error('stream ended');
        return undefined;
      },
      () => `no such event; got ${JSON.stringify(this.events).slice(0, 500)}`,
      timeoutMs,
    );
  }

  close(): void {
    this.controller.abort();
  }
}

export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  return new EventStream(response, controller);
}

/** A WebSocket MCP client driven by hand with `ws` (subprotocol mcp). */
export class WsClient {
  readonly received: unknown[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly wakers = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      try {
        this.received.push(JSON.parse(text));
      } catch {
        this.received.push(text);
      }
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static open(httpUrl: string, options: WebSocket.ClientOptions = {}): Promise<WsClient> {
    const ws = new WebSocket(httpUrl.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false, ...options });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Drives a socket that was opened elsewhere (just opened: nothing received yet). */
  static wrap(ws: WebSocket): WsClient {
    return new WsClient(ws);
  }

  private wake(): void {
    for (const wake of this.wakers) wake();
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  next(predicate: (message: unknown, index: number) => boolean, timeoutMs = 5000): Promise<unknown> {
    return poll(
      this.wakers,
      () => {
        const index = this.received.findIndex(predicate);
        if (index >= 0) return { value: this.received[index] };
        if (this.closed) throw new Error(`socket closed (${JSON.stringify(this.closed)})`);
        return undefined;
      },
      () => `no such message; got ${JSON.stringify(this.received).slice(0, 500)}`,
      timeoutMs,
    ).then((found) => found.value);
  }

  /** Sends a frame and returns the next message received after it. */
  exchange(frame: string, timeoutMs = 5000): Promise<unknown> {
    const seen = this.received.length;
    this.ws.send(frame);
    return this.next((_m, i) => i >= seen, timeoutMs);
  }

  request(id: string | number, method: string, params?: object): Promise<unknown> {
    this.send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
    return this.next((m) => typeof m === 'object' && m !== null && (m as { id?: unknown }).id === id);
  }

  async initialize(): Promise<void> {
    const reply = await this.request('init', 'initialize', INITIALIZE_PARAMS);
    expect(reply).toMatchObject({ id: 'init', result: { serverInfo: { name: 'demo' } } });
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  whenClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return poll(this.wakers, () => this.closed, () => 'socket still open', timeoutMs);
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Opens a Streamable HTTP session by hand (initialize, then notifications/initialized), both
 * requests with `headers` (credentials, say), and returns its id.
 */
export async function openStreamableSession(base: string, version = '2025-06-18', headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(base, {
    method: 'POST',
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }),
  });
  expect(res.status).toBe(200);
  await res.text();
  const session = res.headers.get('mcp-session-id');
  expect(session).toBeTruthy();
  const initialized = await fetch(base, {
    method: 'POST',
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers, 'mcp-session-id': session!, 'mcp-protocol-version': version },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(initialized.status).toBe(202);
  return session!;
}

/**
 * POSTs one JSON-RPC message into a 2025 Streamable HTTP session, by hand, with `headers`
 * (credentials, say) on top of the session's own, and returns the raw response.
 */
export function postInSession(url: string, session: string, message: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
}
