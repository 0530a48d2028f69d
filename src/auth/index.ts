export { Authenticator, type AuthOptions, type Verdict } from './authenticator.js';
export { ApiKeys, hashApiKey, parseApiKeys, type ApiKeyEntry } from './api-keys.js';
export { JwtVerifier, TokenRejected, DEFAULT_ALGORITHMS, discoverAuthorizationServer, type JwtVerifierOptions } from './jwt-verifier.js';
export { decodePrincipal, encodePrincipal, principalKey, PRINCIPAL_HEADER, type Principal } from './principal.js';
export { authFromEnv } from './config.js';
export { Introspector, type IntrospectionOptions } from './introspection.js';
