// Types of bench/lib/raw-http.mjs, for test/unit/bench-raw-http.test.ts.

export function findById(parsed: unknown, id: unknown): Record<string, unknown> | null;

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  msg: Record<string, unknown> | null;
  text?: string;
  sse: boolean;
}

export type RawError = Error & { code?: string };

export class RawHttpConnection {
  constructor(options: { host: string; port: number; timeout?: number; encoding?: BufferEncoding });
  connects: number;
  send(request: string, id: number | string | null, callback: (err: RawError | null, reply?: RawReply) => void): void;
  checkTimeout(now: number): void;
  close(): void;
}
