import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const NONCE_BYTES = 16;
const MAC_BYTES = 16;
/** `<nonce>.<mac>`, both base64url: 22 + 1 + 22 characters, also a valid nchan channel id. */
const SESSION_ID = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;

/**
 * Mints and verifies session ids.
 *
 * A session id is a random nonce plus an HMAC over (server name, nonce, principal), so an id
 * cannot be invented, cannot be moved to another server, and is only accepted from the principal
 * that opened it (for example the bearer of the same Authorization header). Nothing is stored:
 * any backend holding the same secret verifies any id, and a restarted backend still accepts
 * the sessions it minted before.
 */
export class SessionIds {
  private readonly secret: Buffer;

  /** @param secret - shared by every backend of a deployment (`HTTMCP_SESSION_SECRET`). */
  constructor(secret: string | Buffer) {
    this.secret = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (this.secret.length < 16) {
      throw new Error('HTTMCP_SESSION_SECRET must be at least 16 bytes long');
    }
  }

  /** Generates a random secret for a single backend when none is configured. */
  static generateSecret(): string {
    return randomBytes(32).toString('base64url');
  }

  /** A new session id for `server`, bound to `principal` ('' for anonymous clients). */
  mint(server: string, principal: string): string {
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    return `${nonce}.${this.mac(server, nonce, principal)}`;
  }

  /** True when `id` was minted by a holder of the secret for this server and principal. */
  verify(id: string, server: string, principal: string): boolean {
    const match = SESSION_ID.exec(id);
    if (!match) return false;
    // Compare the text, not the decoded bytes: base64url's spare bits would otherwise let 16
    // spellings (16 different nchan channels) pass for one session.
    const expected = Buffer.from(this.mac(server, match[1]!, principal), 'ascii');
    const given = Buffer.from(match[2]!, 'ascii');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(server: string, nonce: string, principal: string): string {
    return createHmac('sha256', this.secret)
      .update(server)
      .update('\0')
      .update(nonce)
      .update('\0')
      .update(principal)
      .digest()
      .subarray(0, MAC_BYTES)
      .toString('base64url');
  }
}

/**
 * The default principal: a digest of the client's Authorization header, so a leaked session id
 * is useless without the credentials of whoever opened the session.
 */
export function principalFromHeaders(headers: Record<string, string | string[] | undefined>): string {
  const auth = headers['authorization'];
  const value = Array.isArray(auth) ? auth.join(',') : auth;
  return value ? createHash('sha256').update(value).digest('base64url') : '';
}
