// N sequential 2025-06-18 Streamable HTTP `tools/call add` on /mcp/demo over one keep-alive
// connection, after initialize: what bench/auth-callgrind/run.sh counts nginx's instructions over.
//
//   node bench/auth-callgrind/seq.mjs PORT [N=300] [TOKEN]
import http from 'node:http';

const [port, n, token] = [Number(process.argv[2]), Number(process.argv[3] ?? 300), process.argv[4]];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
if (token) base.authorization = `Bearer ${token}`;
function post(body, extra = {}) {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers = { ...base, ...extra, 'content-length': Buffer.byteLength(text) };
    const req = http.request({ host: '127.0.0.1', port, path: '/mcp/demo', method: 'POST', headers, agent }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (t += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: t }));
    });
    req.on('error', reject);
    req.end(text);
  });
}
const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cg', version: '1' } } });
const session = init.headers['mcp-session-id'];
const s = session ? { 'mcp-session-id': session } : {};
await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, s);
let bad = 0;
for (let i = 0; i < n; i++) {
  const r = await post({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } }, s);
  if (r.status !== 200 || !r.body.includes('"text":"3"')) bad++;
}
agent.destroy();
console.log(JSON.stringify({ calls: n, bad, init: init.status }));
