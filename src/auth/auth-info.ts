import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Principal } from './principal.js';

/**
 * The principal in the SDK's own `AuthInfo` shape (handlers written for the SDK read
 * `extra.authInfo`). `token` is empty on purpose: the client's token stays at the edge.
 */
export function authInfoOf(principal: Principal): AuthInfo {
  return {
    token: '',
    clientId: principal.clientId ?? principal.subject,
    scopes: [...principal.scopes],
    ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
    extra: { principal },
  };
}

/** The principal that {@link authInfoOf} put in an `AuthInfo`. */
export function principalOfAuthInfo(info: AuthInfo | undefined): Principal | undefined {
  return info?.extra?.principal as Principal | undefined;
}
