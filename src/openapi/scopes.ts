import type { OperationSpec, SecuritySchemeSpec } from './model.js';

/** The scopes an operation's security asks of its caller (see {@link operationScopes}). */
export interface OperationScopes {
  /** Every OAuth scope the operation's requirement names (empty: the tool needs none). */
  scopes: string[];
  /** The requirement has alternatives that name different scopes: all of them are required. */
  merged: boolean;
}

/**
 * The OAuth scopes an operation's `security` requirement names, as the scopes its tool needs
 * from the MCP client's principal (`securityScopes`). Only `oauth2` and `openIdConnect` schemes
 * count: other schemes' lists are roles, not scopes. Alternatives (`security: [A, B]`: either
 * will do) that name different scopes are merged, so the tool needs all of them: stricter than
 * the API, never looser (the gateway calls the API with its own credentials, so this check is
 * the only one the principal meets).
 */
export function operationScopes(operation: OperationSpec, schemes: ReadonlyMap<string, SecuritySchemeSpec>): OperationScopes {
  const sets = operation.security.map((requirement) => {
    const scopes = new Set<string>();
    for (const [name, names] of Object.entries(requirement)) {
      const type = schemes.get(name)?.type;
      if (type === 'oauth2' || type === 'openIdConnect') for (const scope of names) scopes.add(scope);
    }
    return scopes;
  });
  const all = [...new Set(sets.flatMap((set) => [...set]))].sort();
  const merged = sets.some((set) => set.size !== all.length);
  return { scopes: all, merged: merged && all.length > 0 };
}
