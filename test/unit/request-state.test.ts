import { createHmac } from 'node:crypto';
import type { ServerContext } from '@modelcontextprotocol/server';
import { jest } from '@jest/globals';
import { deriveRequestStateKey, paramsDigest, RequestStates, type RequestBinding } from '../../src/mrtr/request-state.js';

const SECRET = 'a-session-secret-of-32-bytes-or-more!';

/** The SDK context of a handler serving the request `id`: all the binding reads is the id. */
const ctxOf = (id: number) => ({ mcpReq: { id, method: 'tools/call' } }) as unknown as ServerContext;

/** A codec whose binding for request id N is `requests[N]`. */
function codec(requests: Record<number, RequestBinding>, options: { server?: string; secret?: string; ttlSeconds?: number } = {}) {
  return new RequestStates<{ step: number }>({
    sessionSecret: options.secret ?? SECRET,
    server: options.server ?? 'calc',
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
    binding: (ctx) => requests[ctx.mcpReq.id as number],
  });
}

const call = (args: Record<string, unknown>, extra: Record<string, unknown> = {}): RequestBinding => ({
  principal: 'alice',
  method: 'tools/call',
  params: { name: 'deploy', arguments: args, ...extra },
});

/** Replaces one character of the body (between "v1." and the last ".") by another base64url one. */
function tamper(state: string, at: number): string {
  const c = state[at]!;
  return state.slice(0, at) + (c === 'A' ? 'B' : 'A') + state.slice(at + 1);
}

describe('RequestStates (signed requestState)', () => {
  test('a state minted for a request verifies on its retry and gives back the payload', async () => {
    const states = codec({ 1: call({ env: 'prod' }), 2: call({ env: 'prod' }) });
    const state = await states.mint({ step: 2 }, ctxOf(1));
    expect(typeof state).toBe('string');
    await expect(states.verify(state, ctxOf(2))).resolves.toEqual({ step: 2 });
  });

  test('the retry may add inputResponses, requestState and other _meta: they are not bound', async () => {
    const states = codec({
      1: call({ env: 'prod' }, { _meta: { progressToken: 1 } }),
      2: call({ env: 'prod' }, { _meta: { progressToken: 7, 'io.modelcontextprotocol/protocolVersion': '2026-07-28' }, inputResponses: { a: { action: 'accept' } }, requestState: 'x' }),
    });
    await expect(states.verify(await states.mint({ step: 1 }, ctxOf(1)), ctxOf(2))).resolves.toEqual({ step: 1 });
  });

  test('the same params in another key order still verify (canonical digest)', async () => {
    const states = codec({
      1: { principal: 'alice', method: 'tools/call', params: { name: 'deploy', arguments: { env: 'prod', region: 'eu' } } },
      2: { principal: 'alice', method: 'tools/call', params: { arguments: { region: 'eu', env: 'prod' }, name: 'deploy' } },
    });
    await expect(states.verify(await states.mint({ step: 1 }, ctxOf(1)), ctxOf(2))).resolves.toEqual({ step: 1 });
  });

  test('any changed byte is refused (tampered)', async () => {
    const states = codec({ 1: call({}), 2: call({}) });
    const state = await states.mint({ step: 1 }, ctxOf(1));
    for (const at of [3, 10, Math.floor(state.length / 2), state.length - 2]) {
      await expect(states.verify(tamper(state, at), ctxOf(2))).rejects.toThrow(/mac|malformed/);
    }
    await expect(states.verify(`${state}-TAMPERED`, ctxOf(2))).rejects.toThrow();
    await expect(states.verify('not a state', ctxOf(2))).rejects.toThrow('malformed');
  });

  test('a payload re-signed without the key is refused (the MAC is keyed)', async () => {
    const states = codec({ 1: call({}), 2: call({}) });
    const state = await states.mint({ step: 1 }, ctxOf(1));
    const [prefix, body] = state.split('.');
    const forged = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as { p: { step: number } };
    forged.p.step = 99;
    const forgedBody = Buffer.from(JSON.stringify(forged)).toString('base64url');
    const guessedMac = createHmac('sha256', SECRET).update(`${prefix}.${forgedBody}`).digest('base64url');
    await expect(states.verify(`${prefix}.${forgedBody}.${guessedMac}`, ctxOf(2))).rejects.toThrow('mac');
  });

  test('another principal is refused, anonymous included', async () => {
    const states = codec({ 1: call({}), 2: { ...call({}), principal: 'bob' }, 3: { ...call({}), principal: '' } });
    const state = await states.mint({ step: 1 }, ctxOf(1));
    await expect(states.verify(state, ctxOf(2))).rejects.toThrow('bind');
    await expect(states.verify(state, ctxOf(3))).rejects.toThrow('bind');
  });

  test('other params are refused: other arguments, another tool', async () => {
    const states = codec({ 1: call({ env: 'staging' }), 2: call({ env: 'prod' }), 3: { ...call({ env: 'staging' }), params: { name: 'destroy', arguments: { env: 'staging' } } } });
    const state = await states.mint({ step: 1 }, ctxOf(1));
    await expect(states.verify(state, ctxOf(2))).rejects.toThrow('bind');
    await expect(states.verify(state, ctxOf(3))).rejects.toThrow('bind');
  });

  test('another method is refused (a tools/call state on prompts/get with the same params)', async () => {
    const states = codec({ 1: call({}), 2: { ...call({}), method: 'prompts/get' } });
    await expect(states.verify(await states.mint({ step: 1 }, ctxOf(1)), ctxOf(2))).rejects.toThrow('bind');
  });

  test('another server, or another session secret, refuses the state', async () => {
    const requests = { 1: call({}), 2: call({}) };
    const state = await codec(requests).mint({ step: 1 }, ctxOf(1));
    await expect(codec(requests, { server: 'notes' }).verify(state, ctxOf(2))).rejects.toThrow('bind');
    await expect(codec(requests, { secret: 'another-session-secret-of-32-bytes!!' }).verify(state, ctxOf(2))).rejects.toThrow('mac');
    // Another backend with the same secret verifies it: nothing is stored.
    await expect(codec(requests).verify(state, ctxOf(2))).resolves.toEqual({ step: 1 });
  });

  test('an expired state is refused', async () => {
    const states = codec({ 1: call({}), 2: call({}) }, { ttlSeconds: 60 });
    const state = await states.mint({ step: 1 }, ctxOf(1));
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(now + 59_000);
      await expect(states.verify(state, ctxOf(2))).resolves.toEqual({ step: 1 });
      clock.mockReturnValue(now + 62_000);
      await expect(states.verify(state, ctxOf(2))).rejects.toThrow('expired');
    } finally {
      clock.mockRestore();
    }
  });

  test('a request whose binding is not known can neither mint nor verify (fail closed)', async () => {
    const states = codec({ 1: call({}) });
    const state = await states.mint({ step: 1 }, ctxOf(1));
    await expect(states.mint({ step: 1 }, ctxOf(5))).rejects.toThrow('unbound');
    await expect(states.verify(state, ctxOf(5))).rejects.toThrow('unbound');
  });

  test('the key is HKDF of the secret with its own label: not the secret, 32 bytes, stable', () => {
    const key = deriveRequestStateKey(SECRET);
    expect(key).toHaveLength(32);
    expect(Buffer.from(key).equals(Buffer.from(deriveRequestStateKey(SECRET)))).toBe(true);
    expect(Buffer.from(key).equals(Buffer.from(deriveRequestStateKey(`${SECRET}x`)))).toBe(false);
    expect(Buffer.from(key).includes(Buffer.from(SECRET.slice(0, 8)))).toBe(false);
  });

  test('paramsDigest ignores _meta, inputResponses and requestState only', () => {
    const base = { name: 't', arguments: { a: 1 } };
    expect(paramsDigest({ ...base, _meta: { x: 1 }, inputResponses: {}, requestState: 's' })).toBe(paramsDigest(base));
    expect(paramsDigest({ ...base, arguments: { a: 2 } })).not.toBe(paramsDigest(base));
    expect(paramsDigest({ ...base, task: { ttl: 1 } })).not.toBe(paramsDigest(base));
  });

  test('a TTL that is not a positive number is refused at construction', () => {
    expect(() => codec({}, { ttlSeconds: 0 })).toThrow(RangeError);
    expect(() => codec({}, { ttlSeconds: Number.NaN })).toThrow(RangeError);
  });
});
