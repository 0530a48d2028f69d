import { isRecord, SpecError } from './model.js';

/**
 * Resolves local `$ref`s (`#/components/schemas/Pet`) against one document without ever
 * changing it. External references were already folded in by `load.ts` (swagger-parser's
 * `bundle`), so only local JSON pointers remain.
 */
export class RefResolver {
  private readonly cache = new Map<string, unknown>();

  constructor(readonly document: unknown) {}

  /** The canonical form of a local ref (`#/a/b`), or throws for an external one. */
  static pointerOf(ref: string): string {
    if (!ref.startsWith('#')) throw new SpecError(`external reference ${JSON.stringify(ref)} could not be resolved`);
    return ref === '#' ? '#' : ref;
  }

  /** The value a local ref points at; throws {@link SpecError} when it points nowhere. */
  get(ref: string): unknown {
    const pointer = RefResolver.pointerOf(ref);
    if (this.cache.has(pointer)) return this.cache.get(pointer);
    let node: unknown = this.document;
    for (const token of tokens(pointer)) {
      if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(token)) node = node[Number(token)];
      else if (isRecord(node) && Object.hasOwn(node, token)) node = node[token];
      else throw new SpecError(`$ref ${JSON.stringify(ref)} points to nothing`);
    }
    this.cache.set(pointer, node);
    return node;
  }

  /**
   * Follows a chain of `$ref`s of a non-schema object (parameter, response, request body, path
   * item). Sibling `summary`/`description` (OpenAPI 3.1) override the target's, without touching it.
   */
  deref<T = Record<string, unknown>>(value: unknown): T {
    let current = value;
    const seen = new Set<string>();
    let overrides: Record<string, unknown> | undefined;
    while (isRecord(current) && typeof current.$ref === 'string') {
      const ref = current.$ref;
      if (seen.has(ref)) throw new SpecError(`$ref cycle through ${JSON.stringify(ref)}`);
      seen.add(ref);
      for (const key of ['summary', 'description'] as const) {
        if (typeof current[key] === 'string' && overrides?.[key] === undefined) (overrides ??= {})[key] = current[key];
      }
      current = this.get(ref);
    }
    if (!isRecord(current)) throw new SpecError(`expected an object, found ${JSON.stringify(current)?.slice(0, 80)}`);
    return (overrides ? { ...current, ...overrides } : current) as T;
  }
}

/** The unescaped reference tokens of a JSON pointer in URI fragment form. */
export function tokens(pointer: string): string[] {
  const body = pointer.replace(/^#/, '');
  if (body === '') return [];
  if (!body.startsWith('/')) throw new SpecError(`unsupported $ref ${JSON.stringify(pointer)} (only JSON pointers are)`);
  return body
    .slice(1)
    .split('/')
    .map((token) => safeDecode(token).replace(/~1/g, '/').replace(/~0/g, '~'));
}

function safeDecode(token: string): string {
  try {
    return decodeURIComponent(token);
  } catch {
    return token;
  }
}

/**
 * Calls `visit` with every `$ref` string in `node`, depth first (iteratively: documents can be
 * deep), and stops at the first call that returns true. Returns whether one did.
 */
export function someRef(node: unknown, visit: (ref: string) => boolean): boolean {
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const current = stack.pop();
    if (Array.isArray(current)) {
      for (const item of current) if (typeof item === 'object' && item !== null) stack.push(item);
    } else if (isRecord(current)) {
      for (const [key, value] of Object.entries(current)) {
        if (key === '$ref' && typeof value === 'string') {
          if (visit(value)) return true;
        } else if (typeof value === 'object' && value !== null) {
          stack.push(value);
        }
      }
    }
  }
  return false;
}
