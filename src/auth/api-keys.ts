import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from './principal.js';

/** One configured API key: only the SHA-256 of the key is ever held. */
export interface ApiKeyEntry {
  /** Who uses the key; becomes the principal's subject. */
  subject: string;
  /** SHA-256 of the key, hex. */
  sha256: string;
  /** Scopes the key grants (default: none). */
  scopes?: string[];
}

/**
 * Parses `HTTMCP_API_KEYS`: comma-separated `subject:sha256hex` entries, each optionally followed
 * by `:scope1 scope2`. For example `ci:9f86d0...:tools.read tools.call,alice:2c26b4...`.
 */
export function parseApiKeys(text: string): ApiKeyEntry[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [subject, hash, scopes] = entry.split(':');
      if (!subject || !hash || !/^[0-9a-fA-F]{64}$/.test(hash)) {
        throw new Error('HTTMCP_API_KEYS entries are subject:sha256hex[:scopes], comma-separated (the entry that failed is not shown: it may hold a secret)');
      }
      return { subject, sha256: hash.toLowerCase(), scopes: scopes ? scopes.split(/\s+/).filter(Boolean) : [] };
    });
}

/** SHA-256 hex of a key, as `HTTMCP_API_KEYS` wants it (`printf %s KEY | sha256sum`). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Static API keys, checked by their SHA-256 in constant time against every configured hash
 * (the loop does not stop at a match, so timing does not tell which entry matched).
 */
export class ApiKeys {
  private readonly entries: Array<ApiKeyEntry & { digest: Buffer }>;

  constructor(entries: ApiKeyEntry[]) {
    this.entries = entries.map((entry) => ({ ...entry, digest: Buffer.from(entry.sha256, 'hex') }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The principal of `key`, or undefined when no entry matches. */
  verify(key: string): Principal | undefined {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let found: ApiKeyEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry;
    }
    if (!found) return undefined;
    return { issuer: 'api-key', subject: found.subject, clientId: undefined, scopes: found.scopes ?? [], expiresAt: undefined };
  }
}
