// The httmcp operator console: polls the backend's read-only JSON (through nginx's /console/)
// and draws it. Every server-provided string goes in through textContent, never as HTML.

const POLL_MS = 1500;
const API = new URL('api/', document.baseURI);

/** Creates an element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child);
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** Thrown when the console's data needs a token (authentication on): says which scope. */
class NeedsToken extends Error {}

async function getJson(name) {
  // With authentication on, the data needs a token with the console's admin scope.
  const token = document.getElementById('admin-token').value.trim();
  const res = await fetch(new URL(name, API), { cache: 'no-store', headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 401 || res.status === 403) {
    document.getElementById('admin-login').hidden = false;
    const body = await res.json().catch(() => ({}));
    throw new NeedsToken(`${res.status === 403 ? 'this token lacks' : 'paste a token with'} the scope ${body.scope ?? '(admin)'}${body.reason ? ` (${body.reason})` : ''}`);
  }
  if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
  return res.json();
}

const format = {
  ms: (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(1)),
  time: (at) => new Date(at).toLocaleTimeString(),
  bytes: (value) => (value >= 1024 * 1024 ? `${(value / 1024 / 1024).toFixed(1)} MiB` : `${(value / 1024).toFixed(0)} KiB`),
  duration(seconds) {
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
    return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  },
};

// ------------------------------------------------------------------ live state

function renderCards(state) {
  const { gateway, calls, backend, nchan } = state;
  const total = calls.tools.reduce((sum, t) => sum + t.calls, 0);
  const errors = calls.tools.reduce((sum, t) => sum + t.errors, 0);
  const last = calls.perSecond.slice(-6, -1);
  const rate = last.reduce((sum, b) => sum + b.calls, 0) / Math.max(1, last.length);
  const cards = [
    ['calls/s (5 s)', rate.toFixed(1)],
    ['tool calls', total],
    ['tool errors', errors, errors > 0],
    ['in flight', gateway.inflight],
    ['nchan subscribers', nchan.subscribers ?? '–'],
    ['nchan channels', nchan.channels ?? '–'],
    ['nchan stored messages', nchan['stored messages'] ?? '–'],
    ['published', gateway.published],
    ['publish retries', gateway.retried, gateway.retried > 0],
    ['publish failures', gateway.failed, gateway.failed > 0],
    ['sessions closed', gateway.sessionsClosed],
    ['backend uptime', format.duration(backend.uptimeSeconds)],
    ...(state.nginx ? [['nginx worker restarts', state.nginx.workerExits, state.nginx.workerExits > 0]] : []),
  ];
  document.getElementById('cards').replaceChildren(
    ...cards.map(([label, value, bad]) =>
      el('div', { class: bad ? 'card bad' : 'card', 'data-card': label, title: label === 'nginx worker restarts' ? state.nginx.lastWorkerExit : undefined }, el('div', { class: 'value', text: String(value) }), el('div', { class: 'label', text: label })),
    ),
  );
}

function renderRateChart(perSecond) {
  const width = 600;
  const height = 120;
  const max = Math.max(1, ...perSecond.map((b) => b.calls));
  const bar = width / perSecond.length;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'tool calls per second' });
  chart.append(svg('line', { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, stroke: '#e3e6eb' }));
  perSecond.forEach((b, i) => {
    const h = (b.calls / max) * (height - 14);
    const e = (b.errors / max) * (height - 14);
    if (h > 0) chart.append(svg('rect', { x: i * bar + 1, y: height - h, width: bar - 2, height: h - e, fill: '#2f6fde' }));
    if (e > 0) chart.append(svg('rect', { x: i * bar + 1, y: height - e, width: bar - 2, height: e, fill: '#d23c3c' }));
  });
  const label = svg('text', { x: 4, y: 11, 'font-size': 10, fill: '#6b7483' });
  label.textContent = `max ${max}/s`;
  chart.append(label);
  document.getElementById('rate-chart').replaceChildren(chart);
}

/** A small horizontal bar per percentile, scaled to the slowest p99 of all tools. */
function latencyBars(tool, scale) {
  const width = 160;
  const chart = svg('svg', { viewBox: `0 0 ${width} 14`, width, height: 14, role: 'img', 'aria-label': `latency of ${tool.tool}` });
  const bars = [
    [tool.p99, '#c9d8f5'],
    [tool.p90, '#8fb0ee'],
    [tool.p50, '#2f6fde'],
  ];
  for (const [value, fill] of bars) chart.append(svg('rect', { x: 0, y: 2, width: Math.max(1, (value / scale) * width), height: 10, fill }));
  return chart;
}

function renderTools(tools) {
  const scale = Math.max(1, ...tools.map((t) => t.p99));
  const rows = [...tools]
    .sort((a, b) => b.calls - a.calls)
    .map((t) =>
      el(
        'tr',
        { 'data-tool': `${t.server}/${t.tool}` },
        el('td', { text: t.server }),
        el('td', {}, el('code', { text: t.tool })),
        el('td', { class: 'num calls', text: String(t.calls) }),
        el('td', { class: t.errors > 0 ? 'num errors error' : 'num errors', text: String(t.errors) }),
        el('td', { class: 'num', text: format.ms(t.p50) }),
        el('td', { class: 'num', text: format.ms(t.p90) }),
        el('td', { class: 'num', text: format.ms(t.p99) }),
        el('td', {}, latencyBars(t, scale)),
      ),
    );
  document.querySelector('#tools-table tbody').replaceChildren(...rows);
}

function renderCalls(recent) {
  const rows = recent.slice(0, 25).map((c) =>
    el(
      'tr',
      { 'data-call': `${c.server}/${c.tool}` },
      el('td', { text: format.time(c.at) }),
      el('td', { text: c.server }),
      el('td', {}, el('code', { text: c.tool })),
      el('td', { class: 'num', text: format.ms(c.durationMs) }),
      el('td', { class: c.outcome, text: c.outcome }),
      el('td', { class: 'muted', text: c.error ?? '' }),
    ),
  );
  document.querySelector('#calls-table tbody').replaceChildren(...rows);
}

/** Key-value rows; `skip` hides keys that say nothing here (Redis figures without Redis). */
/** A key/value table, `perRow` pairs to a row (the long ones side by side keep the page short). */
function renderTable(id, entries, perRow = 1) {
  const rows = [];
  for (let i = 0; i < entries.length; i += perRow) {
    const cells = entries.slice(i, i + perRow).flatMap(([key, value]) => [el('td', { text: key.replace(/_/g, ' ') }), el('td', { class: 'num', text: String(value) })]);
    rows.push(el('tr', {}, ...cells));
  }
  document.getElementById(id).replaceChildren(...rows);
}

const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'HTTP+SSE (legacy)', streamable: 'Streamable HTTP' };

/** Open sessions, streams and requests: a row per transport, a column group per era. */
function renderOpen(open) {
  const cell = (row, kind) =>
    row[kind] === undefined || row[kind] === null
      ? el('td', { class: 'na', 'data-open': `${row.transport} ${row.era} ${kind}`, text: '–', title: row.era === '2025' ? 'Streamable HTTP sessions hold nothing open between requests' : '2026-07-28 has no sessions' })
      : el('td', { class: 'num', 'data-open': `${row.transport} ${row.era} ${kind}`, text: String(row[kind]) });
  const rows = Object.keys(TRANSPORT_NAMES).map((transport) => {
    const of = (era) => open.find((r) => r.transport === transport && r.era === era) ?? { transport, era, sessions: null, streams: 0, requests: 0 };
    const old = of('2025');
    const modern = of('2026-07-28');
    return el('tr', { 'data-transport': transport }, el('td', { text: TRANSPORT_NAMES[transport] }), cell(old, 'sessions'), cell(old, 'streams'), cell(old, 'requests'), cell(modern, 'streams'), cell(modern, 'requests'));
  });
  document.querySelector('#open-table tbody').replaceChildren(...rows);
}

function renderNchan(nchan) {
  const withoutRedis = !nchan['redis connected servers'];
  const shown = Object.entries(nchan).filter(([key]) => !(withoutRedis && /redis/.test(key)) && !/interprocess/.test(key));
  // nchan's sizes come in bytes.
  renderTable('nchan', shown.map(([key, value]) => [key, /memory/.test(key) && typeof value === 'number' ? format.bytes(value) : value]));
}

async function poll() {
  try {
    const state = await getJson('state');
    renderCards(state);
    renderRateChart(state.calls.perSecond);
    renderTools(state.calls.tools);
    renderCalls(state.calls.recent);
    renderNchan(state.nchan);
    renderOpen(state.open ?? []);
    renderTable('retained', Object.entries(state.gateway.retained ?? {}), 2);
    document.getElementById('status').textContent = `backend pid ${state.backend.pid} · updated ${format.time(state.now)}`;
  } catch (error) {
    document.getElementById('status').textContent = error instanceof NeedsToken ? error.message : `not updated: ${error.message}`;
  }
  setTimeout(poll, POLL_MS);
}

// ------------------------------------------------------------------ catalog and try-it

/** A form field for one JSON Schema property: simple types get inputs, the rest JSON text. */
function field(name, schema, required) {
  const id = `f-${Math.random().toString(36).slice(2)}`;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  let input;
  let read;
  if (Array.isArray(schema.enum)) {
    input = el('select', { id, name }, ...(required ? [] : [el('option', { value: '', text: '' })]), ...schema.enum.map((v) => el('option', { value: JSON.stringify(v), text: String(v) })));
    read = () => (input.value === '' ? undefined : JSON.parse(input.value));
  } else if (type === 'boolean') {
    input = el('input', { id, name, type: 'checkbox', checked: schema.default === true });
    read = () => input.checked;
  } else if (type === 'number' || type === 'integer') {
    input = el('input', { id, name, type: 'number', step: type === 'integer' ? '1' : 'any', min: schema.minimum, max: schema.maximum, value: schema.default, required });
    read = () => (input.value === '' ? undefined : Number(input.value));
  } else if (type === 'string') {
    input = el('input', { id, name, type: 'text', value: schema.default, required, maxlength: schema.maxLength });
    read = () => (input.value === '' && !required ? undefined : input.value);
  } else {
    input = el('textarea', { id, name, placeholder: 'JSON' });
    if (schema.default !== undefined) input.value = JSON.stringify(schema.default);
    read = () => (input.value.trim() === '' ? undefined : JSON.parse(input.value));
  }
  return { label: el('label', { for: id, text: `${name}${required ? ' *' : ''}`, title: schema.description }), input, read };
}

function tryForm(server, tool) {
  const schema = tool.inputSchema ?? {};
  const required = new Set(schema.required ?? []);
  const properties = Object.entries(schema.properties ?? {});
  const fields = properties.map(([name, prop]) => [name, field(name, prop, required.has(name))]);
  const output = el('pre', { class: 'result', hidden: true });
  const form = el('form', { class: 'try', 'data-try': `${server.name}/${tool.name}` });
  for (const [, f] of fields) form.append(f.label, f.input);
  form.append(el('button', { type: 'submit', text: 'Call' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    output.hidden = false;
    output.className = 'result';
    output.textContent = 'calling…';
    try {
      const args = {};
      for (const [name, f] of fields) {
        const value = f.read();
        if (value !== undefined) args[name] = value;
      }
      const started = performance.now();
      const result = await callTool(server.url, tool.name, args);
      output.className = result.isError ? 'result error' : 'result ok';
      output.textContent = `${result.isError ? 'error' : 'ok'} in ${(performance.now() - started).toFixed(0)} ms\n${JSON.stringify(result, null, 2)}`;
    } catch (error) {
      output.className = 'result error';
      output.textContent = String(error.message ?? error);
    }
  });
  return el('div', {}, form, output);
}

function renderServers(servers) {
  const blocks = servers.map((server) => {
    const block = el('div', { class: 'server', 'data-server': server.name }, el('h3', {}, el('code', { text: server.url })));
    const kinds = [
      ['tools', server.tools, (t) => [el('pre', { text: JSON.stringify(t.inputSchema, null, 2) }), t.outputSchema ? el('pre', { text: `output: ${JSON.stringify(t.outputSchema, null, 2)}` }) : null, tryForm(server, t)]],
      ['resources', server.resources, (r) => [el('pre', { text: JSON.stringify(r, null, 2) })]],
      ['resource templates', server.resourceTemplates, (r) => [el('pre', { text: JSON.stringify(r, null, 2) })]],
      ['prompts', server.prompts, (p) => [el('pre', { text: JSON.stringify(p.arguments ?? [], null, 2) })]],
    ];
    for (const [kind, items, body] of kinds) {
      if (items.length === 0) continue;
      block.append(el('div', { class: 'kind', text: `${kind} (${items.length})` }));
      for (const item of items) {
        block.append(
          el('details', { 'data-item': `${kind}:${item.name}` }, el('summary', {}, el('code', { text: item.name }), ' ', el('span', { class: 'muted', text: item.description ?? item.uri ?? item.uriTemplate ?? '' }), kind === 'tools' && server.toolScopes?.[item.name] ? el('span', { class: 'scopes', text: ` needs scope ${server.toolScopes[item.name].join(' ')}` }) : null), ...body(item)),
        );
      }
    }
    return block;
  });
  document.getElementById('servers').replaceChildren(...blocks);
}

/**
 * One tool call over Streamable HTTP, as any MCP client makes it: initialize, initialized,
 * tools/call, then DELETE of the session. The answer is JSON, or an SSE stream that carries it.
 */
async function callTool(url, name, args) {
  const token = document.getElementById('token').value.trim();
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  const init = await rpc(url, headers, 1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'httmcp-console', version: '1.0.0' } });
  const session = init.session;
  const sessionHeaders = { ...headers, 'mcp-protocol-version': init.message.result.protocolVersion };
  if (session) sessionHeaders['mcp-session-id'] = session;
  try {
    await fetch(url, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    const reply = await rpc(url, sessionHeaders, 2, 'tools/call', { name, arguments: args });
    if (reply.message.error) throw new Error(`JSON-RPC error ${reply.message.error.code}: ${reply.message.error.message}`);
    return reply.message.result;
  } finally {
    if (session) fetch(url, { method: 'DELETE', headers: sessionHeaders }).catch(() => undefined);
  }
}

async function rpc(url, headers, id, method, params) {
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) });
  const session = res.headers.get('mcp-session-id');
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    const message = await res.json();
    if (!res.ok && !message.error) throw new Error(`${method}: HTTP ${res.status}`);
    if (message.error && method === 'initialize') throw new Error(`${method}: ${message.error.message}`);
    return { session, message };
  }
  if (!res.ok || !type.includes('text/event-stream')) throw new Error(`${method}: HTTP ${res.status} ${await res.text()}`);
  // The stream may carry progress and logs first: read events until the one answering `id`.
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${method}: the stream ended without an answer`);
    buffer += value.replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).replace(/^ /, '')).join('\n');
      if (!data) continue;
      const message = JSON.parse(data);
      if (message.id === id && ('result' in message || 'error' in message)) {
        reader.cancel().catch(() => undefined);
        return { session, message };
      }
    }
  }
}

async function loadCatalog() {
  try {
    renderServers(await getJson('catalog'));
  } catch (error) {
    document.getElementById('servers').textContent = `could not load the servers: ${error.message}`;
    setTimeout(loadCatalog, error instanceof NeedsToken ? 1000 : 3000);
  }
}

loadCatalog();
poll();
