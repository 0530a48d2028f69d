// Types of bench/load.mjs's entry, for test/unit/bench-raw-http.test.ts.

export const PROTOCOL_VERSION: string;
export const MODERN_PROTOCOL_VERSION: string;

export interface LoadOptions {
  transport: 'ws' | 'http';
  url: string;
  clients?: number | string;
  duration?: number | string;
  warmup?: number | string;
  pids?: number[];
  tool?: string;
  args?: Record<string, unknown>;
  timeout?: number | string;
  rate?: number | string;
  wsDeflate?: boolean;
  headers?: Record<string, string>;
  era?: '2025' | '2026';
  httpClient?: 'raw' | 'undici';
  log?: (message: string) => void;
}

export interface LoadResult {
  transport: string;
  clients: number;
  requests: number;
  errors: number;
  error_kinds?: Record<string, number>;
  rps: number;
  p50_ms: number | null;
  era?: string;
  http_client?: string;
  sessions?: number;
  sse_responses?: number;
  loadgen_cpu_us_per_call: number | null;
  [key: string]: unknown;
}

export function runLoad(options: LoadOptions): Promise<LoadResult>;
export function readProcCpu(pid: number): { comm: string; us: number };
