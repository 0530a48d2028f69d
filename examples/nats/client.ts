/**
 * An SDK client reaching MCP servers over NATS: discovers them, then calls the demo server.
 *
 *   node dist/examples/nats/client.js      # with examples/nats/serve.js (or `httmcp nats`) running
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect } from 'nats';
import { NatsClientTransport, discoverNatsServers } from '../../src/transports/index.js';

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });

for (const s of await discoverNatsServers(nc)) {
  console.log(`found ${s.name} ${s.version} at ${s.subject} (process ${s.worker}): tools ${s.tools.join(', ')}`);
}

const client = new Client({ name: 'nats-example', version: '1.0.0' });
await client.connect(new NatsClientTransport(nc, { server: 'demo' }));

const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
console.log('add(2, 3) =', (sum.content as { text: string }[])[0]?.text);

const long = await client.callTool({ name: 'long_task', arguments: { steps: 3, stepMs: 100 } }, undefined, {
  onprogress: ({ progress, total }) => console.log(`progress ${progress}/${total}`),
});
console.log((long.content as { text: string }[])[0]?.text);

await client.close();
await nc.close();
