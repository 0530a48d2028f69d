/**
 * The version-neutral model every other module works on: Swagger 2.0, OpenAPI 3.0 and 3.1
 * operations normalized into one shape by `operations.ts`. Schemas stay raw (as written in the
 * spec, `$ref`s included) until `schema.ts` converts them.
 */

/** Which OpenAPI dialect a document speaks; decides `nullable`, `exclusiveMinimum` and friends. */
export type SpecVersion = '2.0' | '3.0' | '3.1';

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A JSON Schema as handed to MCP clients (an object or a boolean schema). */
export type JsonSchema = JsonSchemaObject | boolean;
export interface JsonSchemaObject {
  [keyword: string]: unknown;
}

/** A schema exactly as the spec wrote it (may hold `$ref`, `nullable`, `example`...). */
export type RawSchema = Record<string, unknown> | boolean;

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

/** OpenAPI 3 parameter styles, plus `tabDelimited` for Swagger 2.0's `collectionFormat: tsv`. */
export type ParameterStyle =
  | 'simple'
  | 'label'
  | 'matrix'
  | 'form'
  | 'spaceDelimited'
  | 'pipeDelimited'
  | 'tabDelimited'
  | 'deepObject';

/** One parameter of an operation, path-level and operation-level already merged. */
export interface ParameterSpec {
  name: string;
  in: ParameterLocation;
  required: boolean;
  description?: string;
  deprecated?: boolean;
  schema: RawSchema;
  style: ParameterStyle;
  explode: boolean;
  allowReserved: boolean;
  /** Set when the parameter uses `content` instead of `schema`: the value is sent serialized as this type. */
  contentType?: string;
}

/** How a request body is put on the wire. */
export type BodyKind = 'json' | 'form' | 'multipart' | 'text' | 'binary';

/** Per-property encoding of form and multipart bodies (OpenAPI 3 Encoding Object). */
export interface EncodingSpec {
  contentType?: string;
  style?: ParameterStyle;
  explode?: boolean;
  allowReserved?: boolean;
}

export interface BodySpec {
  required: boolean;
  description?: string;
  /** The media type chosen among those the operation accepts. */
  mediaType: string;
  kind: BodyKind;
  schema: RawSchema | undefined;
  encoding: Record<string, EncodingSpec>;
}

export interface ResponseContent {
  mediaType: string;
  schema?: RawSchema;
}

export interface ResponseSpec {
  /** `200`, `2XX`, `default`... as written. */
  status: string;
  description?: string;
  contents: ResponseContent[];
}

export interface ServerVariableSpec {
  default: string;
  enum?: string[];
  description?: string;
}

export interface ServerSpec {
  url: string;
  description?: string;
  variables: Record<string, ServerVariableSpec>;
}

/** One alternative of a security requirement: scheme name → scopes (all must be satisfied). */
export type SecurityRequirement = Record<string, string[]>;

/** A security scheme, normalized across 2.0 and 3.x. */
export type SecuritySchemeSpec =
  | { type: 'apiKey'; name: string; in: 'header' | 'query' | 'cookie'; description?: string }
  | { type: 'http'; scheme: string; description?: string }
  | { type: 'oauth2'; clientCredentialsTokenUrl?: string; scopes: string[]; description?: string }
  | { type: 'openIdConnect' | 'mutualTLS'; description?: string };

/** One operation of the API, whatever the spec version. */
export interface OperationSpec {
  /** `GET /pets/{id}`: unique within a spec, used for stable names and messages. */
  key: string;
  method: HttpMethod;
  path: string;
  operationId?: string;
  tags: string[];
  summary?: string;
  description?: string;
  deprecated: boolean;
  parameters: ParameterSpec[];
  body?: BodySpec;
  responses: ResponseSpec[];
  /** The requirement alternatives that apply (operation-level, else document-level); empty means none. */
  security: SecurityRequirement[];
  /** Candidate servers (operation, path item, then document level). */
  servers: ServerSpec[];
  /** `x-*` extensions of the operation. */
  extensions: Record<string, unknown>;
}

/** A problem in the arguments a client sent; becomes an `isError` result the model can act on. */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
}

/** A problem in the spec that makes one operation unusable; the operation is skipped with a warning. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
