// N sequential 2025-06-18 WebSocket `tools/call add` on /mcp/demo over one connection (subprotocol
// "mcp"), after initialize: the WebSocket counterpart of seq.mjs (SEQ=seq-ws.mjs for run.sh).
//
//   node bench/auth-callgrind/seq-ws.mjs PORT [N=300] [TOKEN]
import WebSocket from 'ws';

const [port, n, token] = [Number(process.argv[2]), Number(process.argv[3] ?? 300), process.argv[4]];
const ws = new WebSocket(`ws://127.0.0.1:${port}/mcp/demo`, 'mcp', token ? { headers: { authorization: `Bearer ${token}` } } : {});
const waiting = new Map();
ws.on('message', (d) => {
  const msg = JSON.parse(d.toString());
  waiting.get(msg.id)?.(msg);
  waiting.delete(msg.id);
});
const call = (msg) => new Promise((resolve) => (waiting.set(msg.id, resolve), ws.send(JSON.stringify(msg))));
await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
const init = await call({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cg', version: '1' } } });
ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
let bad = 0;
for (let i = 0; i < n; i++) {
  const r = await call({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
  if (r.result?.content?.[0]?.text !== '3') bad++;
}
ws.close();
console.log(JSON.stringify({ calls: n, bad, init: init.result ? 'ok' : 'error' }));
