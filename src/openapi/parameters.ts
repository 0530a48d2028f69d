import { ArgumentError, isRecord, type ParameterSpec, type ParameterStyle } from './model.js';

/**
 * Parameter serialization as OpenAPI defines it (`style` and `explode`, RFC 6570 underneath),
 * with percent-encoding that can never change the request's target: every path value is encoded
 * down to RFC 3986's unreserved characters, so `/`, `?`, `#`, `%` and `..` reach the API as data.
 */

/** RFC 3986 percent-encoding; only `A-Z a-z 0-9 - . _ ~` stay as they are. */
export function encodeStrict(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Query encoding with `allowReserved`: reserved characters that cannot break the query stay. */
function encodeQueryValue(value: string, allowReserved: boolean): string {
  const encoded = encodeStrict(value);
  if (!allowReserved) return encoded;
  return encoded.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B|5B|5D)/g, (escape) => decodeURIComponent(escape));
}

/** A primitive as text: JSON values that are not objects or arrays. */
function primitive(value: unknown, name: string): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'object') return JSON.stringify(value);
  throw new ArgumentError(`${name}: cannot send a value of type ${typeof value}`);
}

/**
 * The path with its `{variables}` filled in, every value fully percent-encoded. Refuses what
 * would still change the target: empty values and `.`/`..` segments (URL parsers resolve
 * those, also when written `%2e`).
 */
export function fillPath(template: string, values: Map<string, { param: ParameterSpec; value: unknown }>): string {
  const path = template.replace(/\{([^{}]+)\}/g, (_whole, name: string) => {
    const entry = values.get(name);
    if (entry === undefined || entry.value === undefined) throw new ArgumentError(`path parameter ${JSON.stringify(name)} is required`);
    const { param, value } = entry;
    const text = serializePath(param, value);
    if (text === '') {
      throw new ArgumentError(`path parameter ${JSON.stringify(name)} must not be empty`);
    }
    return text;
  });
  for (const segment of path.split('/')) {
    if (/^(?:\.|%2e){1,2}$/i.test(segment)) {
      throw new ArgumentError(`a path parameter may not be "." or "..": the request would address ${JSON.stringify(segment)} instead of the parameter's resource`);
    }
  }
  return path;
}

function serializePath(param: ParameterSpec, value: unknown): string {
  const enc = encodeStrict;
  const { name, explode } = param;
  const raw = param.contentType ? JSON.stringify(value) : value;
  switch (param.style) {
    case 'label': {
      if (Array.isArray(raw)) return '.' + raw.map((v) => enc(primitive(v, name))).join(explode ? '.' : ',');
      if (isRecord(raw)) return '.' + pairs(raw, name).map(([k, v]) => (explode ? `${enc(k)}=${enc(v)}` : `${enc(k)},${enc(v)}`)).join(explode ? '.' : ',');
      return '.' + enc(primitive(raw, name));
    }
    case 'matrix': {
      const key = enc(name);
      if (Array.isArray(raw)) {
        return explode ? raw.map((v) => `;${key}=${enc(primitive(v, name))}`).join('') : `;${key}=${raw.map((v) => enc(primitive(v, name))).join(',')}`;
      }
      if (isRecord(raw)) {
        return explode
          ? pairs(raw, name).map(([k, v]) => `;${enc(k)}=${enc(v)}`).join('')
          : `;${key}=${pairs(raw, name).map(([k, v]) => `${enc(k)},${enc(v)}`).join(',')}`;
      }
      const text = primitive(raw, name);
      return text === '' ? `;${key}` : `;${key}=${enc(text)}`;
    }
    default: {
      // simple
      if (Array.isArray(raw)) return raw.map((v) => enc(primitive(v, name))).join(',');
      if (isRecord(raw)) return pairs(raw, name).map(([k, v]) => (explode ? `${enc(k)}=${enc(v)}` : `${enc(k)},${enc(v)}`)).join(',');
      return enc(primitive(raw, name));
    }
  }
}

/**
 * The `name=value` pairs of a query (or form body) parameter, encoded; `&`-joined by the caller.
 * `undefined` sends nothing; `null` sends an empty value.
 */
export function queryPairs(
  name: string,
  value: unknown,
  style: ParameterStyle,
  explode: boolean,
  allowReserved = false,
  contentType?: string,
): string[] {
  if (value === undefined) return [];
  const key = encodeStrict(name);
  const enc = (v: string) => encodeQueryValue(v, allowReserved);
  if (contentType !== undefined) return [`${key}=${enc(JSON.stringify(value))}`];
  if (Array.isArray(value)) {
    const items = value.map((v) => enc(primitive(v, name)));
    switch (style) {
      case 'spaceDelimited':
        return explode ? items.map((v) => `${key}=${v}`) : [`${key}=${items.join('%20')}`];
      case 'pipeDelimited':
        return explode ? items.map((v) => `${key}=${v}`) : [`${key}=${items.join('|')}`];
      case 'tabDelimited':
        return [`${key}=${items.join('%09')}`];
      default:
        return explode ? items.map((v) => `${key}=${v}`) : [`${key}=${items.join(',')}`];
    }
  }
  if (isRecord(value)) {
    if (style === 'deepObject') return deepObject(key, value, enc);
    const entries = pairs(value, name);
    if (explode) return entries.map(([k, v]) => `${encodeStrict(k)}=${enc(v)}`);
    const joiner = style === 'spaceDelimited' ? '%20' : style === 'pipeDelimited' ? '|' : ',';
    return [`${key}=${entries.map(([k, v]) => `${enc(k)}${joiner}${enc(v)}`).join(joiner)}`];
  }
  return [`${key}=${enc(primitive(value, name))}`];
}

/** `filter[status]=open&filter[owner][id]=7` (nested objects nest the brackets). */
function deepObject(prefix: string, value: Record<string, unknown>, enc: (v: string) => string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const key = `${prefix}[${encodeStrict(k)}]`;
    if (isRecord(v)) out.push(...deepObject(key, v, enc));
    else if (Array.isArray(v)) out.push(...v.map((item) => `${key}[]=${enc(primitive(item, k))}`));
    else out.push(`${key}=${enc(primitive(v, k))}`);
  }
  return out;
}

/** A header parameter's value (`simple` style); refuses what would split or end the header. */
export function headerValue(param: ParameterSpec, value: unknown): string {
  const raw = param.contentType ? JSON.stringify(value) : value;
  let text: string;
  if (Array.isArray(raw)) text = raw.map((v) => primitive(v, param.name)).join(',');
  else if (isRecord(raw)) text = pairs(raw, param.name).map(([k, v]) => (param.explode ? `${k}=${v}` : `${k},${v}`)).join(',');
  else text = primitive(raw, param.name);
  assertHeaderSafe(param.name, text);
  return text;
}

export function assertHeaderSafe(name: string, text: string): void {
  if (/[\r\n\0]/.test(text)) throw new ArgumentError(`header ${JSON.stringify(name)}: line breaks and NUL are not allowed in a header value`);
  if (/[^\t\x20-\x7e\x80-\xff]/.test(text)) throw new ArgumentError(`header ${JSON.stringify(name)}: the value has characters a header cannot carry`);
}

/** A cookie parameter as `name=value` (`form` style; values percent-encoded). */
export function cookiePair(param: ParameterSpec, value: unknown): string {
  const raw = param.contentType ? JSON.stringify(value) : value;
  let text: string;
  if (Array.isArray(raw)) text = raw.map((v) => encodeStrict(primitive(v, param.name))).join(',');
  else if (isRecord(raw)) text = pairs(raw, param.name).map(([k, v]) => `${encodeStrict(k)},${encodeStrict(v)}`).join(',');
  else text = encodeStrict(primitive(raw, param.name));
  return `${encodeStrict(param.name)}=${text}`;
}

function pairs(value: Record<string, unknown>, name: string): Array<[string, string]> {
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, primitive(v, `${name}.${k}`)]);
}
