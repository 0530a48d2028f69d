import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Stack } from '../../src/index.js';
import { connectClient, startTestStack } from '../helpers/stack.js';

/** Debian's chromium (scripts/setup.mjs installs it for the tests). */
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`console.test.ts skipped: ${CHROMIUM} is missing (apt-get install chromium, or npm test, which installs it)`);
const describeWithChromium = haveChromium ? describe : describe.skip;

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
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
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
    // nchan's own status came through the publish listener.
    await page.locator('#nchan td', { hasText: 'nchan version' }).waitFor();
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

  test('the screenshot shows the console', async () => {
    const file = process.env.HTTMCP_CONSOLE_SCREENSHOT ?? join(profile, 'console.png');
    mkdirSync(dirname(file), { recursive: true });
    await page.locator('[data-item="tools:add"] pre.result').scrollIntoViewIfNeeded();
    await page.evaluate('window.scrollTo(0, 0)');
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
