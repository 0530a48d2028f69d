// Cross-channel replay: prompts change on s0, wait D ms, open a stream for tools+prompts, trigger tools, read 1.5 s: count prompts/list_changed (0 expected).
const base = process.argv[2]; const delays = (process.argv[3] ?? '1500,2500').split(',').map(Number);
const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const headers = (method, name) => ({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) });
const call = async (url, tool) => { const r = await fetch(url, { method: 'POST', headers: headers('tools/call', tool), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {}, _meta: meta } }) }); await r.text(); };
const out = [];
for (const [i, d] of delays.entries()) {
  const url = `${base}/mcp/s${i}`;
  await call(url, 'trigger_prompts');
  await new Promise((f) => setTimeout(f, d));
  const ac = new AbortController(); setTimeout(() => ac.abort(), 2000); let buf = ''; let fired = false;
  try {
    const res = await fetch(url, { method: 'POST', headers: headers('subscriptions/listen'), body: JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true, promptsListChanged: true } } }), signal: ac.signal });
    const reader = res.body.getReader(); const dec = new TextDecoder();
    for (;;) { const { value, done } = await reader.read(); if (done) break; buf += dec.decode(value, { stream: true }); if (!fired && buf.includes('acknowledged')) { fired = true; await call(url, 'trigger_tools'); } }
  } catch {}
  out.push({ delayMs: d, tools: buf.split('tools/list_changed').length - 1, prompts: buf.split('prompts/list_changed').length - 1 });
}
console.log(JSON.stringify(out));
