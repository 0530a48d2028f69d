import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { JsonSchemaObject } from './model.js';

// ajv and ajv-formats are CommonJS: their classes sit on `default` or on the module itself.
const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;

const INT32 = 2 ** 31;

/**
 * Validates tool arguments (and replies, against output schemas) with ajv, configured like the
 * MCP SDK's own client validator (draft-07 semantics, formats checked), plus OpenAPI's formats
 * (`int32`, `int64`, `float`, `double`, `byte`, `binary`, `password`). Schemas compile on first use.
 */
export class SchemaValidator {
  private readonly ajv: InstanceType<typeof Ajv>;
  private readonly compiled = new WeakMap<object, ValidateFunction | null>();

  constructor(private readonly warn: (message: string) => void = () => {}) {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false, allowUnionTypes: true });
    addFormats(this.ajv);
    this.ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
    this.ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat('float', { type: 'number', validate: () => true });
    this.ajv.addFormat('double', { type: 'number', validate: () => true });
    this.ajv.addFormat('byte', { type: 'string', validate: (s: string) => /^[A-Za-z0-9+/_-]*={0,2}$/.test(s.replace(/\s+/g, '')) });
    this.ajv.addFormat('binary', { type: 'string', validate: () => true });
    this.ajv.addFormat('password', { type: 'string', validate: () => true });
  }

  /**
   * The problems of `value` against `schema`, one line each (at most 20), or `undefined` when it
   * fits. `subject` names the top-level members in messages: tool `argument`s or reply `property`s.
   */
  problems(schema: JsonSchemaObject, value: unknown, subject: 'argument' | 'property' = 'argument'): string[] | undefined {
    const validate = this.compile(schema);
    if (validate === null || validate(value)) return undefined;
    const lines = [...new Set((validate.errors ?? []).map((error) => describeError(error, schema, subject)))];
    return lines.length > 20 ? [...lines.slice(0, 20), `... and ${lines.length - 20} more`] : lines;
  }

  private compile(schema: JsonSchemaObject): ValidateFunction | null {
    let validate: ValidateFunction | null | undefined = this.compiled.get(schema);
    if (validate === undefined) {
      try {
        validate = this.ajv.compile(schema);
      } catch (error) {
        this.warn(`a schema could not be compiled, values for it are not checked: ${(error as Error).message}`);
        validate = null;
      }
      this.compiled.set(schema, validate);
    }
    return validate;
  }
}

/** One ajv error as a sentence a model can act on: where, and what is wrong. */
function describeError(error: ErrorObject, root: JsonSchemaObject, subject: 'argument' | 'property'): string {
  const where = error.instancePath === '' ? '' : `${error.instancePath.slice(1).replace(/\//g, '.')}: `;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const name = String(params.missingProperty);
      return where === '' ? `missing required ${subject} "${name}"` : `${where}missing required property "${name}"`;
    }
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      if (where === '' && subject === 'argument') {
        const known = Object.keys((root.properties as Record<string, unknown> | undefined) ?? {});
        return `unknown argument "${name}" (the arguments are: ${known.join(', ') || 'none'})`;
      }
      return `${where}unknown property "${name}"`;
    }
    case 'enum':
      return `${where}must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'format':
      return `${where}must be a valid ${String(params.format)}`;
    case 'type':
      return `${where}must be ${Array.isArray(params.type) ? params.type.join(' or ') : String(params.type)}`;
    default:
      return `${where}${error.message ?? error.keyword}`;
  }
}
