import type { Readable, Writable } from 'node:stream';
import type { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { HTTMCP } from '../server/httmcp.js';

/** A server being served over stdio by {@link serveStdio}. */
export interface StdioServing {
  /** The SDK server on the stdio transport. */
  readonly server: McpServer;
  /** Resolves when the session ends: stdin reached its end, or {@link StdioServing.close} was called. */
  readonly closed: Promise<void>;
  /** Ends the session (running handlers are aborted). */
  close(): Promise<void>;
}

/**
 * Serves `server` over the process's stdin and stdout (newline-delimited JSON-RPC), the way
 * desktop clients that launch a command expect. Nothing else may write to stdout: log to stderr.
 *
 * The session ends when the client closes stdin, which the SDK's own stdio transport does not
 * notice on its own.
 */
export async function serveStdio(
  server: HTTMCP,
  streams: { stdin?: Readable; stdout?: Writable } = {},
): Promise<StdioServing> {
  const stdin = streams.stdin ?? process.stdin;
  const transport = new StdioServerTransport(stdin, streams.stdout ?? process.stdout);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const sdkServer = await server.connect(transport);
  const previous = sdkServer.server.onclose;
  sdkServer.server.onclose = () => {
    previous?.();
    resolveClosed();
  };
  const close = () => sdkServer.close();
  const onEnd = () => void close();
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  void closed.then(() => {
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
  });
  return { server: sdkServer, closed, close };
}
