import { isRecord, SpecError, type JsonSchema, type JsonSchemaObject, type RawSchema, type SpecVersion } from './model.js';
import { RefResolver, someRef } from './refs.js';

/**
 * `input`: a schema for arguments (readOnly properties are left out).
 * `output`: a schema for replies (writeOnly properties are left out, and `format`/`pattern` are
 * dropped: real APIs often break them, and MCP clients reject replies that miss their schema).
 */
export type Direction = 'input' | 'output';

/** A converted schema and the `$ref` targets (JSON pointers) it needs under `$defs`. */
export interface ConvertedSchema {
  schema: JsonSchema;
  defs: ReadonlySet<string>;
}

/** How {@link SchemaConverter} shapes its results. */
export interface ConverterOptions {
  /**
   * Largest referenced schema, in characters of JSON once converted, that is inlined where it is
   * used (default {@link DEFAULT_INLINE_LIMIT}). A larger one becomes `{"$ref": "#/$defs/Name"}`,
   * written once per tool however often it is used: this is what keeps a spec whose schemas share
   * subschemas (a DAG) from growing exponentially when inlined.
   */
  inlineLimit?: number;
}

/** Referenced schemas up to this many characters of JSON are inlined (see {@link ConverterOptions.inlineLimit}). */
export const DEFAULT_INLINE_LIMIT = 2048;

/** Keywords that only annotate: merged next to a `$ref` without changing what validates. */
const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', 'example', 'deprecated', 'readOnly', 'writeOnly', 'nullable', 'x-nullable']);
/** Keywords copied as they are (after the version-specific ones are translated). */
const COPIED = new Set([
  'title', 'description', 'default', 'enum', 'const', 'multipleOf', 'maximum', 'minimum', 'maxLength', 'minLength',
  'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'maxContains', 'minContains',
  'dependentRequired', 'deprecated', 'readOnly', 'writeOnly', 'contentMediaType', 'contentEncoding', 'format', 'pattern',
]);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'dependentSchemas']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_ONE = new Set(['not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems', 'additionalProperties']);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);
const MAX_DEPTH = 256;
/** A schema of the components (3.x) or definitions (2.0) section. */
const NAMED = /^#\/(?:components\/schemas|definitions)\/[^/]+$/;

/**
 * Turns OpenAPI schemas (2.0, 3.0 or 3.1, with `$ref`s) into plain JSON Schema for MCP clients.
 *
 * Nothing of the spec is ever changed: every result is a new object. Small non-recursive `$ref`s
 * are inlined (clients handle those best). Three kinds become `{"$ref": "#/$defs/Name"}`, and the
 * caller adds `$defs` (JSON Schema 2020-12, the MCP default dialect; see
 * {@link SchemaConverter.rootSchema}): schemas on a `$ref` cycle (so no result is ever a cyclic
 * object), schemas larger than `inlineLimit` once converted (so shared subschemas are written
 * once per tool, not at every use: inlining a DAG of schemas grows exponentially), and, in
 * replies, every named schema. Conversions of referenced schemas are memoized, so results share
 * subtrees: treat them as read-only.
 */
export class SchemaConverter {
  private readonly memo = new Map<string, ConvertedSchema>();
  /** Per direction and pointer: whether the converted schema is too large to inline. */
  private readonly large = new Map<string, boolean>();
  private readonly graph: RefGraph;
  private readonly defNames = new Map<string, string>();
  private readonly defOwners = new Map<string, string>();
  private readonly badPatterns = new Set<string>();
  private readonly inlineLimit: number;

  constructor(
    private readonly resolver: RefResolver,
    private readonly version: SpecVersion,
    private readonly warn: (message: string) => void = () => {},
    options: ConverterOptions = {},
  ) {
    this.graph = new RefGraph(resolver);
    this.inlineLimit = options.inlineLimit ?? DEFAULT_INLINE_LIMIT;
    if (!Number.isInteger(this.inlineLimit) || this.inlineLimit < 0) throw new RangeError(`inlineLimit must be a whole number, got ${this.inlineLimit}`);
  }

  /** Converts one schema; `undefined` (no schema) is the empty schema. */
  convert(schema: RawSchema | undefined, direction: Direction): ConvertedSchema {
    const defs = new Set<string>();
    const result = schema === undefined ? {} : this.walk(schema, direction, defs, 0);
    return { schema: result, defs };
  }

  /**
   * Finishes a root schema (a tool's input or output schema): when it is itself only a `$ref` to
   * a cyclic schema, that schema's body is inlined at the root; the `$defs` it needs are added.
   */
  rootSchema(converted: ConvertedSchema, direction: Direction): JsonSchemaObject {
    let { schema } = converted;
    const defs = new Set(converted.defs);
    const pointer = this.defPointer(schema);
    if (pointer !== undefined) {
      const body = this.convertPointer(pointer, direction);
      schema = body.schema;
      defs.delete(pointer); // back in below when the body refers to itself
      for (const d of body.defs) defs.add(d);
    }
    const root: JsonSchemaObject = typeof schema === 'boolean' ? (schema ? {} : { not: {} }) : { ...schema };
    const $defs = this.defsFor(defs, direction);
    if ($defs) root.$defs = $defs;
    return root;
  }

  /** The `$defs` object for `pointers` and everything they need in turn (sorted, deterministic). */
  defsFor(pointers: Iterable<string>, direction: Direction): Record<string, JsonSchema> | undefined {
    const queue = [...pointers];
    if (queue.length === 0) return undefined;
    const seen = new Set(queue);
    const found = new Map<string, JsonSchema>();
    while (queue.length > 0) {
      const pointer = queue.shift()!;
      const converted = this.convertPointer(pointer, direction);
      found.set(this.defName(pointer), converted.schema);
      for (const next of converted.defs) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return Object.fromEntries([...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Follows non-cyclic `$ref`s of a raw schema to what they name (for looking at, never for output). */
  resolveRaw(schema: RawSchema | undefined): RawSchema | undefined {
    let current = schema;
    for (let hops = 0; isRecord(current) && typeof current.$ref === 'string' && hops < 32; hops++) {
      current = this.resolver.get(current.$ref) as RawSchema;
    }
    return current;
  }

  /** The `$defs` key of a JSON pointer: the schema's own name where it has one, deterministic. */
  defName(pointer: string): string {
    const known = this.defNames.get(pointer);
    if (known !== undefined) return known;
    const standard = /^#\/(?:components\/schemas|definitions)\/([^/]+)$/.exec(pointer);
    const raw = standard ? decodeToken(standard[1]!) : pointer.replace(/^#\//, '');
    let name = raw.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'schema';
    const owner = this.defOwners.get(name);
    if (owner !== undefined && owner !== pointer) name = `${name}_${shortHash(pointer)}`;
    this.defOwners.set(name, pointer);
    this.defNames.set(pointer, name);
    return name;
  }

  private defPointer(schema: JsonSchema): string | undefined {
    if (!isRecord(schema) || Object.keys(schema).length !== 1 || typeof schema.$ref !== 'string') return undefined;
    const name = schema.$ref.replace(/^#\/\$defs\//, '');
    return this.defOwners.get(name);
  }

  private convertPointer(pointer: string, direction: Direction): ConvertedSchema {
    const key = `${direction}\u0000${pointer}`;
    const cached = this.memo.get(key);
    if (cached) return cached;
    const defs = new Set<string>();
    const target = this.resolver.get(pointer);
    if (!isRecord(target) && typeof target !== 'boolean') throw new SpecError(`$ref ${pointer} does not name a schema`);
    const converted = { schema: this.walk(target, direction, defs, 0), defs };
    this.memo.set(key, converted);
    return converted;
  }

  private walk(node: RawSchema, direction: Direction, defs: Set<string>, depth: number): JsonSchema {
    if (typeof node === 'boolean') return node;
    if (!isRecord(node)) return {};
    if (depth > MAX_DEPTH) throw new SpecError(`schema nested deeper than ${MAX_DEPTH} levels`);
    const own = this.keywords(node, direction, defs, depth);
    let out: JsonSchemaObject = own;
    if (typeof node.$ref === 'string') {
      const target = this.ref(node.$ref, direction, defs);
      const siblings = Object.keys(own);
      if (siblings.length === 0) out = typeof target === 'boolean' ? (target ? {} : { not: {} }) : target;
      else if (siblings.every((key) => ANNOTATIONS.has(key))) out = typeof target === 'boolean' ? own : { ...target, ...own };
      else out = { allOf: [target, own] };
    }
    if (node.nullable === true || node['x-nullable'] === true) out = withNull(out);
    return out;
  }

  private ref(ref: string, direction: Direction, defs: Set<string>): JsonSchema {
    const pointer = RefResolver.pointerOf(ref);
    // Recursive schemas must be $defs. In replies, named schemas are too: replies repeat the same
    // objects (users, repositories...) all over, and validators compile each $def once.
    if (this.graph.isCyclic(pointer) || (direction === 'output' && NAMED.test(pointer))) {
      this.resolver.get(pointer); // fails early, with the ref in the message, when it points nowhere
      defs.add(pointer);
      return { $ref: `#/$defs/${this.defName(pointer)}` };
    }
    const converted = this.convertPointer(pointer, direction);
    if (this.tooLargeToInline(pointer, direction, converted)) {
      defs.add(pointer);
      return { $ref: `#/$defs/${this.defName(pointer)}` };
    }
    for (const d of converted.defs) defs.add(d);
    return converted.schema;
  }

  /**
   * Whether a converted schema is larger than `inlineLimit`. Measuring is cheap and never
   * explodes: what a converted schema inlines is itself at most `inlineLimit` long, so its JSON
   * is bounded by its own keywords plus that per reference.
   */
  private tooLargeToInline(pointer: string, direction: Direction, converted: ConvertedSchema): boolean {
    const key = `${direction}\u0000${pointer}`;
    let large = this.large.get(key);
    if (large === undefined) {
      large = JSON.stringify(converted.schema).length > this.inlineLimit;
      this.large.set(key, large);
    }
    return large;
  }

  /** Every keyword of `node` except `$ref`, translated to JSON Schema. */
  private keywords(node: Record<string, unknown>, direction: Direction, defs: Set<string>, depth: number): JsonSchemaObject {
    const out: JsonSchemaObject = {};
    const sub = (value: unknown): JsonSchema => this.walk(value as RawSchema, direction, defs, depth + 1);
    let hidden: Set<string> | undefined;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'type') {
        const type = translateType(value);
        if (type !== undefined) out.type = type;
        if (value === 'file') out.format = 'binary';
      } else if (SCHEMA_MAPS.has(key)) {
        if (!isRecord(value)) continue;
        const map: Record<string, JsonSchema> = {};
        for (const [name, schema] of Object.entries(value)) {
          if (key === 'properties' && this.hiddenIn(schema as RawSchema, direction)) {
            (hidden ??= new Set()).add(name);
            continue;
          }
          if (key === 'patternProperties' && !this.validPattern(name)) continue;
          map[name] = sub(schema);
        }
        out[key] = map;
      } else if (SCHEMA_LISTS.has(key)) {
        if (Array.isArray(value)) out[key] = value.map(sub);
      } else if (key === 'items') {
        if (Array.isArray(value)) out.items = value.map(sub);
        else if (isRecord(value) || typeof value === 'boolean') out.items = sub(value);
      } else if (SCHEMA_ONE.has(key)) {
        if (isRecord(value) || typeof value === 'boolean') out[key] = sub(value);
      } else if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
        if (typeof value === 'number') out[key] = value;
        else if (value === true) {
          const bound = node[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'];
          if (typeof bound === 'number') out[key] = bound;
        }
      } else if (key === 'example') {
        if (!Array.isArray(node.examples) && value !== undefined) out.examples = [value];
      } else if (key === 'examples') {
        if (Array.isArray(value)) out.examples = value;
      } else if (key === 'required') {
        if (Array.isArray(value)) out.required = [...new Set(value.filter((v): v is string => typeof v === 'string'))];
      } else if (key === 'pattern') {
        if (direction === 'input' && typeof value === 'string' && this.validPattern(value)) out.pattern = value;
      } else if (key === 'format') {
        if (direction === 'input' && typeof value === 'string') out.format = value;
      } else if (key === 'enum') {
        if (Array.isArray(value) && value.length > 0) out.enum = unique(value);
      } else if (COPIED.has(key)) {
        out[key] = value;
      }
    }
    // 2.0/3.0 `exclusiveMinimum: true` turned `minimum` into an exclusive bound.
    if (out.exclusiveMinimum !== undefined && node.exclusiveMinimum === true) delete out.minimum;
    if (out.exclusiveMaximum !== undefined && node.exclusiveMaximum === true) delete out.maximum;
    if (Array.isArray(out.required)) {
      const required = (out.required as string[]).filter((name) => !hidden?.has(name));
      if (required.length > 0) out.required = required;
      else delete out.required;
    }
    return out;
  }

  /** A readOnly property is no argument; a writeOnly property is never in a reply. */
  private hiddenIn(schema: RawSchema, direction: Direction): boolean {
    let resolved: RawSchema | undefined;
    try {
      resolved = this.resolveRaw(schema);
    } catch {
      return false;
    }
    if (!isRecord(resolved)) return false;
    return direction === 'input' ? resolved.readOnly === true : resolved.writeOnly === true;
  }

  private validPattern(pattern: string): boolean {
    try {
      new RegExp(pattern, 'u');
      return true;
    } catch {
      if (!this.badPatterns.has(pattern)) {
        this.badPatterns.add(pattern);
        this.warn(`pattern ${JSON.stringify(pattern)} is not a valid ECMAScript regular expression; it is left out`);
      }
      return false;
    }
  }
}

/** The values without repeats (JSON Schema wants unique `enum` items; specs sometimes repeat them). */
function unique(values: unknown[]): unknown[] {
  const seen = new Set<string>();
  const out = values.filter((v) => {
    const key = JSON.stringify(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return out.length === values.length ? values : out;
}

/** `type` as JSON Schema knows it (`file` of Swagger 2.0 becomes a binary string). */
function translateType(value: unknown): unknown {
  if (value === 'file') return 'string';
  if (typeof value === 'string') return TYPES.has(value) ? value : undefined;
  if (Array.isArray(value)) {
    const types = [...new Set(value.map((t) => (t === 'file' ? 'string' : t)).filter((t) => typeof t === 'string' && TYPES.has(t)))];
    return types.length === 0 ? undefined : types.length === 1 ? types[0] : types;
  }
  return undefined;
}

/** The schema plus `null` (OpenAPI 3.0 `nullable`, Swagger's `x-nullable`), as a new object. */
export function withNull(schema: JsonSchemaObject): JsonSchemaObject {
  const { type } = schema;
  if (typeof type === 'string' || Array.isArray(type)) {
    const types = Array.isArray(type) ? type : [type];
    const out: JsonSchemaObject = { ...schema, type: types.includes('null') ? types : [...types, 'null'] };
    if (Array.isArray(schema.enum) && !schema.enum.includes(null)) out.enum = [...schema.enum, null];
    return out;
  }
  if (Object.keys(schema).length === 0) return schema;
  return { anyOf: [schema, { type: 'null' }] };
}

/** Whether `schema` only ever accepts JSON objects (what MCP needs of an `outputSchema`). */
export function isObjectSchema(schema: JsonSchema, defs?: Record<string, JsonSchema>, depth = 0): boolean {
  if (!isRecord(schema) || depth > 32) return false;
  if (schema.type === 'object') return true;
  if (schema.type !== undefined) return false;
  if (typeof schema.$ref === 'string' && defs) {
    const target = defs[schema.$ref.replace(/^#\/\$defs\//, '')];
    return target !== undefined && isObjectSchema(target, defs, depth + 1);
  }
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    const list = schema[key];
    if (Array.isArray(list) && list.length > 0) {
      const isObject = (s: unknown) => isObjectSchema(s as JsonSchema, defs, depth + 1);
      if (key === 'allOf' ? list.some(isObject) : list.every(isObject)) {
        return true;
      }
    }
  }
  return isRecord(schema.properties) && schema.enum === undefined && schema.const === undefined;
}

function decodeToken(token: string): string {
  let decoded = token;
  try {
    decoded = decodeURIComponent(token);
  } catch {
    // keep it as written
  }
  return decoded.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** A short deterministic hash (FNV-1a, 32 bits) in hex, for suffixes. */
export function shortHash(text: string, length = 6): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0').slice(0, length);
}

/**
 * The graph of `$ref`s between schemas, to tell which ones sit on a cycle (Tarjan's strongly
 * connected components, computed lazily from the refs actually used).
 */
class RefGraph {
  private readonly edges = new Map<string, string[]>();
  private readonly cyclic = new Map<string, boolean>();
  private readonly index = new Map<string, number>();
  private readonly low = new Map<string, number>();
  private readonly stack: string[] = [];
  private readonly onStack = new Set<string>();
  private counter = 0;

  constructor(private readonly resolver: RefResolver) {}

  isCyclic(pointer: string): boolean {
    if (!this.cyclic.has(pointer)) this.connect(pointer);
    return this.cyclic.get(pointer) === true;
  }

  private refsOf(pointer: string): string[] {
    let found = this.edges.get(pointer);
    if (found) return found;
    const refs = new Set<string>();
    let target: unknown;
    try {
      target = this.resolver.get(pointer);
    } catch {
      target = undefined; // the conversion reports the missing target itself
    }
    someRef(target, (ref) => {
      if (ref.startsWith('#')) refs.add(ref);
      return false;
    });
    found = [...refs];
    this.edges.set(pointer, found);
    return found;
  }

  private connect(pointer: string): void {
    this.index.set(pointer, this.counter);
    this.low.set(pointer, this.counter);
    this.counter++;
    this.stack.push(pointer);
    this.onStack.add(pointer);
    let selfLoop = false;
    for (const next of this.refsOf(pointer)) {
      if (next === pointer) selfLoop = true;
      if (!this.index.has(next)) {
        if (this.cyclic.has(next)) continue;
        this.connect(next);
        this.low.set(pointer, Math.min(this.low.get(pointer)!, this.low.get(next)!));
      } else if (this.onStack.has(next)) {
        this.low.set(pointer, Math.min(this.low.get(pointer)!, this.index.get(next)!));
      }
    }
    if (this.low.get(pointer) === this.index.get(pointer)) {
      const component: string[] = [];
      let member: string;
      do {
        member = this.stack.pop()!;
        this.onStack.delete(member);
        component.push(member);
      } while (member !== pointer);
      const isCycle = component.length > 1 || selfLoop;
      for (const m of component) this.cyclic.set(m, isCycle);
    }
  }
}
