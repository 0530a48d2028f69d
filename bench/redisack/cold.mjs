// For each server s0..s39 and kind: open a listen stream (the channel's first subscriber), trigger at the ack, wait up to 3 s for the event.
const base = process.argv[2]; const servers = Number(process.argv[3] ?? 40);
const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const headers = (method, name) => ({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) });
let lost = 0, ok = 0, bad = 0; const lostWhere = [];
for (let i = 0; i < servers; i++) for (const kind of ['tools', 'prompts']) {
  const url = `${base}/mcp/s${i}`; const ac = new AbortController(); const timer = setTimeout(() => ac.abort(), 3000);
  let acked = false, got = false, status;
  try {
    const res = await fetch(url, { method: 'POST', headers: headers('subscriptions/listen'), body: JSON.stringify({ jsonrpc: '2.0', id: `c${i}${kind}`, method: 'subscriptions/listen', params: { _meta: meta, notifications: { [`${kind}ListChanged`]: true } } }), signal: ac.signal });
    status = res.status;
    const reader = res.body.getReader(); const dec = new TextDecoder(); let buf = '';
    for (;;) {
      const { value, done } = await reader.read(); if (done) break;
      buf += dec.decode(value, { stream: true });
      if (!acked && buf.includes('acknowledged')) { acked = true; const r = await fetch(url, { method: 'POST', headers: headers('tools/call', `trigger_${kind}`), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: `trigger_${kind}`, arguments: {}, _meta: meta } }) }); await r.text(); }
      if (buf.includes(`${kind}/list_changed`)) { got = true; break; }
    }
  } catch {}
  clearTimeout(timer); ac.abort();
  if (!acked) bad++; else if (got) ok++; else { lost++; lostWhere.push(`s${i}/${kind}`); }
}
console.log(JSON.stringify({ ok, lost, noAck: bad, lostWhere: lostWhere.slice(0, 10) }));
