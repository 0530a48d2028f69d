import { createParser } from 'eventsource-parser';

type Fetch = typeof fetch;

/**
 * A `fetch` for the SDK's legacy `SSEClientTransport` (`eventSourceInit: { fetch }`) that makes
 * a reconnecting stream resume its session.
 *
 * An EventSource that loses its stream reconnects with `Last-Event-ID`, and httmcp's legacy
 * event ids name the session, so the client continues where it was and gets what was sent while
 * it was away. The SDK (1.32) replaces the headers EventSource passes to `fetch` with its own,
 * which drops `Last-Event-ID`; without this, a reconnect opens a new session and replies to calls
 * still running in the old one are lost. This fetch remembers the last event id of the streams
 * it returned and puts the header back. Use one per transport.
 *
 * @example
 * new SSEClientTransport(url, { eventSourceInit: { fetch: resumingEventSourceFetch() } })
 */
export function resumingEventSourceFetch(base: Fetch = fetch): Fetch {
  let lastEventId: string | undefined;
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (lastEventId && !headers.has('last-event-id')) headers.set('last-event-id', lastEventId);
    const response = await base(input, { ...init, headers });
    if (!response.ok || !response.body || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return response;
    const parser = createParser({
      onEvent: (event) => {
        // Per the SSE spec an empty id clears the last one.
        if (event.id !== undefined) lastEventId = event.id || undefined;
      },
    });
    const decoder = new TextDecoder();
    const watched = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          parser.feed(decoder.decode(chunk, { stream: true }));
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
