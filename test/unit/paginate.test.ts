import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { HTTMCP } from '../../src/index.js';

async function connected(pageSize: number, count: number): Promise<Client> {
  const server = new HTTMCP({ name: 'many', version: '1', pageSize });
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(2, '0');
    server.tool(`tool_${n}`, {}, () => n);
    server.prompt(`prompt_${n}`, {}, () => n);
    server.resource(`res_${n}`, `many://res/${n}`, {}, () => n);
    server.resource(`tpl_${n}`, `many://tpl/${n}/{id}`, {}, () => n);
  }
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(clientSide);
  return client;
}

test('every list is cut into pages with opaque cursors that lead through all items once', async () => {
  const client = await connected(10, 25);
  const walk = async <T>(list: (cursor?: string) => Promise<{ nextCursor?: string } & T>, field: keyof T): Promise<{ sizes: number[]; names: string[] }> => {
    const sizes: number[] = [];
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list(cursor);
      const items = page[field] as unknown as Array<{ name: string }>;
      sizes.push(items.length);
      names.push(...items.map((item) => item.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { sizes, names };
  };
  const expected = (prefix: string) => Array.from({ length: 25 }, (_, i) => `${prefix}_${String(i).padStart(2, '0')}`);

  const tools = await walk((cursor) => client.listTools(cursor === undefined ? {} : { cursor }), 'tools');
  expect(tools).toEqual({ sizes: [10, 10, 5], names: expected('tool') });
  const prompts = await walk((cursor) => client.listPrompts(cursor === undefined ? {} : { cursor }), 'prompts');
  expect(prompts).toEqual({ sizes: [10, 10, 5], names: expected('prompt') });
  const resources = await walk((cursor) => client.listResources(cursor === undefined ? {} : { cursor }), 'resources');
  expect(resources).toEqual({ sizes: [10, 10, 5], names: expected('res') });
  const templates = await walk((cursor) => client.listResourceTemplates(cursor === undefined ? {} : { cursor }), 'resourceTemplates');
  expect(templates).toEqual({ sizes: [10, 10, 5], names: expected('tpl') });
  await client.close();
});

test('a short list is one page without nextCursor', async () => {
  const client = await connected(100, 3);
  const page = await client.listTools();
  expect(page.tools).toHaveLength(3);
  expect(page.nextCursor).toBeUndefined();
  await client.close();
});

test('an invented cursor is an InvalidParams error, not a silent first page', async () => {
  const client = await connected(10, 25);
  for (const cursor of ['nope', Buffer.from('o:-1').toString('base64url'), Buffer.from('x:5').toString('base64url')]) {
    await expect(client.listTools({ cursor })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Invalid cursor') });
  }
  await client.close();
});

test('a page size that is not a positive integer is refused', () => {
  expect(() => new HTTMCP({ name: 'x', version: '1', pageSize: 0 }).createMcpServer()).not.toThrow();
  const server = new HTTMCP({ name: 'x', version: '1', pageSize: 0 });
  const [, serverSide] = InMemoryTransport.createLinkedPair();
  return expect(server.connect(serverSide)).rejects.toThrow(/page size must be a positive integer/);
});

test('a page also stops at pageBytes of items (one item at least), and the cursors still lead through all of them', async () => {
  const server = new HTTMCP({ name: 'big', version: '1', pageSize: 100, pageBytes: 5000 });
  const sizes = [3000, 3000, 1000, 9000, 500, 500, 4000];
  sizes.forEach((size, i) => server.tool(`tool_${i}`, { description: 'x'.repeat(size) }, () => ''));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(clientSide);
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    pages.push(page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  // 3000 + 3000 > 5000; 3000 + 1000 fits; 9000 alone (over the budget, but a page holds one); 500 + 500 + 4000 > 5000.
  expect(pages).toEqual([['tool_0'], ['tool_1', 'tool_2'], ['tool_3'], ['tool_4', 'tool_5'], ['tool_6']]);
  await client.close();
});
