// Types of bench/lib/http1.mjs, for test/unit/bench-raw-http.test.ts.

export const MAX_HEAD_BYTES: number;

export class HttpParseError extends Error {
  code: 'HTTP_PARSE';
}

export interface ResponseHandler {
  onHead(status: number, headers: Record<string, string>): void;
  onBody(chunk: Buffer): void;
  onEnd(keepAlive: boolean): void;
}

export class ResponseParser {
  constructor(handler: ResponseHandler);
  inMessage: boolean;
  reset(): void;
  halt(): void;
  execute(buf: Buffer): void;
  finish(): boolean;
}

export class SseReader {
  constructor(onData: (data: string) => void);
  reset(): void;
  push(chunk: Buffer): void;
}
