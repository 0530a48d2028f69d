import { principalFromHeaders, SessionIds } from '../../src/session/session-id.js';

const SECRET = 'a-secret-of-more-than-16-bytes';

/** Replaces the character at `index` by another base64url character. */
function flip(id: string, index: number): string {
  const c = id[index]!;
  const replacement = c === 'A' ? 'B' : 'A';
  return id.slice(0, index) + replacement + id.slice(index + 1);
}

describe('SessionIds', () => {
  const ids = new SessionIds(SECRET);

  test('a minted id verifies for the same server and principal', () => {
    const id = ids.mint('calc', 'alice');
    expect(ids.verify(id, 'calc', 'alice')).toBe(true);
  });

  test('ids are <nonce>.<mac>, 22+1+22 base64url characters, and usable as nchan channel ids', () => {
    const id = ids.mint('calc', '');
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
  });

  test('every mint is a new id', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(ids.mint('calc', 'alice'));
    expect(seen.size).toBe(200);
  });

  test('an id does not verify for another server', () => {
    const id = ids.mint('calc', 'alice');
    expect(ids.verify(id, 'notes', 'alice')).toBe(false);
  });

  test('an id does not verify for another principal, anonymous included', () => {
    const id = ids.mint('calc', 'alice');
    expect(ids.verify(id, 'calc', 'bob')).toBe(false);
    expect(ids.verify(id, 'calc', '')).toBe(false);
    const anonymous = ids.mint('calc', '');
    expect(ids.verify(anonymous, 'calc', '')).toBe(true);
    expect(ids.verify(anonymous, 'calc', 'alice')).toBe(false);
  });

  test('the fields are separated: moving characters between server and principal does not verify', () => {
    const id = ids.mint('ab', 'c');
    expect(ids.verify(id, 'ab', 'c')).toBe(true);
    expect(ids.verify(id, 'a', 'bc')).toBe(false);
    expect(ids.verify(id, 'abc', '')).toBe(false);
  });

  test('a tampered nonce is rejected', () => {
    const id = ids.mint('calc', 'alice');
    for (const index of [0, 10, 20]) {
      expect(ids.verify(flip(id, index), 'calc', 'alice')).toBe(false);
    }
  });

  test('a tampered MAC is rejected', () => {
    const id = ids.mint('calc', 'alice');
    for (const index of [23, 30, 43]) {
      expect(ids.verify(flip(id, index), 'calc', 'alice')).toBe(false);
    }
  });

  // 22 base64url characters carry 132 bits for a 128-bit MAC: only the canonical spelling may
  // verify, or one session would have 16 ids (16 nchan channels).
  test('only the exact minted spelling verifies (no non-canonical base64url in the MAC)', () => {
    const id = ids.mint('calc', 'alice');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const accepted = [...alphabet].map((c) => id.slice(0, -1) + c).filter((candidate) => ids.verify(candidate, 'calc', 'alice'));
    expect(accepted).toEqual([id]);
  });

  test('a MAC from another id does not verify with this nonce', () => {
    const a = ids.mint('calc', 'alice');
    const b = ids.mint('calc', 'alice');
    const swapped = `${a.split('.')[0]}.${b.split('.')[1]}`;
    expect(ids.verify(swapped, 'calc', 'alice')).toBe(false);
  });

  test.each([
    ['empty', ''],
    ['no dot', 'A'.repeat(45)],
    ['short nonce', `${'A'.repeat(21)}.${'A'.repeat(22)}`],
    ['long mac', `${'A'.repeat(22)}.${'A'.repeat(23)}`],
    ['illegal characters', `${'A'.repeat(21)}+.${'A'.repeat(22)}`],
    ['padding', `${'A'.repeat(20)}==.${'A'.repeat(22)}`],
    ['trailing newline', `${'A'.repeat(22)}.${'A'.repeat(22)}\n`],
    ['uuid', '123e4567-e89b-12d3-a456-426614174000'],
  ])('rejects a malformed id (%s)', (_, id) => {
    expect(ids.verify(id, 'calc', 'alice')).toBe(false);
  });

  test('a minted id plus a trailing newline is rejected', () => {
    const id = ids.mint('calc', 'alice');
    expect(ids.verify(`${id}\n`, 'calc', 'alice')).toBe(false);
    expect(ids.verify(` ${id}`, 'calc', 'alice')).toBe(false);
  });

  test('rejects secrets shorter than 16 bytes, as string or Buffer', () => {
    expect(() => new SessionIds('')).toThrow(/16 bytes/);
    expect(() => new SessionIds('x'.repeat(15))).toThrow(/16 bytes/);
    expect(() => new SessionIds(Buffer.alloc(15, 1))).toThrow(/16 bytes/);
    expect(() => new SessionIds('x'.repeat(16))).not.toThrow();
    expect(() => new SessionIds(Buffer.alloc(16, 1))).not.toThrow();
  });

  test('the secret length is counted in UTF-8 bytes', () => {
    // 8 characters, 16 bytes.
    expect(() => new SessionIds('é'.repeat(8))).not.toThrow();
  });

  test('backends sharing the secret verify each other\'s ids', () => {
    const backends = [new SessionIds(SECRET), new SessionIds(SECRET), new SessionIds(Buffer.from(SECRET, 'utf8'))];
    for (const minter of backends) {
      const id = minter.mint('calc', 'alice');
      for (const verifier of backends) {
        expect(verifier.verify(id, 'calc', 'alice')).toBe(true);
        expect(verifier.verify(id, 'calc', 'bob')).toBe(false);
      }
    }
  });

  test('a backend with another secret rejects the ids', () => {
    const other = new SessionIds(`${SECRET}-other`);
    const id = ids.mint('calc', 'alice');
    expect(other.verify(id, 'calc', 'alice')).toBe(false);
  });

  test('generateSecret gives distinct secrets long enough for the constructor', () => {
    const a = SessionIds.generateSecret();
    const b = SessionIds.generateSecret();
    expect(a).not.toBe(b);
    expect(Buffer.byteLength(a)).toBeGreaterThanOrEqual(32);
    const fromGenerated = new SessionIds(a);
    expect(fromGenerated.verify(fromGenerated.mint('s', 'p'), 's', 'p')).toBe(true);
    expect(new SessionIds(b).verify(fromGenerated.mint('s', 'p'), 's', 'p')).toBe(false);
  });
});

describe('principalFromHeaders', () => {
  test('no Authorization header is the anonymous principal', () => {
    expect(principalFromHeaders({})).toBe('');
    expect(principalFromHeaders({ authorization: undefined })).toBe('');
    expect(principalFromHeaders({ authorization: '' })).toBe('');
    expect(principalFromHeaders({ cookie: 'a=b' })).toBe('');
  });

  test('is a digest of the header, not the credential itself', () => {
    const principal = principalFromHeaders({ authorization: 'Bearer s3cret' });
    expect(principal).not.toBe('');
    expect(principal).not.toContain('s3cret');
    expect(principal).toMatch(/^[A-Za-z0-9_-]{43}$/); // sha256, base64url
  });

  test('is stable for the same header and differs between credentials', () => {
    const a = principalFromHeaders({ authorization: 'Bearer one' });
    expect(principalFromHeaders({ authorization: 'Bearer one' })).toBe(a);
    expect(principalFromHeaders({ authorization: 'Bearer two' })).not.toBe(a);
  });

  test('an array header is joined with commas', () => {
    expect(principalFromHeaders({ authorization: ['Bearer a', 'Bearer b'] })).toBe(
      principalFromHeaders({ authorization: 'Bearer a,Bearer b' }),
    );
  });

  test('binds session ids to the credential', () => {
    const ids = new SessionIds(SECRET);
    const alice = principalFromHeaders({ authorization: 'Bearer alice' });
    const id = ids.mint('calc', alice);
    expect(ids.verify(id, 'calc', principalFromHeaders({ authorization: 'Bearer alice' }))).toBe(true);
    expect(ids.verify(id, 'calc', principalFromHeaders({ authorization: 'Bearer mallory' }))).toBe(false);
    expect(ids.verify(id, 'calc', principalFromHeaders({}))).toBe(false);
  });
});
