import type { OperationSpec } from './model.js';
import { shortHash } from './schema.js';

/** What MCP clients accept as a tool name (the strictest common rule). */
export const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX = 64;

/** Where a name came from; a lower rank keeps its name when two operations want the same one. */
const RANK = { config: 0, extension: 1, operationId: 2, derived: 3 } as const;

/**
 * Tool names for operations, following these rules:
 *
 * 1. The name is `overrides[operationId]` or `overrides["GET /path"]`, else the operation's
 *    `x-mcp-name`, else its `operationId`, else derived from method and path
 *    (`GET /users/{id}/repos` → `get_users_by_id_repos`).
 * 2. It is sanitized to `^[A-Za-z0-9_-]{1,64}$`: other characters become `_`; a longer name is cut
 *    to 57 characters plus `_` and 6 hex digits of a hash of the full name.
 * 3. When several operations end up with the same name (compared case-insensitively), the one
 *    with the strongest source (config, extension, operationId, derived; then the smallest
 *    `METHOD /path`) keeps it and each other gets `_` plus 6 hex digits of a hash of its
 *    `METHOD /path`. So names do not depend on the order of the spec.
 */
export function assignToolNames(operations: readonly OperationSpec[], overrides: Record<string, string> = {}): Map<OperationSpec, string> {
  const wanted = operations.map((op) => {
    const configured = (op.operationId === undefined ? undefined : overrides[op.operationId]) ?? overrides[op.key];
    const extension = typeof op.extensions['x-mcp-name'] === 'string' ? op.extensions['x-mcp-name'] : undefined;
    const [raw, rank] =
      configured !== undefined
        ? [configured, RANK.config]
        : extension !== undefined
          ? [extension, RANK.extension]
          : op.operationId !== undefined
            ? [op.operationId, RANK.operationId]
            : [derivedName(op), RANK.derived];
    return { op, name: sanitizeToolName(raw), rank };
  });

  const groups = new Map<string, typeof wanted>();
  for (const entry of wanted) {
    const key = entry.name.toLowerCase();
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const names = new Map<OperationSpec, string>();
  const taken = new Set(wanted.map((w) => w.name.toLowerCase()));
  for (const group of groups.values()) {
    group.sort((a, b) => a.rank - b.rank || (a.op.key < b.op.key ? -1 : a.op.key > b.op.key ? 1 : 0));
    group.forEach((entry, i) => {
      if (i === 0) return void names.set(entry.op, entry.name);
      let name = withSuffix(entry.name, shortHash(entry.op.key));
      for (let n = 2; taken.has(name.toLowerCase()); n++) name = withSuffix(entry.name, shortHash(`${entry.op.key}#${n}`));
      taken.add(name.toLowerCase());
      names.set(entry.op, name);
    });
  }
  return names;
}

/** `raw` as a valid tool name (see {@link assignToolNames}, rule 2). */
export function sanitizeToolName(raw: string): string {
  let name = raw.replace(/[^A-Za-z0-9_-]+/g, '_');
  if (name !== raw) name = name.replace(/^_+|_+$/g, '');
  if (name === '') name = 'operation';
  return name.length <= MAX ? name : withSuffix(name, shortHash(raw));
}

/** `get_users_by_id_repos` for `GET /users/{id}/repos`. */
export function derivedName(op: Pick<OperationSpec, 'method' | 'path'>): string {
  const parts = op.path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => segment.replace(/\{([^{}]+)\}/g, 'by_$1'));
  return [op.method, ...parts].join('_');
}

function withSuffix(name: string, suffix: string): string {
  const room = MAX - suffix.length - 1;
  return `${name.length > room ? name.slice(0, room).replace(/[_-]+$/, '') : name}_${suffix}`;
}
