/**
 * Serves the example servers over NATS from code (what `httmcp nats` does from the command line).
 * Start as many of these as you like: they share a queue group per server.
 *
 *   nats-server &                       # or any NATS you have; NATS_URL says where
 *   node dist/examples/nats/serve.js
 */
import { connect } from 'nats';
import { serveNats } from '../../src/transports/index.js';
import { createExampleServers } from '../index.js';

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', maxReconnectAttempts: -1 });
const served = await Promise.all(createExampleServers().map((server) => serveNats(server, nc)));
for (const s of served) process.stderr.write(`${s.name}: ${s.subject} (this process: ${s.workerSubject})\n`);

process.once('SIGINT', () => {
  // Running calls get 10 s to finish; after that, clients re-send them to another process.
  void Promise.all(served.map((s) => s.stop({ graceMs: 10_000 })))
    .then(() => nc.drain())
    .then(() => process.exit(0));
});
