import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { TestAuthorizationServer } from '../helpers/oauth.js';
import { connectClient, startTestStack } from '../helpers/stack.js';

/** Debian's chromium (scripts/setup.mjs installs it for the tests). */
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`console.test.ts skipped: ${CHROMIUM} is missing (apt-get install chromium, or npm test, which installs it)`);
const describeWithChromium = haveChromium ? describe : describe.skip;

/** Debian's chromium, headless, on `profile`, with nothing of its own that reaches out to the network. */
function launchChromium(profile: string, options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ...options,
  });
}

/** GET from a chosen source address (127.0.0.2 is loopback too, but not on the console's allow-list). */
function getFrom(url: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describeWithChromium('operator console in a real browser', () => {
  let stack: Stack;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let client: Client;

  beforeAll(async () => {
    stack = await startTestStack();
    profile = mkdtempSync(join(tmpdir(), 'httmcp-chromium-'));
    browser = await launchChromium(profile, { viewport: { width: 1280, height: 900 } });
    page = await browser.newPage();
    client = await connectClient('streamable', stack.servers.demo!);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await browser?.close();
    await stack?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** The calls column of a tool's row once it shows `count`. */
  const callsOf = (tool: string) => page.locator(`#tools-table tr[data-tool="${tool}"] td.calls`);

  test('shows the servers with their tools, resources and prompts', async () => {
    await page.goto(`${stack.url}/console/`);
    for (const server of ['demo', 'notes', 'everything']) await page.locator(`[data-server="${server}"]`).waitFor();
    await page.locator('[data-server="demo"] [data-item="tools:add"]').waitFor();
    await page.locator('[data-server="demo"] [data-item="tools:divide"]').waitFor();
    expect(await page.locator('[data-server="everything"] [data-item^="resources:"]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-server="everything"] [data-item^="prompts:"]').count()).toBeGreaterThan(0);
    // The schema is shown: `add` takes numbers a and b.
    await page.locator('[data-item="tools:add"] summary').first().click();
    await expect(page.locator('[data-item="tools:add"] pre').first().textContent()).resolves.toContain('"a"');
    // nchan's own status came through the publish listener, its sizes shown in KiB.
    await page.locator('#nchan td', { hasText: 'nchan version' }).waitFor();
    const memory = page.locator('#nchan tr', { hasText: 'shared memory used' }).locator('td').nth(1);
    await expect(memory.textContent()).resolves.toMatch(/^\d+ KiB$|^\d+\.\d MiB$/);
  }, 30_000);

  test('counts calls made by an SDK client and from the try-it form, errors included', async () => {
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
    const everything = await connectClient('streamable', stack.servers.everything!);
    const failed = await everything.callTool({ name: 'test_error_handling', arguments: {} });
    expect(failed.isError).toBe(true);
    await everything.close();

    await callsOf('demo/add').filter({ hasText: /^3$/ }).waitFor();
    await page.locator('#calls-table tr[data-call="everything/test_error_handling"] td.error', { hasText: 'error' }).first().waitFor();
    await page.locator('#tools-table tr[data-tool="everything/test_error_handling"] td.errors', { hasText: '1' }).waitFor();

    // The try-it form, built from add's input schema, calls through the public /mcp/demo.
    const form = page.locator('form[data-try="demo/add"]');
    await form.locator('input[name="a"]').fill('40');
    await form.locator('input[name="b"]').fill('2');
    await form.locator('button[type="submit"]').click();
    const result = page.locator('[data-item="tools:add"] pre.result');
    await result.filter({ hasText: '42' }).waitFor();
    await expect(result.textContent()).resolves.toMatch(/^ok in/);
    await callsOf('demo/add').filter({ hasText: /^4$/ }).waitFor();
    await page.locator('#calls-table tr[data-call="demo/add"] td.ok').first().waitFor();

    // A call longer than the inline budget is answered on an SSE stream: the page reads it too.
    await page.locator('[data-item="tools:sleep"] summary').first().click();
    const sleep = page.locator('form[data-try="demo/sleep"]');
    await sleep.locator('input[name="ms"]').fill('300');
    await sleep.locator('button[type="submit"]').click();
    await page.locator('[data-item="tools:sleep"] pre.result', { hasText: 'slept 300 ms' }).waitFor();
    await page.locator('#tools-table tr[data-tool="demo/sleep"] td.calls', { hasText: /^1$/ }).waitFor();

    // A boolean, an enum or an object falls back sensibly: every tool of every server got a form.
    const tools = await page.locator('[data-item^="tools:"]').count();
    expect(await page.locator('form.try').count()).toBe(tools);
  }, 30_000);

  test('shows open sessions, streams and requests per transport and era', async () => {
    const cell = (key: string) => page.locator(`#open-table td[data-open="${key}"]`);
    const ws = await connectClient('websocket', stack.servers.demo!);
    const sse = await connectClient('sse', stack.servers.demo!);
    // A call past the inline budget: its reply comes on a request stream nchan holds.
    const slow = client.callTool({ name: 'sleep', arguments: { ms: 4000 } });
    try {
      await cell('websocket 2025 sessions').filter({ hasText: /^1$/ }).waitFor();
      await cell('websocket 2025 streams').filter({ hasText: /^1$/ }).waitFor();
      await cell('sse 2025 sessions').filter({ hasText: /^1$/ }).waitFor();
      await cell('streamable 2025 requests').filter({ hasText: /^1$/ }).waitFor();
      // The SDK client's GET stream and the slow call's request stream.
      await cell('streamable 2025 streams').filter({ hasText: /^2$/ }).waitFor();
      await expect(cell('streamable 2025 sessions').textContent()).resolves.toBe('–');
      // Nothing of the 2026-07-28 era runs here; it has no sessions.
      await expect(cell('streamable 2026-07-28 requests').textContent()).resolves.toBe('0');
      await expect(cell('streamable 2026-07-28 sessions').count()).resolves.toBe(0);
    } finally {
      await ws.close();
      await sse.close();
    }
    // nchan's unsubscribe hooks tell the backend the streams closed.
    await cell('websocket 2025 sessions').filter({ hasText: /^0$/ }).waitFor({ timeout: 15_000 });
    await cell('sse 2025 sessions').filter({ hasText: /^0$/ }).waitFor({ timeout: 15_000 });
    await slow;
    await cell('streamable 2025 requests').filter({ hasText: /^0$/ }).waitFor();
  }, 40_000);

  test('the screenshot shows the console', async () => {
    const file = process.env.HTTMCP_CONSOLE_SCREENSHOT ?? join(profile, 'console.png');
    mkdirSync(dirname(file), { recursive: true });
    await page.locator('[data-item="tools:add"] pre.result').scrollIntoViewIfNeeded();
    await page.evaluate('window.scrollTo(0, 0)');
    // What the screenshot must show, inside its 1280x900 viewport: the overview, the open
    // sessions and streams by transport and era, nchan's status and the per-tool table.
    for (const selector of ['#cards', '#open-table', '#nchan', '#rate-chart', '#tools-table tr[data-tool="demo/add"]']) {
      const box = await page.locator(selector).first().boundingBox();
      expect(box).not.toBeNull();
      expect(box!.y + box!.height).toBeLessThanOrEqual(900);
      expect(box!.width).toBeGreaterThan(0);
    }
    await expect(page.locator('#open-table th.era').allTextContents()).resolves.toEqual(['2025 (sessions)', '2026-07-28']);
    await page.screenshot({ path: file, fullPage: false });
    const png = readFileSync(file);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(statSync(file).size).toBeGreaterThan(10_000);
  }, 30_000);

  test('is refused to addresses not on its allow-list, and never shows the backend key', async () => {
    const fromLoopback = await getFrom(`${stack.url}/console/api/state`, '127.0.0.1');
    expect(fromLoopback.status).toBe(200);
    expect(fromLoopback.body).not.toContain(stack.gateway.backendKey);
    for (const path of ['/console/', '/console/console.js', '/console/api/state', '/console/api/catalog']) {
      expect((await getFrom(`${stack.url}${path}`, '127.0.0.2')).status).toBe(403);
    }
    // The rest of the edge stays open to that address: only the console is restricted.
    expect((await getFrom(`${stack.url}/healthz`, '127.0.0.2')).status).toBe(200);
  });

  test('counts an nginx worker that died and was restarted', async () => {
    const card = page.locator('[data-card="nginx worker restarts"] .value');
    await expect(card.textContent()).resolves.toBe('0');
    const children = execFileSync('pgrep', ['-P', String(stack.nginxPid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
    const worker = children.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker process'));
    expect(worker).toBeDefined();
    process.kill(worker!, 'SIGKILL');
    await page.locator('[data-card="nginx worker restarts"] .value', { hasText: /^1$/ }).waitFor({ timeout: 15_000 });
    await expect(page.locator('[data-card="nginx worker restarts"]').getAttribute('title')).resolves.toContain(`worker process ${worker} exited on signal 9`);
    // The master started another: the edge answers again.
    expect((await getFrom(`${stack.url}/healthz`, '127.0.0.1')).status).toBe(200);
  }, 30_000);
});

describeWithChromium('operator console with authentication on', () => {
  let as: TestAuthorizationServer;
  let stack: Stack;
  let base: string;
  let profile: string;
  let browser: BrowserContext;

  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    stack = await startTestStack({ port, auth: { publicUrl: base, jwt: { issuers: [as.issuer] }, consoleScope: 'ops:console' } });
    profile = mkdtempSync(join(tmpdir(), 'httmcp-chromium-'));
    browser = await launchChromium(profile);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await as?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("its data needs a token for this origin with the configured admin scope; the page itself stays address-gated", async () => {
    const get = (path: string, token?: string) => fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    // The page (no data) is served: a browser sends no token when it opens it.
    expect((await get('/console/')).status).toBe(200);
    for (const path of ['/console/api/state', '/console/api/catalog']) {
      const anonymous = await get(path);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain(`resource_metadata="${base}/.well-known/oauth-protected-resource"`);
      expect(anonymous.headers.get('www-authenticate')).toContain('scope="ops:console"');
      expect(await anonymous.text()).not.toContain('demo');
    }
    // A valid token without the scope: 403 insufficient_scope.
    const user = await as.token({ sub: 'alice', aud: base, scope: 'tools' });
    const refused = await get('/console/api/state', user);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    // The scope, but for a server rather than this origin: not a console token.
    expect((await get('/console/api/state', await as.token({ sub: 'ops', aud: `${base}/mcp/demo`, scope: 'ops:console' }))).status).toBe(401);
    // Another issuer's token with the scope: refused.
    const rogue = await TestAuthorizationServer.start();
    try {
      expect((await get('/console/api/state', await rogue.token({ sub: 'ops', aud: base, scope: 'ops:console' }))).status).toBe(401);
    } finally {
      await rogue.stop();
    }
    const admin = await as.token({ sub: 'ops', aud: base, scope: 'ops:console' });
    const state = await get('/console/api/state', admin);
    expect(state.status).toBe(200);
    const body = (await state.json()) as { auth: unknown; open: Array<{ transport: string; era: string }> };
    expect(body.auth).toEqual({ consoleScope: 'ops:console' });
    expect(body.open.map((row) => `${row.transport} ${row.era}`)).toContain('streamable 2026-07-28');
    expect((await get('/console/api/catalog', admin)).status).toBe(200);
  });

  test('in the browser: the page asks for the token, then shows the servers and the open streams', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/console/`);
      await page.locator('#admin-login').waitFor();
      await page.locator('#status', { hasText: 'ops:console' }).waitFor();
      await page.locator('#admin-token').fill(await as.token({ sub: 'ops', aud: base, scope: 'ops:console' }));
      await page.locator('[data-server="demo"] [data-item="tools:add"]').waitFor({ timeout: 15_000 });
      await page.locator('#open-table td[data-open="websocket 2025 sessions"]', { hasText: /^0$/ }).waitFor();
      await page.locator('#status', { hasText: 'backend pid' }).waitFor();
    } finally {
      await page.close();
    }
  }, 30_000);
});
