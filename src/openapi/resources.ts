import { baseType, bodyKind } from './operations.js';
import type { OpenApiTool, OperationFilter } from './tools.js';

/** A GET operation served as an MCP resource (or resource template, when its path has variables). */
export interface OpenApiResource {
  /** The tool's name. */
  name: string;
  /** `{scheme}://pets/{petId}`: the operation's path under the resource scheme. */
  uri: string;
  tool: OpenApiTool;
  /** URI template variable → tool argument. */
  variables: Map<string, string>;
  mimeType?: string;
}

/**
 * Which tools can be resources: GET operations without a body whose required parameters all
 * sit in the path (optional query parameters are left out of the resource). Their URI is the
 * path under `scheme`, path parameters as template variables.
 */
export function mapResources(tools: readonly OpenApiTool[], scheme: string, filter: OperationFilter | undefined): OpenApiResource[] {
  const resources: OpenApiResource[] = [];
  const uris = new Set<string>();
  for (const tool of tools) {
    const op = tool.operation;
    if (op.method !== 'get' || op.body !== undefined) continue;
    if (op.parameters.some((p) => p.required && p.in !== 'path')) continue;
    if (filter && !matches(filter, tool)) continue;
    const variables = new Map<string, string>();
    const taken = new Set<string>();
    let ok = true;
    const path = op.path.replace(/\{([^{}]+)\}/g, (_whole, name: string) => {
      const binding = tool.input.bindings.find((b) => b.kind === 'param' && b.param.in === 'path' && b.param.name === name);
      if (!binding) ok = false;
      let variable = name.replace(/[^A-Za-z0-9_]/g, '_') || 'v';
      while (taken.has(variable)) variable += '_';
      taken.add(variable);
      variables.set(variable, binding?.arg ?? name);
      return `{${variable}}`;
    });
    const uri = `${scheme}://${path.replace(/^\/+/, '')}`;
    if (!ok || uris.has(uri)) continue;
    uris.add(uri);
    const mimeType = mimeTypeOf(tool);
    resources.push({ name: tool.name, uri, tool, variables, ...(mimeType === undefined ? {} : { mimeType }) });
  }
  return resources;
}

/** A URI scheme from a server name (`my_api` → `my-api`). */
export function resourceScheme(name: string): string {
  const scheme = name.toLowerCase().replace(/[^a-z0-9+.-]+/g, '-').replace(/^[^a-z]+/, '');
  return scheme === '' ? 'openapi' : scheme;
}

function matches(filter: OperationFilter, tool: OpenApiTool): boolean {
  const op = tool.operation;
  const ids = [op.operationId, tool.name, op.key].filter((v): v is string => v !== undefined);
  if (filter.includeTags && !op.tags.some((t) => filter.includeTags!.includes(t))) return false;
  if (filter.excludeTags && op.tags.some((t) => filter.excludeTags!.includes(t))) return false;
  if (filter.includeOperations && !filter.includeOperations.some((e) => ids.includes(e))) return false;
  if (filter.excludeOperations && filter.excludeOperations.some((e) => ids.includes(e))) return false;
  return filter.predicate ? filter.predicate(op) : true;
}

function mimeTypeOf(tool: OpenApiTool): string | undefined {
  const types = tool.operation.responses
    .filter((r) => /^2(\d\d|XX)$/i.test(r.status))
    .flatMap((r) => r.contents.map((c) => baseType(c.mediaType)))
    .filter((t) => !t.includes('*'));
  return types.find((t) => bodyKind(t) === 'json') ?? types[0];
}
