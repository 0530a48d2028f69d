import { isRecord, type JsonSchema, type JsonSchemaObject, type OperationSpec, type ParameterSpec, type RawSchema } from './model.js';
import { shortHash, type SchemaConverter } from './schema.js';

/** A file argument: bytes as base64, with an optional file name and media type. */
export const FILE_SCHEMA: JsonSchemaObject = {
  type: 'object',
  properties: {
    base64: { type: 'string', contentEncoding: 'base64', description: 'The file content, base64-encoded.' },
    filename: { type: 'string', description: 'File name sent with the content.' },
    contentType: { type: 'string', description: 'Media type of the content (default: application/octet-stream).' },
  },
  required: ['base64'],
  additionalProperties: false,
};

/** How one argument of the tool maps onto the HTTP request. */
export type Binding =
  | { kind: 'param'; arg: string; param: ParameterSpec }
  /** One property of a flattened request body; `file` for multipart file parts. */
  | { kind: 'property'; arg: string; property: string; file: 'one' | 'many' | false }
  /** The whole request body. */
  | { kind: 'body'; arg: string };

/** A tool's input schema and what each argument means. */
export interface ToolInput {
  schema: JsonSchemaObject;
  bindings: Binding[];
}

const ARG = /^[A-Za-z0-9_.-]{1,64}$/;
const LOCATION_ORDER = { path: 0, query: 1, header: 2, cookie: 3 } as const;

/**
 * The arguments of an operation's tool, and how each reaches the request.
 *
 * Renaming rule (deterministic, never dropping anything):
 * - Parameters keep their names, claimed in the order path, query, header, cookie (by name
 *   within a location). A parameter whose name is taken by one in an earlier location becomes
 *   `<in>_<name>` (`query_id`, `header_id`).
 * - A JSON, form or multipart body whose schema is a plain object (properties, no
 *   `allOf`/`oneOf`/`anyOf`, no extra properties) is flattened: each property is an argument of
 *   its own name, or `body_<name>` when a parameter already has that name.
 * - Any other body is one argument, `body` (or `request_body` when a parameter is named `body`).
 * - Names are sanitized to `^[A-Za-z0-9_.-]{1,64}$` (other characters become `_`); a renamed
 *   argument's description says what it is sent as. Further clashes add `_2`, `_3`...
 */
export function buildInput(op: OperationSpec, converter: SchemaConverter): ToolInput {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const bindings: Binding[] = [];
  const defs = new Set<string>();
  const taken = new Set<string>();
  const claim = (candidates: string[]): string => {
    for (let n = 1; ; n++) {
      for (const candidate of candidates) {
        const name = sanitizeArgName(n === 1 ? candidate : `${candidate}_${n}`);
        if (!taken.has(name)) {
          taken.add(name);
          return name;
        }
      }
    }
  };
  const convert = (schema: RawSchema | undefined) => {
    const converted = converter.convert(schema, 'input');
    for (const d of converted.defs) defs.add(d);
    return converted.schema;
  };

  // Names first, in a fixed order; properties then in the spec's order.
  const ordered = [...op.parameters].sort((a, b) => LOCATION_ORDER[a.in] - LOCATION_ORDER[b.in] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const paramArgs = new Map<ParameterSpec, string>();
  for (const param of ordered) paramArgs.set(param, claim([param.name, `${param.in}_${param.name}`]));
  for (const param of op.parameters) {
    const arg = paramArgs.get(param)!;
    const note = arg === param.name ? undefined : `Sent as the ${param.in} parameter ${JSON.stringify(param.name)}.`;
    properties[arg] = describe(convert(param.schema), join(param.description, note), param.deprecated === true);
    if (param.required) required.push(arg);
    bindings.push({ kind: 'param', arg, param });
  }

  const body = op.body;
  if (body !== undefined) {
    const root = converter.resolveRaw(body.schema);
    if ((body.kind === 'json' || body.kind === 'form' || body.kind === 'multipart') && flattenable(root)) {
      const rootRequired = Array.isArray(root.required) ? root.required : [];
      for (const [property, raw] of Object.entries(root.properties as Record<string, RawSchema>)) {
        const resolved = converter.resolveRaw(raw);
        if (isRecord(resolved) && resolved.readOnly === true) continue;
        const file = body.kind === 'multipart' ? fileKind(converter, raw) : false;
        const arg = claim([property, `body_${property}`]);
        const schema = file === 'one' ? FILE_SCHEMA : file === 'many' ? { type: 'array', items: FILE_SCHEMA } : convert(raw);
        const description = isRecord(resolved) && typeof resolved.description === 'string' ? resolved.description : undefined;
        const note = arg === property ? undefined : `The request body's ${JSON.stringify(property)} property.`;
        properties[arg] = note === undefined && file === false ? schema : describe(schema, join(description, note), false);
        if (body.required && rootRequired.includes(property)) required.push(arg);
        bindings.push({ kind: 'property', arg, property, file });
      }
    } else {
      const arg = claim(['body', 'request_body']);
      let schema: JsonSchema;
      let description = body.description;
      if (body.kind === 'binary') {
        schema = FILE_SCHEMA;
        description = join(description, `The request body (${body.mediaType}); filename is ignored.`);
      } else if (body.kind === 'text') {
        schema = { type: 'string' };
        description = join(description, `The request body as text (${body.mediaType}).`);
      } else {
        schema = convert(body.schema);
        description = join(description, `The request body (${body.mediaType}).`);
      }
      properties[arg] = describe(schema, description, false);
      if (body.required) required.push(arg);
      bindings.push({ kind: 'body', arg });
    }
  }

  const schema: JsonSchemaObject = { type: 'object', properties };
  if (required.length > 0) schema.required = required;
  schema.additionalProperties = false;
  const $defs = converter.defsFor(defs, 'input');
  if ($defs) schema.$defs = $defs;
  return { schema, bindings };
}

/** `raw` as an argument name (`^[A-Za-z0-9_.-]{1,64}$`). */
export function sanitizeArgName(raw: string): string {
  if (ARG.test(raw)) return raw;
  let name = raw.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'arg';
  if (name.length > 64) name = `${name.slice(0, 57)}_${shortHash(raw)}`;
  return name;
}

/** Whether a body schema is a plain object whose properties can be arguments of their own. */
function flattenable(root: RawSchema | undefined): root is Record<string, unknown> & { properties: Record<string, unknown> } {
  if (!isRecord(root) || !isRecord(root.properties) || Object.keys(root.properties).length === 0) return false;
  if (root.type !== undefined && root.type !== 'object') return false;
  if (root.nullable === true || root['x-nullable'] === true) return false;
  for (const key of ['allOf', 'oneOf', 'anyOf', 'not', 'if', 'patternProperties', 'discriminator'] as const) {
    if (root[key] !== undefined) return false;
  }
  return root.additionalProperties === undefined || root.additionalProperties === false;
}

/** Whether a multipart property is a file (binary string), or a list of files. */
function fileKind(converter: SchemaConverter, raw: RawSchema): 'one' | 'many' | false {
  const schema = converter.resolveRaw(raw);
  if (!isRecord(schema)) return false;
  if (isBinary(schema)) return 'one';
  if (schema.type === 'array') {
    const items = converter.resolveRaw(schema.items as RawSchema | undefined);
    if (isRecord(items) && isBinary(items)) return 'many';
  }
  return false;
}

function isBinary(schema: Record<string, unknown>): boolean {
  if (schema.type === 'file' || schema.format === 'binary') return true;
  return typeof schema.contentMediaType === 'string' && schema.contentEncoding === undefined && !/^text\//.test(schema.contentMediaType);
}

function describe(schema: JsonSchema, description: string | undefined, deprecated: boolean): JsonSchema {
  if (description === undefined && !deprecated) return schema;
  const base: JsonSchemaObject = typeof schema === 'boolean' ? (schema ? {} : { not: {} }) : schema;
  return { ...base, ...(description === undefined ? {} : { description }), ...(deprecated ? { deprecated: true } : {}) };
}

function join(...parts: Array<string | undefined>): string | undefined {
  const text = parts.filter((p): p is string => p !== undefined && p.trim() !== '').join('\n\n');
  return text === '' ? undefined : text;
}
