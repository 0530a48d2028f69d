import type { OpenAPIV2, OpenAPIV3 } from 'openapi-types';
import type { LoadedSpec } from './load.js';
import {
  HTTP_METHODS,
  isRecord,
  SpecError,
  type BodyKind,
  type BodySpec,
  type EncodingSpec,
  type HttpMethod,
  type OperationSpec,
  type ParameterLocation,
  type ParameterSpec,
  type ParameterStyle,
  type RawSchema,
  type ResponseSpec,
  type SecurityRequirement,
  type SecuritySchemeSpec,
  type ServerSpec,
} from './model.js';
import type { RefResolver } from './refs.js';

/** What `collectOperations` found: the usable operations, and why others were skipped. */
export interface CollectedOperations {
  operations: OperationSpec[];
  skipped: Array<{ key: string; reason: string }>;
}

/** Headers OpenAPI says to ignore as parameters (they are set from the content and security). */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const STYLES = new Set<ParameterStyle>(['simple', 'label', 'matrix', 'form', 'spaceDelimited', 'pipeDelimited', 'deepObject']);

/**
 * Every operation of the document in one version-neutral shape: parameters merged from path
 * and operation level, `$ref`s of parameters/bodies/responses followed, the request body's media
 * type chosen, servers and security resolved. A broken operation is skipped with its reason;
 * the others are unaffected.
 */
export function collectOperations(spec: LoadedSpec, resolver: RefResolver): CollectedOperations {
  const doc = spec.document as unknown as Record<string, unknown>;
  const operations: OperationSpec[] = [];
  const skipped: CollectedOperations['skipped'] = [];
  const paths = isRecord(doc.paths) ? doc.paths : {};
  for (const [path, rawItem] of Object.entries(paths)) {
    let item: Record<string, unknown>;
    try {
      if (!path.startsWith('/')) throw new SpecError('a path must start with "/"');
      item = resolver.deref(rawItem);
    } catch (error) {
      skipped.push({ key: path, reason: (error as Error).message });
      continue;
    }
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const key = `${method.toUpperCase()} ${path}`;
      try {
        if (!isRecord(op)) throw new SpecError('the operation is not an object');
        operations.push(
          spec.version === '2.0'
            ? swaggerOperation(doc, spec, resolver, path, method, item, op)
            : openApiOperation(doc, resolver, path, method, item, op),
        );
      } catch (error) {
        skipped.push({ key, reason: (error as Error).message });
      }
    }
  }
  return { operations, skipped };
}

/** The security schemes of the document, normalized; unusable ones are left out. */
export function collectSecuritySchemes(spec: LoadedSpec, resolver: RefResolver): Map<string, SecuritySchemeSpec> {
  const doc = spec.document as unknown as Record<string, unknown>;
  const schemes = new Map<string, SecuritySchemeSpec>();
  const raw = spec.version === '2.0' ? doc.securityDefinitions : isRecord(doc.components) ? doc.components.securitySchemes : undefined;
  if (!isRecord(raw)) return schemes;
  for (const [name, value] of Object.entries(raw)) {
    let scheme: Record<string, unknown>;
    try {
      scheme = resolver.deref(value);
    } catch {
      continue;
    }
    const description = typeof scheme.description === 'string' ? { description: scheme.description } : {};
    switch (scheme.type) {
      case 'apiKey':
        if (typeof scheme.name === 'string' && (scheme.in === 'header' || scheme.in === 'query' || scheme.in === 'cookie')) {
          schemes.set(name, { type: 'apiKey', name: scheme.name, in: scheme.in, ...description });
        }
        break;
      case 'basic': // Swagger 2.0
        schemes.set(name, { type: 'http', scheme: 'basic', ...description });
        break;
      case 'http':
        schemes.set(name, { type: 'http', scheme: String(scheme.scheme ?? '').toLowerCase(), ...description });
        break;
      case 'oauth2': {
        let tokenUrl: unknown;
        let scopes: Record<string, unknown> = {};
        if (spec.version === '2.0') {
          if (scheme.flow === 'application') tokenUrl = scheme.tokenUrl;
          if (isRecord(scheme.scopes)) scopes = scheme.scopes;
        } else if (isRecord(scheme.flows)) {
          const flow = scheme.flows.clientCredentials;
          if (isRecord(flow)) {
            tokenUrl = flow.tokenUrl;
            if (isRecord(flow.scopes)) scopes = flow.scopes;
          }
        }
        schemes.set(name, {
          type: 'oauth2',
          ...(typeof tokenUrl === 'string' ? { clientCredentialsTokenUrl: tokenUrl } : {}),
          scopes: Object.keys(scopes),
          ...description,
        });
        break;
      }
      case 'openIdConnect':
      case 'mutualTLS':
        schemes.set(name, { type: scheme.type, ...description });
        break;
    }
  }
  return schemes;
}

function openApiOperation(
  doc: Record<string, unknown>,
  resolver: RefResolver,
  path: string,
  method: HttpMethod,
  item: Record<string, unknown>,
  op: Record<string, unknown>,
): OperationSpec {
  const parameters = mergeParameters(resolver, item.parameters, op.parameters).flatMap((raw): ParameterSpec[] => {
    const p = raw as unknown as OpenAPIV3.ParameterObject;
    const location = p.in as ParameterLocation;
    if (!['path', 'query', 'header', 'cookie'].includes(location)) throw new SpecError(`parameter ${p.name} is in ${JSON.stringify(p.in)}`);
    if (location === 'header' && IGNORED_HEADERS.has(p.name.toLowerCase())) return [];
    const style = (p.style ?? (location === 'query' || location === 'cookie' ? 'form' : 'simple')) as ParameterStyle;
    if (!STYLES.has(style)) throw new SpecError(`parameter ${p.name} has the unknown style ${JSON.stringify(style)}`);
    let schema: RawSchema = (p.schema as RawSchema | undefined) ?? {};
    let contentType: string | undefined;
    if (p.schema === undefined && isRecord(p.content)) {
      const [type, media] = Object.entries(p.content)[0] ?? [];
      if (type !== undefined) {
        contentType = type;
        schema = ((media as OpenAPIV3.MediaTypeObject | undefined)?.schema as RawSchema | undefined) ?? {};
      }
    }
    return [
      {
        name: p.name,
        in: location,
        required: location === 'path' ? true : p.required === true,
        ...(typeof p.description === 'string' ? { description: p.description } : {}),
        ...(p.deprecated === true ? { deprecated: true } : {}),
        schema,
        style,
        explode: p.explode ?? style === 'form',
        allowReserved: p.allowReserved === true,
        ...(contentType === undefined ? {} : { contentType }),
      },
    ];
  });

  let body: BodySpec | undefined;
  if (op.requestBody !== undefined) {
    const requestBody = resolver.deref<OpenAPIV3.RequestBodyObject>(op.requestBody);
    const content = isRecord(requestBody.content) ? requestBody.content : {};
    const mediaType = pickMediaType(Object.keys(content));
    if (mediaType !== undefined) {
      const media = resolver.deref<OpenAPIV3.MediaTypeObject>(content[mediaType] ?? {});
      const encoding: Record<string, EncodingSpec> = {};
      for (const [name, e] of Object.entries(isRecord(media.encoding) ? media.encoding : {})) {
        if (!isRecord(e)) continue;
        encoding[name] = {
          ...(typeof e.contentType === 'string' ? { contentType: e.contentType } : {}),
          ...(typeof e.style === 'string' && STYLES.has(e.style as ParameterStyle) ? { style: e.style as ParameterStyle } : {}),
          ...(typeof e.explode === 'boolean' ? { explode: e.explode } : {}),
          ...(typeof e.allowReserved === 'boolean' ? { allowReserved: e.allowReserved } : {}),
        };
      }
      body = {
        required: requestBody.required === true,
        ...(typeof requestBody.description === 'string' ? { description: requestBody.description } : {}),
        mediaType,
        kind: bodyKind(mediaType),
        schema: media.schema as RawSchema | undefined,
        encoding,
      };
    }
  }

  const responses: ResponseSpec[] = [];
  for (const [status, raw] of Object.entries(isRecord(op.responses) ? op.responses : {})) {
    if (status.startsWith('x-')) continue;
    const response = resolver.deref<OpenAPIV3.ResponseObject>(raw);
    const content = isRecord(response.content) ? response.content : {};
    responses.push({
      status,
      ...(typeof response.description === 'string' ? { description: response.description } : {}),
      contents: Object.entries(content).map(([mediaType, media]) => {
        const schema = isRecord(media) ? (media.schema as RawSchema | undefined) : undefined;
        return schema === undefined ? { mediaType } : { mediaType, schema };
      }),
    });
  }

  const servers = [op.servers, item.servers, doc.servers].find((s) => Array.isArray(s) && s.length > 0) as OpenAPIV3.ServerObject[] | undefined;
  return finish(path, method, op, parameters, body, responses, securityOf(op, doc), (servers ?? [{ url: '/' }]).map(serverSpec));
}

function swaggerOperation(
  doc: Record<string, unknown>,
  spec: LoadedSpec,
  resolver: RefResolver,
  path: string,
  method: HttpMethod,
  item: Record<string, unknown>,
  op: Record<string, unknown>,
): OperationSpec {
  const consumes = stringList(op.consumes) ?? stringList(doc.consumes) ?? ['application/json'];
  const produces = stringList(op.produces) ?? stringList(doc.produces) ?? ['application/json'];
  const parameters: ParameterSpec[] = [];
  let body: BodySpec | undefined;
  const formProperties: Record<string, RawSchema> = {};
  const formRequired: string[] = [];
  const formEncoding: Record<string, EncodingSpec> = {};

  for (const raw of mergeParameters(resolver, item.parameters, op.parameters)) {
    const p = raw as unknown as OpenAPIV2.Parameter;
    const description = typeof p.description === 'string' ? { description: p.description } : {};
    if (p.in === 'body') {
      const mediaType = pickMediaType(consumes.filter((t) => bodyKind(t) !== 'form' && bodyKind(t) !== 'multipart')) ?? 'application/json';
      body = {
        required: p.required === true,
        ...description,
        mediaType,
        kind: bodyKind(mediaType),
        schema: (p.schema as RawSchema | undefined) ?? {},
        encoding: {},
      };
      continue;
    }
    const schema = swaggerParameterSchema(p as OpenAPIV2.GeneralParameterObject);
    const { style, explode } = collectionStyle(p.in as string, (p as OpenAPIV2.GeneralParameterObject).collectionFormat);
    if (p.in === 'formData') {
      formProperties[p.name] = { ...schema, ...description };
      if (p.required === true) formRequired.push(p.name);
      formEncoding[p.name] = { style, explode };
      continue;
    }
    if (!['path', 'query', 'header'].includes(p.in as string)) throw new SpecError(`parameter ${p.name} is in ${JSON.stringify(p.in)}`);
    if (p.in === 'header' && IGNORED_HEADERS.has(p.name.toLowerCase())) continue;
    parameters.push({
      name: p.name,
      in: p.in as ParameterLocation,
      required: p.in === 'path' ? true : p.required === true,
      ...description,
      schema,
      style,
      explode,
      allowReserved: false,
    });
  }
  if (Object.keys(formProperties).length > 0) {
    const hasFile = Object.values(formProperties).some((s) => isRecord(s) && s.format === 'binary' && s['x-httmcp-file'] === true);
    const multipart = hasFile || (consumes.some((t) => bodyKind(t) === 'multipart') && !consumes.some((t) => bodyKind(t) === 'form'));
    const mediaType = multipart ? 'multipart/form-data' : 'application/x-www-form-urlencoded';
    body = {
      required: formRequired.length > 0,
      mediaType,
      kind: multipart ? 'multipart' : 'form',
      schema: { type: 'object', properties: formProperties, ...(formRequired.length > 0 ? { required: formRequired } : {}) },
      encoding: formEncoding,
    };
  }

  const responses: ResponseSpec[] = [];
  for (const [status, raw] of Object.entries(isRecord(op.responses) ? op.responses : {})) {
    if (status.startsWith('x-')) continue;
    const response = resolver.deref<OpenAPIV2.ResponseObject>(raw);
    const schema = response.schema as RawSchema | undefined;
    responses.push({
      status,
      ...(typeof response.description === 'string' ? { description: response.description } : {}),
      contents: schema === undefined ? [] : produces.map((mediaType) => ({ mediaType, schema })),
    });
  }

  const schemes = stringList(op.schemes) ?? stringList(doc.schemes) ?? [];
  const sourceProtocol = spec.source && /^https?:/.test(spec.source) ? new URL(spec.source).protocol.slice(0, -1) : undefined;
  const scheme = schemes.includes('https') ? 'https' : (schemes[0] ?? sourceProtocol ?? 'https');
  const basePath = typeof doc.basePath === 'string' ? doc.basePath : '';
  const url = typeof doc.host === 'string' && doc.host !== '' ? `${scheme}://${doc.host}${basePath}` : basePath || '/';
  return finish(path, method, op, parameters, body, responses, securityOf(op, doc), [{ url, variables: {} }]);
}

function finish(
  path: string,
  method: HttpMethod,
  op: Record<string, unknown>,
  declared: ParameterSpec[],
  body: BodySpec | undefined,
  responses: ResponseSpec[],
  security: SecurityRequirement[],
  servers: ServerSpec[],
): OperationSpec {
  // Every {template} variable of the path needs a path parameter, and vice versa.
  let parameters = declared;
  const variables = [...path.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!);
  for (const variable of variables) {
    if (!parameters.some((p) => p.in === 'path' && p.name === variable)) {
      if (!/^[A-Za-z0-9_.~-]+$/.test(variable)) throw new SpecError(`the path has {${variable}}, which is no valid parameter name`);
      // A common slip in real specs: the variable is in the path but not declared. It is a string.
      parameters = [...parameters, { name: variable, in: 'path', required: true, schema: { type: 'string' }, style: 'simple', explode: false, allowReserved: false }];
    }
  }
  const unused = parameters.filter((p) => p.in === 'path' && !variables.includes(p.name));
  const extensions = Object.fromEntries(Object.entries(op).filter(([k]) => k.startsWith('x-')));
  return {
    key: `${method.toUpperCase()} ${path}`,
    method,
    path,
    ...(typeof op.operationId === 'string' && op.operationId !== '' ? { operationId: op.operationId } : {}),
    tags: Array.isArray(op.tags) ? op.tags.filter((t): t is string => typeof t === 'string') : [],
    ...(typeof op.summary === 'string' && op.summary.trim() !== '' ? { summary: op.summary.trim() } : {}),
    ...(typeof op.description === 'string' && op.description.trim() !== '' ? { description: op.description.trim() } : {}),
    deprecated: op.deprecated === true,
    parameters: parameters.filter((p) => !unused.includes(p)),
    ...(body === undefined ? {} : { body }),
    responses,
    security,
    servers,
    extensions,
  };
}

/** Path-level parameters, overridden by operation-level ones with the same name and location. */
function mergeParameters(resolver: RefResolver, pathLevel: unknown, operationLevel: unknown): Array<Record<string, unknown>> {
  const merged = new Map<string, Record<string, unknown>>();
  for (const list of [pathLevel, operationLevel]) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new SpecError('"parameters" is not a list');
    for (const raw of list) {
      const p = resolver.deref(raw);
      if (typeof p.name !== 'string' || typeof p.in !== 'string') throw new SpecError(`a parameter lacks "name" or "in": ${JSON.stringify(p).slice(0, 120)}`);
      const key = `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
      merged.delete(key); // re-insert, so an override takes the operation's order
      merged.set(key, p);
    }
  }
  return [...merged.values()];
}

/** A JSON Schema for a Swagger 2.0 non-body parameter (its schema keywords sit on the parameter). */
function swaggerParameterSchema(p: OpenAPIV2.GeneralParameterObject): Record<string, unknown> {
  const keys = [
    'type', 'format', 'items', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'maxLength',
    'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'enum', 'multipleOf', 'x-nullable',
  ] as const;
  const schema: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (p as unknown as Record<string, unknown>)[key];
    if (value !== undefined) schema[key] = key === 'items' && isRecord(value) ? swaggerItems(value) : value;
  }
  if (p.type === 'file') {
    schema.type = 'string';
    schema.format = 'binary';
    schema['x-httmcp-file'] = true;
  }
  return schema;
}

function swaggerItems(items: Record<string, unknown>): Record<string, unknown> {
  const { collectionFormat: _ignored, ...rest } = items;
  return isRecord(rest.items) ? { ...rest, items: swaggerItems(rest.items) } : rest;
}

/** Swagger 2.0 `collectionFormat` as an OpenAPI 3 style. */
function collectionStyle(location: string, format: string | undefined): { style: ParameterStyle; explode: boolean } {
  const form = location === 'query' || location === 'formData';
  switch (format) {
    case 'multi':
      return { style: 'form', explode: true };
    case 'ssv':
      return { style: 'spaceDelimited', explode: false };
    case 'pipes':
      return { style: 'pipeDelimited', explode: false };
    case 'tsv':
      return { style: 'tabDelimited', explode: false };
    default:
      return { style: form ? 'form' : 'simple', explode: false };
  }
}

function securityOf(op: Record<string, unknown>, doc: Record<string, unknown>): SecurityRequirement[] {
  const raw = Array.isArray(op.security) ? op.security : Array.isArray(doc.security) ? doc.security : [];
  return raw.filter(isRecord).map((requirement) =>
    Object.fromEntries(Object.entries(requirement).map(([name, scopes]) => [name, Array.isArray(scopes) ? scopes.map(String) : []])),
  );
}

function serverSpec(server: OpenAPIV3.ServerObject): ServerSpec {
  const variables: ServerSpec['variables'] = {};
  for (const [name, v] of Object.entries(isRecord(server.variables) ? server.variables : {})) {
    if (!isRecord(v)) continue;
    variables[name] = {
      default: String(v.default ?? ''),
      ...(Array.isArray(v.enum) ? { enum: v.enum.map(String) } : {}),
      ...(typeof v.description === 'string' ? { description: v.description } : {}),
    };
  }
  return { url: String(server.url ?? '/'), ...(typeof server.description === 'string' ? { description: server.description } : {}), variables };
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.length > 0 ? value.map(String) : undefined;
}

/** How a media type is put on the wire. */
export function bodyKind(mediaType: string): BodyKind {
  const base = baseType(mediaType);
  if (base === 'application/json' || base.endsWith('+json') || base === 'text/json' || base === '*/*' || base === 'application/*') return 'json';
  if (base === 'application/x-www-form-urlencoded') return 'form';
  if (base.startsWith('multipart/')) return 'multipart';
  if (base.startsWith('text/') || base === 'application/xml' || base.endsWith('+xml') || base === 'application/yaml') return 'text';
  return 'binary';
}

/** The media type to send: JSON first, then forms, multipart, text and bytes. */
export function pickMediaType(types: string[]): string | undefined {
  const rank = (type: string): number => {
    const base = baseType(type);
    if (base === 'application/json') return 0;
    const kind = bodyKind(type);
    if (kind === 'json') return base === '*/*' || base === 'application/*' ? 6 : 1;
    if (kind === 'form') return 2;
    if (kind === 'multipart') return base === 'multipart/form-data' ? 3 : 4;
    if (kind === 'text') return base === 'text/plain' ? 5 : 7;
    return base === 'application/octet-stream' ? 8 : 9;
  };
  return [...types].sort((a, b) => rank(a) - rank(b))[0];
}

/** `application/json; charset=utf-8` → `application/json`. */
export function baseType(mediaType: string): string {
  return mediaType.split(';')[0]!.trim().toLowerCase();
}
