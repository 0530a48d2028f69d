import type { Tool, ToolAnnotations } from '@modelcontextprotocol/server';
import { buildInput, type ToolInput } from './arguments.js';
import { isRecord, SpecError, type HttpMethod, type JsonSchemaObject, type OperationSpec } from './model.js';
import { assignToolNames } from './names.js';
import { baseType, bodyKind } from './operations.js';
import { isObjectSchema, type SchemaConverter } from './schema.js';

/** Which operations become tools. Exclusions win over inclusions. */
export interface OperationFilter {
  /** Only operations with at least one of these tags. */
  includeTags?: string[];
  excludeTags?: string[];
  /** Only these operations: by operationId, tool name or `METHOD /path`. */
  includeOperations?: string[];
  excludeOperations?: string[];
  /** Only these HTTP methods (case-insensitive). */
  methods?: string[];
  /** Any other rule; runs last. */
  predicate?: (operation: OperationSpec) => boolean;
}

/** How tools are described. */
export interface ToolOptions {
  /** Tool names by operationId or `METHOD /path` (see `assignToolNames` for the rules). */
  names?: Record<string, string>;
  /** Annotation overrides by tool name, operationId or `METHOD /path` (merged over the derived ones). */
  annotations?: Record<string, ToolAnnotations>;
  filter?: OperationFilter;
  /** Derive `outputSchema` from 2xx JSON object responses (default true). */
  outputSchemas?: boolean;
  /** Longest tool description in characters (default 4000). */
  maxDescriptionLength?: number;
  /**
   * Largest tool definition, in bytes of JSON (default {@link DEFAULT_MAX_TOOL_BYTES}): a larger
   * tool is skipped with its size as the reason. No model can use a schema that size, and one
   * such tool would make every `tools/list` page that holds it that large.
   */
  maxToolBytes?: number;
  /** Reports progress while building many tools. */
  onProgress?: (done: number, total: number) => void;
}

/** One operation as an MCP tool. */
export interface OpenApiTool {
  name: string;
  operation: OperationSpec;
  /** Exactly what `tools/list` sends (built once, served from memory). */
  definition: Tool;
  input: ToolInput;
  outputSchema?: JsonSchemaObject;
  /** The `Accept` header the tool sends. */
  accept: string;
  /** Size of `definition` in bytes of JSON. */
  bytes: number;
}

/** Default of {@link ToolOptions.maxToolBytes}: 256 KiB (the GitHub API's largest tool is 53 kB). */
export const DEFAULT_MAX_TOOL_BYTES = 256 * 1024;

export interface BuiltTools {
  tools: OpenApiTool[];
  /** Operations whose tool could not be built, and why. */
  skipped: Array<{ key: string; reason: string }>;
  /** How many operations the filter left out. */
  filteredOut: number;
}

/**
 * Builds the tools of `operations`: names (assigned over all operations, so filters do not
 * change them), input and output schemas, descriptions and annotations. An operation whose
 * schemas cannot be converted is skipped with its reason; the others are unaffected.
 */
export function buildTools(operations: readonly OperationSpec[], converter: SchemaConverter, options: ToolOptions = {}): BuiltTools {
  const names = assignToolNames(operations, options.names);
  const selected = operations.filter((op) => selectedBy(options.filter, op, names.get(op)!));
  const tools: OpenApiTool[] = [];
  const skipped: BuiltTools['skipped'] = [];
  selected.forEach((op, i) => {
    if (i % 250 === 0) options.onProgress?.(i, selected.length);
    const name = names.get(op)!;
    try {
      tools.push(buildTool(op, name, converter, options));
    } catch (error) {
      skipped.push({ key: op.key, reason: (error as Error).message });
    }
  });
  options.onProgress?.(selected.length, selected.length);
  return { tools, skipped, filteredOut: operations.length - selected.length };
}

function buildTool(op: OperationSpec, name: string, converter: SchemaConverter, options: ToolOptions): OpenApiTool {
  const maxBytes = options.maxToolBytes ?? DEFAULT_MAX_TOOL_BYTES;
  const input = buildInput(op, converter);
  const outputSchema = options.outputSchemas === false ? undefined : outputSchemaOf(op, converter);
  const definition: Tool = {
    name,
    ...(op.summary === undefined ? {} : { title: op.summary }),
    description: descriptionOf(op, options.maxDescriptionLength ?? 4000),
    inputSchema: input.schema as Tool['inputSchema'],
    ...(outputSchema === undefined ? {} : { outputSchema: outputSchema as Tool['outputSchema'] }),
    annotations: annotationsOf(op, name, options.annotations),
    _meta: { 'httmcp/openapi': { method: op.method.toUpperCase(), path: op.path, ...(op.operationId === undefined ? {} : { operationId: op.operationId }) } },
  };
  const bytes = jsonBytes(definition);
  if (bytes > maxBytes) {
    throw new SpecError(
      `its tool definition is ${bytes === Infinity ? 'longer than the longest string' : `${bytes} bytes`} of JSON, more than maxToolBytes (${maxBytes}); raise maxToolBytes (--max-tool-bytes) or leave the operation out`,
    );
  }
  return { name, operation: op, definition, input, ...(outputSchema === undefined ? {} : { outputSchema }), accept: acceptOf(op), bytes };
}

/** Bytes of `value` as JSON; `Infinity` when it cannot even be written (longer than V8's largest string). */
function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value));
  } catch (error) {
    if (error instanceof RangeError) return Infinity;
    throw error;
  }
}

function selectedBy(filter: OperationFilter | undefined, op: OperationSpec, name: string): boolean {
  if (!filter) return true;
  const ids = [op.operationId, name, op.key].filter((v): v is string => v !== undefined);
  const matches = (list: string[] | undefined) => list?.some((entry) => ids.includes(entry) || ids.includes(normalizeKey(entry))) ?? false;
  if (filter.methods && !filter.methods.some((m) => m.toLowerCase() === op.method)) return false;
  if (filter.includeTags && !op.tags.some((t) => filter.includeTags!.includes(t))) return false;
  if (filter.excludeTags && op.tags.some((t) => filter.excludeTags!.includes(t))) return false;
  if (filter.includeOperations && !matches(filter.includeOperations)) return false;
  if (filter.excludeOperations && matches(filter.excludeOperations)) return false;
  return filter.predicate ? filter.predicate(op) : true;
}

/** `get /pets` → `GET /pets`, so operation keys may be written in any case. */
function normalizeKey(entry: string): string {
  const match = /^([A-Za-z]+)\s+(\/.*)$/.exec(entry);
  return match ? `${match[1]!.toUpperCase()} ${match[2]}` : entry;
}

/** Summary and description, deprecation first, cut to `max` characters. */
function descriptionOf(op: OperationSpec, max: number): string {
  const parts = [op.deprecated ? 'Deprecated.' : undefined, op.summary, op.description === op.summary ? undefined : op.description].filter(
    (p): p is string => p !== undefined,
  );
  const text = parts.length === 0 || (parts.length === 1 && op.deprecated) ? [...parts, op.key].join(' ') : parts.join('\n\n');
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Hints from the HTTP method's semantics, then `x-mcp-annotations`, then configuration. */
function annotationsOf(op: OperationSpec, name: string, overrides: Record<string, ToolAnnotations> | undefined): ToolAnnotations {
  const derived: Record<HttpMethod, ToolAnnotations> = {
    get: { readOnlyHint: true },
    head: { readOnlyHint: true },
    options: { readOnlyHint: true },
    trace: { readOnlyHint: true },
    put: { readOnlyHint: false, idempotentHint: true },
    delete: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    post: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    patch: { readOnlyHint: false, idempotentHint: false },
  };
  const extension = isRecord(op.extensions['x-mcp-annotations']) ? (op.extensions['x-mcp-annotations'] as ToolAnnotations) : {};
  const configured = overrides?.[name] ?? (op.operationId === undefined ? undefined : overrides?.[op.operationId]) ?? overrides?.[op.key] ?? {};
  return { ...derived[op.method], openWorldHint: true, ...extension, ...configured };
}

/**
 * An output schema when every declared 2xx response is a JSON object (MCP's `structuredContent`
 * must be an object); several different ones become `anyOf`. Otherwise none.
 */
function outputSchemaOf(op: OperationSpec, converter: SchemaConverter): JsonSchemaObject | undefined {
  const success = op.responses.filter((r) => /^2(\d\d|XX)$/i.test(r.status));
  if (success.length === 0) return undefined;
  const schemas: JsonSchemaObject[] = [];
  const seen = new Set<unknown>();
  for (const response of success) {
    const json = response.contents.find((c) => bodyKind(c.mediaType) === 'json' && !baseType(c.mediaType).includes('*'));
    if (json?.schema === undefined) return undefined;
    if (seen.has(json.schema)) continue;
    seen.add(json.schema);
    const root = converter.rootSchema(converter.convert(json.schema, 'output'), 'output');
    if (!isObjectSchema(root, root.$defs as Record<string, never> | undefined)) return undefined;
    schemas.push(root);
  }
  if (schemas.length === 1) {
    const only = schemas[0]!;
    return only.type === 'object' ? only : { type: 'object', ...only };
  }
  const $defs = Object.assign({}, ...schemas.map((s) => s.$defs ?? {})) as Record<string, unknown>;
  const members = schemas.map(({ $defs: _defs, ...rest }) => rest);
  return { type: 'object', anyOf: members, ...(Object.keys($defs).length > 0 ? { $defs } : {}) };
}

/** JSON first, the operation's other reply types next, anything last. */
function acceptOf(op: OperationSpec): string {
  const types = new Set<string>();
  for (const response of op.responses) {
    if (!/^2(\d\d|XX)$/i.test(response.status)) continue;
    for (const content of response.contents) types.add(baseType(content.mediaType));
  }
  const json = [...types].filter((t) => bodyKind(t) === 'json' && !t.includes('*'));
  const other = [...types].filter((t) => !json.includes(t) && t !== '*/*');
  if (json.length === 0 && other.length === 0) return 'application/json, */*;q=0.8';
  return [...json, ...other.map((t) => `${t};q=0.9`), '*/*;q=0.1'].join(', ');
}
