import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { OAuth2Server } from 'oauth2-mock-server';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT, type JSONWebKeySet } from 'jose';

/** Claims a test token is given on top of the issuer's own (iss, iat, nbf, exp). */
export interface TokenClaims {
  sub?: string;
  aud?: string | string[];
  scope?: string;
  client_id?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  [claim: string]: unknown;
}

/**
 * A real OAuth 2.1 authorization server on 127.0.0.1 for the tests (`oauth2-mock-server`):
 * discovery, JWKS, authorization code with PKCE, token. It gets what the MCP authorization
 * spec needs on top: dynamic client registration (RFC 7591) and access tokens whose audience
 * is the `resource` the client asked for (RFC 8707).
 */
export class TestAuthorizationServer {
  readonly server = new OAuth2Server();
  /** Clients registered through DCR. */
  readonly clients = new Map<string, Record<string, unknown>>();
  /** The subject the next authorization-code token is issued to. */
  subject = 'alice';
  /** Opaque tokens and their introspection answers (RFC 7662). */
  readonly opaque = new Map<string, Record<string, unknown>>();
  /** Introspection requests served. */
  introspections = 0;
  /** The resource server's credentials at the introspection endpoint. */
  readonly resourceServer = { clientId: 'httmcp-rs', clientSecret: 'rs-secret-4d2f' };
  /** A gateway's client for RFC 8693 token exchange at `/exchange`. */
  readonly exchangeClient = { clientId: 'httmcp-gw', clientSecret: 'gw-secret-9a1c' };
  /** Token exchanges served: the subject and the audience asked for. */
  readonly exchanges: Array<{ sub: unknown; audience: string | undefined }> = [];
  /** The scope each authorization code was granted (what the client asked for). */
  private readonly codeScopes = new Map<string, string>();

  static async start(): Promise<TestAuthorizationServer> {
    const as = new TestAuthorizationServer();
    // keys.add, not keys.generate: generate's plain-object check fails on a JWK made in another
    // realm (Jest's VM modules); add copies it first.
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    await as.server.issuer.keys.add({ ...(await exportJWK(privateKey)), alg: 'RS256', kid: randomUUID() });
    as.install();
    await as.server.start(0, '127.0.0.1');
    return as;
  }

  get issuer(): string {
    return this.server.issuer.url!;
  }

  private install(): void {
    const service = this.server.service;
    service.on('beforeWellKnownOpenIdConfiguration', (response: { body: Record<string, unknown> }) => {
      response.body.registration_endpoint = `${this.issuer}/register`;
      response.body.token_endpoint_auth_methods_supported = ['none'];
      response.body.introspection_endpoint = `${this.issuer}/opaque/introspect`;
    });
    service.addRoute('POST', '/opaque/introspect', (req, res) => {
      this.introspections++;
      const expected = `Basic ${Buffer.from(`${this.resourceServer.clientId}:${this.resourceServer.clientSecret}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        return;
      }
      const token = (req.body as Record<string, unknown> | undefined)?.token;
      const claims = typeof token === 'string' ? this.opaque.get(token) : undefined;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims ? { active: true, iss: this.issuer, ...claims } : { active: false }));
    });
    // RFC 8693 token exchange, which oauth2-mock-server's token endpoint does not know: a token
    // of this issuer (subject_token) for one with the audience asked for, acting for the client.
    service.addRoute('POST', '/exchange', async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const expected = `Basic ${Buffer.from(`${this.exchangeClient.clientId}:${this.exchangeClient.clientSecret}`).toString('base64')}`;
      const refuse = (status: number, error: string): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
      };
      if (req.headers.authorization !== expected) return refuse(401, 'invalid_client');
      if (body.grant_type !== 'urn:ietf:params:oauth:grant-type:token-exchange' || body.subject_token_type !== 'urn:ietf:params:oauth:token-type:access_token') {
        return refuse(400, 'unsupported_grant_type');
      }
      let subject: Record<string, unknown>;
      try {
        subject = (await jwtVerify(String(body.subject_token), createLocalJWKSet({ keys: this.server.issuer.keys.toJSON() } as unknown as JSONWebKeySet), { issuer: this.issuer })).payload;
      } catch {
        return refuse(400, 'invalid_grant');
      }
      const audience = typeof body.audience === 'string' ? body.audience : undefined;
      this.exchanges.push({ sub: subject.sub, audience });
      const token = await this.token({ sub: subject.sub as string, aud: audience, act: { sub: this.exchangeClient.clientId }, scope: typeof body.scope === 'string' ? body.scope : 'api' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 300 }),
      );
    });
    service.addRoute('POST', '/register', (req, res) => {
      const metadata = (req.body ?? {}) as Record<string, unknown>;
      const client = { ...metadata, client_id: randomUUID(), client_id_issued_at: Math.floor(Date.now() / 1000), token_endpoint_auth_method: 'none' };
      this.clients.set(client.client_id, client);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(client));
    });
    service.on('beforeAuthorizeRedirect', (redirect: { url: URL }, req: { url?: string }) => {
      const scope = new URL(req.url ?? '/', this.issuer).searchParams.get('scope');
      const code = redirect.url.searchParams.get('code');
      if (code && scope) this.codeScopes.set(code, scope);
    });
    service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }, req: { body?: Record<string, unknown> }) => {
      const body = req.body ?? {};
      if (typeof body.code === 'string' && this.codeScopes.has(body.code)) token.payload.scope = this.codeScopes.get(body.code);
      if (typeof body.resource === 'string') token.payload.aud = body.resource;
      if (typeof body.client_id === 'string') token.payload.client_id = body.client_id;
      if (body.grant_type === 'authorization_code' || body.grant_type === 'refresh_token') token.payload.sub = this.subject;
    });
  }

  /** A token signed with the issuer's real key. */
  async token(claims: TokenClaims): Promise<string> {
    const { expiresIn = 300, ...rest } = claims;
    return this.server.issuer.buildToken({
      expiresIn,
      scopesOrTransform: (_header, payload) => {
        Object.assign(payload, rest);
        if (expiresIn < 0) {
          payload.iat = payload.exp - 600;
          payload.nbf = payload.iat;
        }
      },
    });
  }

  /** An opaque (non-JWT) token that the introspection endpoint knows with these claims. */
  opaqueToken(claims: TokenClaims): string {
    const { expiresIn = 300, ...rest } = claims;
    const token = randomUUID().replace(/-/g, '');
    this.opaque.set(token, { ...rest, exp: Math.floor(Date.now() / 1000) + expiresIn });
    return token;
  }

  /** A token with the right claims, signed by a key the issuer never published. */
  async forgedToken(claims: TokenClaims): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    const kid = (this.server.issuer.keys.toJSON()[0] as { kid: string }).kid;
    const { expiresIn = 300, ...rest } = claims;
    return new SignJWT(rest)
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(this.issuer)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
      .sign(privateKey);
  }

  /** An unsigned token (`alg: none`). */
  unsignedToken(claims: TokenClaims): string {
    const { expiresIn = 300, ...rest } = claims;
    return new UnsecuredJWT(rest).setIssuer(this.issuer).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn).encode();
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}

/**
 * The SDK client's OAuth provider for a test "user agent": it keeps everything in memory, and
 * when the SDK sends the user to the authorization endpoint it follows that redirect itself and
 * keeps the code the authorization server gives back, as a browser would deliver it.
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private stored: OAuthTokens | undefined;
  private verifier = '';
  /** The authorization code the last redirect brought back. */
  code: string | undefined;
  /** Every authorization URL the SDK opened (its `resource` and `scope` are checked). */
  readonly authorizationUrls: URL[] = [];

  readonly redirectUrl = 'http://127.0.0.1:1/callback';
  readonly clientMetadata: OAuthClientMetadata = {
    client_name: 'httmcp test client',
    redirect_uris: ['http://127.0.0.1:1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.stored;
  }
  saveTokens(tokens: OAuthTokens): void {
    // Without a refresh token the SDK asks the user again (step-up) instead of refreshing.
    this.stored = this.keepRefreshToken ? tokens : { ...tokens, refresh_token: undefined };
  }

  /** @param keepRefreshToken - false: forget refresh tokens, as a client that never gets any. */
  constructor(private readonly keepRefreshToken = true) {}
  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrls.push(url);
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    this.code = location ? (new URL(location).searchParams.get('code') ?? undefined) : undefined;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

/**
 * A minimal authorization server whose discovery and JWKS endpoints can be made to stop
 * answering (`hang = true`): requests are accepted and then held open, never answered, as a
 * stuck or overloaded issuer does. Keys can be rotated, so a token signed with the new key
 * makes a verifier fetch the JWKS again.
 */
export class HangingIssuer {
  /** When true, every request is held open without an answer. */
  hang = false;
  /** Requests held open right now (the verifier is waiting on them). */
  readonly held = new Set<import('node:http').ServerResponse>();
  /** JWKS requests received. */
  jwksFetches = 0;
  private readonly keys: Array<{ kid: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']; publicJwk: Record<string, unknown> }> = [];
  private readonly server = createHttpServer((req, res) => this.serve(req.url ?? '/', res));

  static async start(): Promise<HangingIssuer> {
    const issuer = new HangingIssuer();
    await issuer.rotate();
    await new Promise<void>((resolve) => issuer.server.listen(0, '127.0.0.1', resolve));
    return issuer;
  }

  get url(): string {
    const address = this.server.address() as import('node:net').AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Adds a new signing key (published next to the old ones); later tokens are signed with it. */
  async rotate(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    this.keys.push({ kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } });
  }

  /** A token signed with the newest key. */
  async token(claims: TokenClaims): Promise<string> {
    const { expiresIn = 300, ...rest } = claims;
    const key = this.keys.at(-1)!;
    return new SignJWT(rest)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(this.url)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
      .sign(key.privateKey);
  }

  private serve(path: string, res: import('node:http').ServerResponse): void {
    if (path === '/jwks') this.jwksFetches++;
    if (this.hang) {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    }
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/.well-known/oauth-authorization-server') json({ issuer: this.url, jwks_uri: `${this.url}/jwks` });
    else if (path === '/jwks') json({ keys: this.keys.map((k) => k.publicJwk) });
    else res.writeHead(404).end();
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
