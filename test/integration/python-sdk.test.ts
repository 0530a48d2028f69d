/**
 * The official MCP Python SDK (`mcp`, see test/helpers/python-sdk.ts) as a client of a real
 * nginx+nchan stack, on Streamable HTTP: lists the demo server's tools and calls `add`.
 *
 * httmcp serves both eras on every URL: the SDK's default `auto` mode (a `server/discover` probe
 * first) lands on 2026-07-28, `legacy` mode on the 2025 handshake, and a client pinned to
 * 2026-07-28 is served too.
 */
import type { Stack } from '../../src/index.js';
import { pythonSdk, runPythonClient, type PythonSdk } from '../helpers/python-sdk.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

interface ListAndCall {
  protocolVersion: string;
  tools: string[];
  result: { content: Array<{ type: string; text?: string }>; isError?: boolean };
}

const sdk = await pythonSdk();
if ('skip' in sdk) console.warn(`python-sdk.test.ts skipped: ${sdk.skip}`);
const pythonTest = 'skip' in sdk ? test.skip : test;
const CLIENT_TIMEOUT_MS = 60_000;

describe(`the MCP Python SDK through nginx+nchan`, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startTestStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  pythonTest.each([
    ['legacy', '2025-11-25'],
    ['auto', '2026-07-28'],
    ['2026-07-28', '2026-07-28'],
  ])(
    'mode %s: lists the tools and calls add on /mcp/demo over protocol version %s',
    async (mode, version) => {
      const reply = await runPythonClient<ListAndCall>(sdk as PythonSdk, 'list_and_call.py', [stack.servers.demo!, mode, 'add', '{"a":2,"b":3}'], CLIENT_TIMEOUT_MS);
      expect(reply.protocolVersion).toBe(version);
      expect(reply.tools).toEqual(expect.arrayContaining(['add', 'divide', 'sleep']));
      expect(reply.result.isError ?? false).toBe(false);
      expect(reply.result.content).toEqual([{ type: 'text', text: '5' }]);
      expect(workerCrashes(stack)).toEqual([]);
    },
    CLIENT_TIMEOUT_MS * 2,
  );
});
