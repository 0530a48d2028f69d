// Replays: trigger a tools/list_changed on s0, wait D ms, open a new listen stream, read 1.5 s, count list_changed (0 expected).
const base = process.argv[2]; const delays = (process.argv[3] ?? '0,200,500,1000,1500,2500,4000,6000').split(',').map(Number);
const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const headers = (method, name) => ({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) });
const out = {};
for (const d of delays) {
  const url = `${base}/mcp/s0`;
  const r = await fetch(url, { method: 'POST', headers: headers('tools/call', 'trigger_tools'), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'trigger_tools', arguments: {}, _meta: meta } }) }); await r.text();
  await new Promise((f) => setTimeout(f, d));
  const ac = new AbortController(); setTimeout(() => ac.abort(), 1500); let buf = '';
  try {
    const res = await fetch(url, { method: 'POST', headers: headers('subscriptions/listen'), body: JSON.stringify({ jsonrpc: '2.0', id: 'd', method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } }), signal: ac.signal });
    const reader = res.body.getReader(); const dec = new TextDecoder();
    for (;;) { const { value, done } = await reader.read(); if (done) break; buf += dec.decode(value, { stream: true }); }
  } catch {}
  out[d] = buf.split('tools/list_changed').length - 1;
  await new Promise((f) => setTimeout(f, 7000 - Math.min(d, 6000)));
}
console.log(JSON.stringify({ replayedAfterDelayMs: out }));
