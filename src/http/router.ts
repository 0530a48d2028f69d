import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { ErrorCode, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Gateway } from '../gateway.js';
import type { Delivery, SessionHub, Wire } from '../session/session-hub.js';

/** What {@link createNchanRouter} serves. */
export interface NchanRouterOptions {
  /** Server name: the router answers under `/mcp/{name}`. */
  name: string;
  hub: SessionHub;
  gateway: Gateway;
}

/** JSON-RPC code for errors that happen before a message reaches the protocol (transport level). */
const HTTP_LEVEL_ERROR = -32000;

/** Status the backend answers to ask nginx for an nchan-held SSE stream (see nginx.conf.template). */
export const STREAM_STATUS = 460;

/**
 * The routes nginx calls for one server. None of them is public: the edge only proxies
 * `/mcp/{name}`, the core adds the internal hops.
 *
 * - `GET    /mcp/{name}`                   open a WebSocket or legacy SSE session, or attach the
 *                                          Streamable HTTP GET stream: X-Accel-Redirect into nchan
 * - `POST   /mcp/{name}`                   Streamable HTTP message: JSON, 202, or a held stream
 * - `DELETE /mcp/{name}`                   end a Streamable HTTP session
 * - `POST   /mcp/{name}/{session}/message` a message nchan forwarded (WebSocket frame, SSE POST)
 * - `POST   /mcp/{name}/{session}/closed`  nchan's unsubscribe hook
 */
export function createNchanRouter({ name, hub, gateway }: NchanRouterOptions): Router {
  const router = express.Router();
  const base = `/mcp/${name}`;
  const body = express.text({ type: () => true, limit: gateway.maxMessageBytes });
  const { sessionIds, publisher, logger } = gateway;
  const principal = (req: Request) => gateway.principal(req.headers);
  const verified = (req: Request, session: string | undefined): session is string =>
    session !== undefined && sessionIds.verify(session, name, principal(req));

  router.get(base, async (req, res) => {
    const requested = header(req, 'mcp-session-id');
    if (requested !== undefined) {
      // Streamable HTTP: the standalone stream for server pushes.
      if (!verified(req, requested)) return sessionNotFound(res);
      if (!acceptsExactly(req, 'text/event-stream')) return httpError(res, 406, 'Not Acceptable: the GET stream needs Accept: text/event-stream');
      return enterSession(res, requested);
    }
    if (req.headers['x-httmcp-transport'] === 'websocket') {
      return enterSession(res, sessionIds.mint(name, principal(req)));
    }
    if (!acceptsExactly(req, 'text/event-stream')) {
      return httpError(res, 406, 'Not Acceptable: GET opens a WebSocket or an SSE stream (Accept: text/event-stream)');
    }
    // Legacy HTTP+SSE (2024-11-05): the first event names the URL to POST messages to. It is
    // stored in the channel, so the subscriber that attaches right after still receives it.
    const session = sessionIds.mint(name, principal(req));
    try {
      await publisher.publish(session, `${base}/${session}`, 'endpoint');
    } catch {
      return httpError(res, 503, 'Service Unavailable: could not open the session, try again');
    }
    return enterSession(res, session);
  });

  router.post(base, body, async (req, res) => {
    if (!accepts(req, 'application/json') || !accepts(req, 'text/event-stream')) {
      return httpError(res, 406, 'Not Acceptable: Accept must list application/json and text/event-stream');
    }
    if (!req.is('application/json')) return httpError(res, 415, 'Unsupported Media Type: Content-Type must be application/json');
    const text = typeof req.body === 'string' ? req.body : '';
    let session = header(req, 'mcp-session-id');
    let minted = false;
    if (session === undefined) {
      if (!looksLikeInitialize(text)) return httpError(res, 400, 'Bad Request: Mcp-Session-Id header is required');
      session = sessionIds.mint(name, principal(req));
      minted = true;
    } else if (!verified(req, session)) {
      return sessionNotFound(res);
    }
    const delivery = await hub.receive({ session, wire: 'streamable', headers: req.headers, body: text });
    if (minted || delivery.kind === 'stream') res.setHeader('Mcp-Session-Id', session);
    switch (delivery.kind) {
      case 'reply':
        return res.status(200).type('application/json').send(delivery.body);
      case 'none':
        return res.status(202).end();
      case 'invalid':
        return res.status(400).type('application/json').send(delivery.body);
      case 'stream':
        return res.status(STREAM_STATUS).setHeader('X-Httmcp-Stream', delivery.channel).end();
    }
  });

  router.delete(base, async (req, res) => {
    const session = header(req, 'mcp-session-id');
    if (session === undefined) return httpError(res, 400, 'Bad Request: Mcp-Session-Id header is required');
    if (!verified(req, session)) return sessionNotFound(res);
    hub.sessionClosed(session);
    try {
      await publisher.delete(session);
    } catch {
      return httpError(res, 503, 'Service Unavailable: could not end the session stream, try again');
    }
    return res.status(200).end();
  });

  router.post(`${base}/:session/message`, body, async (req, res) => {
    const session = req.params.session;
    if (!verified(req, session)) {
      logger.warn({ server: name }, 'refused a message on a forged or foreign session id');
      // 403 makes nchan close the WebSocket / refuse the POST, and publish nothing.
      return res.status(403).type('text/plain').send('invalid session');
    }
    const wire: Wire = req.headers['x-httmcp-transport'] === 'websocket' ? 'websocket' : 'sse';
    const text = typeof req.body === 'string' ? req.body : '';
    answerNchan(res, await hub.receive({ session, wire, headers: req.headers, body: text }));
  });

  router.post(`${base}/:session/closed`, (req, res) => {
    const session = req.params.session;
    // The GET stream of a Streamable HTTP session may come and go; the session lives on.
    const ended = header(req, 'mcp-session-id') === undefined;
    const valid = verified(req, session);
    logger.debug({ server: name, session, ended, valid }, 'session unsubscribed');
    if (ended && valid) hub.sessionClosed(session);
    res.status(204).end();
  });

  // Body errors (too large, bad charset) on the nchan hop become a JSON-RPC error in the session
  // instead of an HTTP error, which would close the client's WebSocket.
  router.use((error: { type?: string; status?: number; message?: string }, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = error.status ?? 500;
    const message =
      error.type === 'entity.too.large'
        ? `Message too large: the limit is ${gateway.maxMessageBytes} bytes`
        : status < 500
          ? `Bad request: ${error.message ?? 'unreadable body'}`
          : 'Internal error';
    if (status >= 500) logger.error({ err: error }, 'request failed');
    const reply = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.InvalidRequest, message } });
    if (req.path.endsWith('/message')) return res.status(200).type('application/json').send(reply);
    return res.status(status).type('application/json').send(reply);
  });

  function enterSession(res: Response, session: string): void {
    res.setHeader('X-Accel-Redirect', `/_httmcp/session/${name}/${session}`);
    res.status(200).end();
  }

  return router;
}

/** 200 publishes the body into the session; 204 publishes nothing. */
function answerNchan(res: Response, delivery: Delivery): void {
  if (delivery.kind === 'reply' || delivery.kind === 'invalid') {
    res.status(200).type('application/json').send(delivery.body);
  } else {
    res.status(204).end();
  }
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function accepts(req: Request, type: string): boolean {
  return acceptsExactly(req, type) || (req.headers.accept ?? '').includes('*/*');
}

/** A GET is only an event stream when the client says so (a wildcard Accept is a browser or curl). */
function acceptsExactly(req: Request, type: string): boolean {
  return (req.headers.accept ?? '').includes(type);
}

/** Cheap pre-check before minting a session; the hub does the real validation. */
function looksLikeInitialize(text: string): boolean {
  try {
    return isInitializeRequest(JSON.parse(text));
  } catch {
    return false;
  }
}

function httpError(res: Response, status: number, message: string): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: HTTP_LEVEL_ERROR, message } }));
}

function sessionNotFound(res: Response): void {
  httpError(res, 404, 'Session not found: initialize a new session');
}
