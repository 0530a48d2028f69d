import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createDemoServer } from '../../examples/demo.js';
import { createNotesServer } from '../../examples/notes.js';
import { freePort, type HTTMCP, type Stack } from '../../src/index.js';
import { connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

const SECRET = 'express-test-secret-0123456789abcdef';
let stack: Stack;
let app: Server;
let servers: HTTMCP[];

beforeAll(async () => {
  const port = await freePort();
  // The app's secret: nginx proves itself to the routers with a key derived from it.
  stack = await startTestStack({ servers: [createDemoServer(), createNotesServer()], backends: [`127.0.0.1:${port}`], gateway: { sessionSecret: SECRET } });
  // Exactly what the README shows: routers on the user's own Express app, configured from the
  // environment. The app also parses JSON bodies for its own routes, as real apps often do.
  process.env.HTTMCP_PUBLISH_URL = stack.publishUrl;
  process.env.HTTMCP_SESSION_SECRET = SECRET;
  servers = [createDemoServer(), createNotesServer()];
  const userApp = express();
  userApp.use(express.json());
  userApp.get('/hello', (_req, res) => void res.send('my own route'));
  for (const server of servers) userApp.use(server.router);
  app = await new Promise<Server>((resolve) => {
    const server = userApp.listen(port, '127.0.0.1', () => resolve(server));
  });
  expect((app.address() as AddressInfo).port).toBe(port);
});

afterAll(async () => {
  app?.closeAllConnections();
  await new Promise((r) => app?.close(r));
  for (const server of servers ?? []) await server.unmount();
  await stack?.stop();
});

test.each(TRANSPORTS)('app.use(server.router) serves %s clients through nginx+nchan', async (kind) => {
  const client = await connectClient(kind, stack.servers.demo!);
  expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toEqual({ content: [{ type: 'text', text: '5' }] });
  const progress: number[] = [];
  const result = await client.callTool({ name: 'long_task', arguments: { steps: 2, stepMs: 100 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  expect(result.content).toEqual([{ type: 'text', text: 'finished 2 steps' }]);
  expect(progress).toEqual([1, 2]);
  await client.close();
});

test('several servers share the one app, which keeps its own routes', async () => {
  const client = await connectClient('websocket', stack.servers.notes!);
  expect(client.getServerVersion()?.name).toBe('notes');
  await client.close();
  const port = (app.address() as AddressInfo).port;
  expect(await (await fetch(`http://127.0.0.1:${port}/hello`)).text()).toBe('my own route');
  expect(workerCrashes(stack)).toEqual([]);
});
