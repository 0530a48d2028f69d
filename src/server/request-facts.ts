import type { AuthInfo, RequestId, ServerContext, Transport } from '@modelcontextprotocol/server';

/** What a transport knows of one request it delivered, besides the JSON-RPC message itself. */
export interface RequestFacts {
  /** The session the request arrived on, when the transport serves several. */
  readonly session: string | undefined;
  /** Headers of the client's HTTP request (for WebSocket, those of its handshake). */
  readonly headers: Record<string, string | string[] | undefined>;
  /**
   * One header of {@link headers} (lower-case name) without making {@link headers}: a transport
   * that copies the headers for handlers on first read implements it, so that layers reading a
   * header or two per request (tracing, metrics) leave the copy to handlers that ask.
   */
  header?(name: string): string | string[] | undefined;
  /**
   * Who sent the request, in the SDK's shape, when the edge authenticated it and the transport
   * keeps it here instead of in the message's `extra` (the session hub: see
   * {@link authInfoOfFacts}). Undefined otherwise.
   */
  readonly authInfo?: AuthInfo | undefined;
}

/**
 * The `AuthInfo` of request `id` as `transport` delivered it: the message's `extra` when the
 * transport put it there (the SDK's transports, a task round), else the request's facts.
 */
export function authInfoOfFacts(transport: Transport | undefined, id: RequestId, extra: { authInfo?: AuthInfo | undefined } | undefined): AuthInfo | undefined {
  return extra?.authInfo ?? requestFactsOf(transport, id)?.authInfo;
}

/**
 * Header `name` (lower-case) of the request `facts` describe: through {@link RequestFacts.header}
 * when the transport has it, else from its headers.
 */
export function headerOf(facts: RequestFacts | undefined, name: string): string | string[] | undefined {
  if (facts === undefined) return undefined;
  return facts.header !== undefined ? facts.header(name) : facts.headers[name];
}

/**
 * A transport that tells the {@link RequestFacts} of the requests it delivered, by the id it
 * delivered them with, until their reply leaves.
 *
 * Why: the SDK v2 hands a message's transport facts to handlers only as a web `Request`
 * (`MessageExtraInfo.request`, costly to build per message) and takes `ctx.sessionId` from the
 * transport, not the message. A transport serving many sessions on one SDK server (the session
 * hub) therefore keeps these facts itself, and httmcp's `Context` reads them from here.
 */
export interface RequestFactsSource {
  requestFacts(id: RequestId): RequestFacts | undefined;
}

/** The facts `transport` (or a transport it wraps) keeps for request `id`, if it keeps any. */
export function requestFactsOf(transport: Transport | undefined, id: RequestId): RequestFacts | undefined {
  return (transport as Partial<RequestFactsSource> | undefined)?.requestFacts?.(id);
}

/**
 * The facts of the request a handler runs for: those its transport keeps (the session hub), else
 * those of the web `Request` an SDK HTTP transport passed (`ctx.http.req`), else none.
 */
export function factsOfContext(ctx: ServerContext, transport: Transport | undefined): RequestFacts | undefined {
  const kept = requestFactsOf(transport, ctx.mcpReq.id);
  if (kept) return kept;
  const request = ctx.http?.req;
  if (!request) return undefined;
  const headers = Object.fromEntries(request.headers);
  return { session: ctx.sessionId ?? headers['mcp-session-id'], headers };
}
